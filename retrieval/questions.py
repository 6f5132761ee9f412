"""What kind of answer a question asks for."""

from __future__ import annotations

import re
from enum import Enum


class AnswerKind(Enum):
    """The kind of phrase that answers a question."""

    COUNT = "count"
    DATE = "date"
    WHO = "who"
    WHERE = "where"
    OTHER = "other"


_KIND_PATTERNS: tuple[tuple[AnswerKind, re.Pattern[str]], ...] = (
    (
        AnswerKind.COUNT,
        re.compile(
            r"\b(how (many|much)|what (number|percentage|share|proportion|amount|total|price|"
            r"figure|rate|death toll|toll)|how (large|big|high|long|far|old)|what was the "
            r"(value|cost|toll))\b",
            re.I,
        ),
    ),
    (
        AnswerKind.DATE,
        re.compile(r"\b(when|what (year|date|day|month|time)|which (year|day|month|date))\b", re.I),
    ),
    (
        AnswerKind.WHERE,
        re.compile(
            r"\b(where|in what (country|city|town|region|place)|which (country|city|town|region|state|province|port))\b",
            re.I,
        ),
    ),
    (
        AnswerKind.WHO,
        re.compile(
            r"\b(who|whom|whose|which (company|firm|group|organi[sz]ation|bank|party|team|agency|person|official|minister))\b",
            re.I,
        ),
    ),
)


def answer_kind(question: str) -> AnswerKind:
    """The kind of answer ``question`` asks for; OTHER when unclear."""
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(question):
            return kind
    return AnswerKind.OTHER
