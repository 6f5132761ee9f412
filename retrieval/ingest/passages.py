"""Split an article into overlapping passages that fit the embedding model."""

from __future__ import annotations

import re
from collections.abc import Callable

from retrieval.text.sentences import sentence_spans
from retrieval.types import PassageSpan

TokenCount = Callable[[str], int]
"""Tokens the model sees for a text, special tokens included."""

SPECIAL_TOKENS = 2  # [CLS] and [SEP], counted once per model input


def embedding_input(title: str, passage: str) -> str:
    """What the model embeds for a passage: the title gives context to short passages."""
    return f"{title}\n{passage}"


def split_passages(
    title: str, text: str, count_tokens: TokenCount, max_tokens: int
) -> list[PassageSpan]:
    """Pack whole sentences into passages of at most ``max_tokens`` model tokens.

    The count includes the title prepended by :func:`embedding_input`, so nothing is
    truncated by the model. Consecutive passages share their boundary sentence. A
    sentence too long on its own is cut at word boundaries into pieces that fit.

    Args:
        title: the article's title, prepended to every passage when embedded.
        text: the article's text; spans are offsets into it.
        count_tokens: the model tokenizer's count.
        max_tokens: the model's input limit.

    Returns:
        Spans covering every sentence of ``text``, in order.
    """
    budget = max_tokens - (count_tokens(title) - SPECIAL_TOKENS) - SPECIAL_TOKENS - 1
    if budget < 8:
        # a pathological title: embed passages without it rather than with no room left
        budget = max_tokens - SPECIAL_TOKENS - 1
    pieces = _fitting_pieces(text, count_tokens, budget)
    passages: list[PassageSpan] = []
    index = 0
    while index < len(pieces):
        start, end, used = pieces[index][0], pieces[index][1], pieces[index][2]
        last = index
        while last + 1 < len(pieces) and used + pieces[last + 1][2] <= budget:
            last += 1
            end, used = pieces[last][1], used + pieces[last][2]
        passages.append(PassageSpan(start, end))
        if last + 1 >= len(pieces):
            break
        # overlap by one sentence when the next passage can hold it and something new
        overlap = last > index and pieces[last][2] + pieces[last + 1][2] <= budget
        index = last if overlap else last + 1
    return passages


def _fitting_pieces(text: str, count_tokens: TokenCount, budget: int) -> list[tuple[int, int, int]]:
    """(start, end, tokens) for each sentence, long sentences cut into pieces within budget."""
    pieces: list[tuple[int, int, int]] = []
    for start, end in sentence_spans(text):
        tokens = count_tokens(text[start:end]) - SPECIAL_TOKENS
        if tokens <= budget:
            pieces.append((start, end, tokens))
        else:
            pieces.extend(_cut_long_sentence(text, start, end, count_tokens, budget))
    return pieces


def _cut_long_sentence(
    text: str, start: int, end: int, count_tokens: TokenCount, budget: int
) -> list[tuple[int, int, int]]:
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    pieces: list[tuple[int, int, int]] = []
    first = 0
    while first < len(words):
        last = first
        tokens = count_tokens(text[words[first][0] : words[first][1]]) - SPECIAL_TOKENS
        while last + 1 < len(words):
            candidate = count_tokens(text[words[first][0] : words[last + 1][1]]) - SPECIAL_TOKENS
            if candidate > budget:
                break
            last, tokens = last + 1, candidate
        pieces.append((words[first][0], words[last][1], tokens))
        first = last + 1
    return pieces
