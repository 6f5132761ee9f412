"""Find the phrase inside an answer sentence that answers the question.

Only offsets are returned: the quoted words themselves are never changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from retrieval.lexical import tokenize
from retrieval.questions import AnswerKind

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|thousand|million|billion|dozens?|scores?|hundreds|thousands"
)
_NUMBER = (
    rf"(?:[$£€]\s?)?(?:\d[\d,]*(?:\.\d+)?|(?:{_NUMBER_WORDS})(?:[\s-]+(?:and\s+)?(?:{_NUMBER_WORDS}))*)"
    r"(?:\s?(?:%|pct|per cent|percent|mln|million|bln|billion|trillion|thousand|m|bn|k)\b)?"
)
_QUALIFIER = (
    r"(?:(?:at least|at most|about|around|almost|nearly|more than|less than|fewer than|over|"
    r"under|some|up to|roughly|approximately|an estimated|a total of)\s+)?"
)
_NOUN = r"(?:\s+(?!and\b|or\b|in\b|on\b|at\b|of\b|the\b|was\b|were\b)[A-Za-z][\w-]*){0,2}"
_ONE_NOUN = r"(?:\s+(?!and\b|or\b|in\b|on\b|at\b|of\b|the\b)[A-Za-z][\w-]*)?"
_QUANTITY = re.compile(
    rf"\b{_QUALIFIER}{_NUMBER}{_NOUN}(?:\s+and\s+{_NUMBER}{_ONE_NOUN})?", re.IGNORECASE
)
_MONTHS = (
    r"January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec"
)
_DATE = re.compile(
    rf"\b(?:(?:\d{{1,2}}\s+(?:{_MONTHS})\.?(?:,?\s+\d{{4}})?)|(?:(?:{_MONTHS})\.?\s+\d{{1,2}}"
    rf"(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?)|(?:(?:early|mid|late)[\s-]+)?(?:{_MONTHS})(?:\s+\d{{4}})?|"
    r"(?:on\s+)?(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)|"
    r"(?:in\s+)?(?:1[89]|20)\d\d|(?:last|next|this)\s+(?:week|month|year))\b"
)
_NAME = re.compile(
    r"\b(?:[A-Z][\w'’.-]*|al-[A-Z][\w-]*)(?:\s+(?:(?:of|the|de|van|von|al|bin|for|and)\s+)?"
    r"(?:[A-Z][\w'’.-]*|al-[A-Z][\w-]*))*"
)
_PLACE = re.compile(
    r"\b(?:in|at|near|from|to|outside|across)\s+(?:the\s+)?(?P<place>[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*)"
)


def highlight(sentence: str, question: str, kind: AnswerKind) -> tuple[int, int] | None:
    """(start, end) of the answering phrase inside ``sentence``, or None when unclear."""
    found = best_phrase(sentence, question, kind)
    return found[0] if found else None


def best_phrase(
    sentence: str, question: str, kind: AnswerKind
) -> tuple[tuple[int, int], float] | None:
    """The answering phrase's span and how strongly the question's words surround it."""
    question_terms = set(tokenize([question])[0])
    scored = [
        (span, _score(sentence, span, question_terms, question))
        for span in _candidates(sentence, kind)
    ]
    if not scored:
        return None
    return max(scored, key=lambda item: item[1])


def _candidates(sentence: str, kind: AnswerKind) -> Iterator[tuple[int, int]]:
    if kind is AnswerKind.COUNT:
        for match in _QUANTITY.finditer(sentence):
            if re.search(r"\d|" + _NUMBER_WORDS, match.group(0), re.IGNORECASE):
                yield _trim(sentence, *match.span())
    elif kind is AnswerKind.DATE:
        for match in _DATE.finditer(sentence):
            yield match.span()
    elif kind is AnswerKind.WHERE:
        for match in _PLACE.finditer(sentence):
            yield match.span("place")
    elif kind is AnswerKind.WHO:
        for match in _NAME.finditer(sentence):
            if match.start() == 0 and " " not in match.group(0) and match.group(0).istitle():
                # a capitalised first word is usually not a name; keep multi-word names
                continue
            yield match.span()


def _trim(sentence: str, start: int, end: int) -> tuple[int, int]:
    while end > start and not sentence[end - 1].isalnum() and sentence[end - 1] not in "%":
        end -= 1
    return start, end


def _score(
    sentence: str, span: tuple[int, int], question_terms: set[str], question: str
) -> float:
    """Question words in and right after the phrase count most ("187 voted in favour")."""
    start, end = span
    phrase = sentence[start:end]
    if phrase.lower() in question.lower():
        return -1.0

    def shared(text: str) -> int:
        return len(question_terms & set(tokenize([text])[0]))

    after = sentence[end : end + 20]
    before = sentence[max(0, start - 20) : start]
    return shared(phrase) + shared(after) + 0.5 * shared(before) - start / 1000
