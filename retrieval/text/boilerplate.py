"""Boilerplate: sentences a publisher repeats across articles, never quoted as an answer.

Real news carries lines repeated across many articles of one publisher: bylines,
newsletter greetings, "contributed to this report", photo credits, subscription
prompts. They are found by corpus statistics, not by a list of phrases: a sentence
whose case- and space-folded text occurs in at least :data:`MIN_ARTICLES` distinct
articles of the same publisher is boilerplate. The index keeps one key per sentence
of every article (a short hash of publisher and folded text) and, after each reindex,
the set of keys that pass the threshold. The stored text stays whole; answering
only skips these sentences when it picks what to quote.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection

from retrieval.text.sentences import sentence_spans

MIN_ARTICLES = 3
"""Distinct articles of one publisher a sentence must appear in to be boilerplate. Two
could be one story filed twice; three is a habit of the publisher."""


def sentence_key(publisher: str | None, sentence: str) -> bytes:
    """The key of a sentence of this publisher: case and white space folded."""
    folded = " ".join(sentence.split()).lower()
    return hashlib.blake2b(f"{publisher or ''}\x00{folded}".encode(), digest_size=8).digest()


def article_keys(publisher: str | None, text: str) -> set[bytes]:
    """The distinct sentence keys of an article."""
    return {sentence_key(publisher, text[a:b]) for a, b in sentence_spans(text)}


def boilerplate_ranges(
    text: str, publisher: str | None, keys: Collection[bytes]
) -> tuple[tuple[int, int], ...]:
    """(start, end) of every sentence of ``text`` that is boilerplate for its publisher."""
    if not keys:
        return ()
    return tuple(
        (a, b) for a, b in sentence_spans(text) if sentence_key(publisher, text[a:b]) in keys
    )
