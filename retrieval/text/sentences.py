"""Sentence boundaries as character offsets, so quotes stay the article's exact text."""

from __future__ import annotations

import re
from collections.abc import Iterator

# A boundary: sentence-final punctuation, optional closing quotes/brackets, white space,
# then something that can open a sentence. Paragraph breaks are always boundaries.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9À-Ý])")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "gov",
        "sen",
        "rep",
        "rev",
        "fig",
        "no",
        "vs",
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "u.n",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
    ]
)
_LAST_WORD = re.compile(r"([\w.]+)\.$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each sentence in ``text``, white space excluded."""
    spans: list[tuple[int, int]] = []
    for para_start, para_end in _paragraph_spans(text):
        spans.extend(_split_paragraph(text, para_start, para_end))
    return spans


def _paragraph_spans(text: str) -> Iterator[tuple[int, int]]:
    for match in re.finditer(r"[^\n]+", text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            yield start, end


def _split_paragraph(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    sentence_start = start
    for match in _BOUNDARY.finditer(text, start, end):
        candidate_end = match.start()
        # keep closing quotes with the sentence they close
        while candidate_end < match.end() and not text[candidate_end].isspace():
            candidate_end += 1
        if _ends_with_abbreviation(text[sentence_start:candidate_end]):
            continue
        yield sentence_start, candidate_end
        sentence_start = match.end()
    if sentence_start < end:
        yield sentence_start, end


def _ends_with_abbreviation(sentence: str) -> bool:
    stripped = sentence.rstrip("\"'”’)]")
    match = _LAST_WORD.search(stripped)
    if match is None:
        return False
    word = match.group(1).lower()
    if word in _ABBREVIATIONS:
        return True
    # initials such as "J." or "U.S."
    return bool(re.fullmatch(r"(?:[a-z]\.)*[a-z]", word))
