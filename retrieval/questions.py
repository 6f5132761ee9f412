"""What kind of answer a question asks for, and what a "how many" question counts."""

from __future__ import annotations

import re
from enum import Enum

from retrieval.lexical import tokenize


class AnswerKind(Enum):
    """The kind of phrase that answers a question."""

    COUNT = "count"
    DATE = "date"
    WHO = "who"
    WHERE = "where"
    OTHER = "other"


_QUANTITY_NOUNS = (
    r"number|percentage|share|proportion|amount|total|price|figure|rate|toll|death toll|value|"
    r"cost|turnout|profit|loss|losses|revenue|revenues|sales|deficit|surplus|budget|debt|"
    r"earnings|income|salary|wage|fine|fee|dividend|population|output|production|capacity|"
    r"margin|premium|investment|spending|damage|damages|distance|length|height|size|weight|"
    r"score|majority|attendance|crowd"
)
_PLACE_NOUNS = (
    r"country|city|town|village|district|region|county|state|province|port|place|area|"
    r"island|lagoon|lake|river|valley|street|suburb|neighbou?rhood|stadium|airport|venue"
)
_WHO_NOUNS = (
    r"company|firm|group|organi[sz]ation|bank|party|team|agency|person|official|minister|"
    r"secretary|chairman|chairwoman|president|director|executive|spokesman|spokeswoman|"
    r"spokesperson|leader|player|candidate|manager|officer|judge|author|scientist|"
    r"astronomer|researcher|teacher|mayor|club|union|government|broker|bidder|buyer|investor"
)
_FEW_WORDS = r"(?:[\w'’./-]+\s+){0,4}?"

_KIND_PATTERNS: tuple[tuple[AnswerKind, re.Pattern[str]], ...] = (
    (
        AnswerKind.COUNT,
        re.compile(
            rf"\b(how (many|much)|how (large|big|high|long|far|old|deep|wide|heavy)|"
            rf"what (?:(?:was|is|were|are|will be)\s+)?(?:the\s+|its\s+|their\s+)?"
            rf"(?:[\w-]+\s+){{0,2}}?(?:{_QUANTITY_NOUNS})\b|by how much)",
            re.I,
        ),
    ),
    (
        AnswerKind.DATE,
        re.compile(
            r"\b(when|(what|which) ((is|was|will be) )?(the )?([\w-]+ ){0,3}?"
            r"(year|date|day|month|time))\b",
            re.I,
        ),
    ),
    (
        AnswerKind.WHERE,
        re.compile(
            rf"\b(where|(in|near|at|from|to) (which|what)\b(?! (year|date|day|month|time)\b)|"
            rf"(which|what) {_FEW_WORDS}({_PLACE_NOUNS})s?)\b",
            re.I,
        ),
    ),
    (
        AnswerKind.WHO,
        re.compile(rf"\b(who|whom|whose|(which|what) {_FEW_WORDS}({_WHO_NOUNS}))\b", re.I),
    ),
)
_VERBS_AND_PREPOSITIONS = (
    "did do does were was are is have has had will would could can of in on at from for with to by"
)
_AFTER_COUNTED = frozenset(_VERBS_AND_PREPOSITIONS.split())
"""Words that end the counted phrase: "how many [gold miners] died / [bags] of cocoa"."""


def answer_kind(question: str) -> AnswerKind:
    """The kind of answer ``question`` asks for; OTHER when unclear."""
    matches = [
        (match.start(), order, kind)
        for order, (kind, pattern) in enumerate(_KIND_PATTERNS)
        if (match := pattern.search(question)) is not None
    ]
    if not matches:
        return AnswerKind.OTHER
    return min(matches, key=lambda item: (item[0], item[1]))[2]


_ASKED_NOUNS = {
    AnswerKind.COUNT: re.compile(rf"\b({_QUANTITY_NOUNS})\b", re.I),
    AnswerKind.WHERE: re.compile(rf"\b({_PLACE_NOUNS})\b", re.I),
    AnswerKind.WHO: re.compile(rf"\b({_WHO_NOUNS})\b", re.I),
}


def asked_noun(question: str, kind: AnswerKind) -> str | None:
    """The stem of the noun the answer should sit next to: "What was the turnout" -> "turnout",
    "Near which village" -> "villag", "Who is the chairman of..." -> "chairman"."""
    pattern = _ASKED_NOUNS.get(kind)
    matches = list(pattern.finditer(question)) if pattern else []
    if not matches:
        return None
    # a figure's head noun is the last ("budget deficit"); a role the first named
    # ("chairman, president and chief executive")
    match = matches[-1] if kind is AnswerKind.COUNT else matches[0]
    stems = tokenize([match.group(0)])[0]
    return stems[-1] if stems else None


def counted_noun(question: str) -> str | None:
    """The stem of what a "how many" question counts ("How many Arctic terns did..." -> "tern")."""
    match = re.search(r"\bhow many\b", question, re.I)
    if match is None:
        return None
    words = re.findall(r"[\w'’-]+", question[match.end() :])
    head: str | None = None
    for word in words[:5]:
        if word.lower() in _AFTER_COUNTED or (head is not None and word.lower().endswith("ed")):
            break  # "-ed": a verb such as "died" or "watched" follows the counted noun
        head = word
    if head is None:
        return None
    stems = tokenize([head])[0]
    return stems[0] if stems else None
