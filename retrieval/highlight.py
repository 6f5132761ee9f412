"""Find the phrase inside an answer sentence that answers the question.

Only offsets are returned: the quoted words themselves are never changed. Candidates
come from patterns for the kind of answer asked for (a count or amount, a date, a
name, a place); each is scored by the question's words around it, and a phrase that
merely repeats the question ("Astel County" for "Who is ... of Astel County?") is
never the answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from retrieval.lexical import tokenize
from retrieval.questions import AnswerKind, asked_noun, counted_noun

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|thousand|million|billion|dozens?|scores?|hundreds|thousands"
)
_SCALE = r"mln|million|bln|billion|trillion|thousand|m|bn|k"
_PERCENT = r"%|pct|per cent|percent"
_NUMBER = (
    rf"(?:[$£€]\s?)?(?:\d[\d,]*(?:\.\d+)?(?:-\d/\d)?(?![\d.,-]\d|\d|(?:st|nd|rd|th|am|pm)\b)"
    rf"|(?:{_NUMBER_WORDS})\b(?:[\s-]+(?:and\s+)?(?:{_NUMBER_WORDS})\b)*)"
    rf"(?:\s?(?:{_PERCENT}|{_SCALE})\b)?"
)
_QUALIFIER = (
    r"(?:(?:at least|at most|about|around|almost|nearly|more than|less than|fewer than|over|"
    r"under|some|up to|roughly|approximately|an estimated|a total of)\s+)?"
)
_FUNCTION_WORDS = (
    r"and|or|in|on|at|of|the|a|an|to|from|for|by|with|as|than|into|after|before|since|over|"
    r"under|per|was|were|is|are|be|been|had|has|have|will|would|could|can|may|said|says|that|"
    r"which|who|when|while|more|less|fewer|each|its|their|his|her|this|these|those|last|next|"
    r"against|including|between|during|up|down|out|off|about|around|amid|"
    r"rose|rise|rises|risen|fell|fall|falls|fallen|climbed|jumped|dropped|increased|decreased|"
    r"grew|reached"
)
_NOUN_WORD = rf"(?!(?:{_FUNCTION_WORDS})\b)[A-Za-z][\w-]*(?:\.[A-Za-z]+)*\.?(?<!ing)(?<!ed)(?!\w)"
"""A word that may name what a figure counts: not a function word, an -ing or -ed verb."""
_NOUNS = rf"(?:\s+{_NOUN_WORD}){{0,2}}"
_ONE_NOUN = rf"(?:\s+{_NOUN_WORD})?"
_RATE = r"(?:\s+(?:per|a|an)\s+(?:day|week|month|year|hour|share|head|person|tonne|barrel))?"
_SHARE_OF = rf"\s+of\s+(?:the\s+)?[\w-]+(?:'s|’s)\s+{_NUMBER}{_ONE_NOUN}"
_QUANTITY = re.compile(
    rf"(?<![\w£$€/.-]){_QUALIFIER}{_NUMBER}(?:{_SHARE_OF}|{_NOUNS}{_RATE})"
    rf"(?:\s+and\s+{_NUMBER}{_ONE_NOUN})?",
    re.IGNORECASE,
)
_YEAR_ONLY = re.compile(r"^(?:1[89]|20)\d\d(?:/\d\d)?$")

_MONTHS = (
    r"January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec"
)
_WEEKDAY = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = re.compile(
    rf"\b(?:(?:around|about|by|until|before|after|from|early|mid|late)[\s-]+)?(?:(?:{_WEEKDAY}),?\s+)?"
    rf"(?:(?:{_DAY}\s+(?:{_MONTHS})\.?(?:,?\s+\d{{4}})?)|"
    rf"(?:(?:{_MONTHS})\.?\s+{_DAY}(?:\s*(?:-|to|and)\s*{_DAY})?(?:,?\s+\d{{4}})?)|"
    rf"(?:(?:{_MONTHS})(?:\s+\d{{4}})?)|(?:{_WEEKDAY})|(?:(?:1[89]|20)\d\d)|"
    r"(?:(?:last|next|this)\s+(?:week|month|year)))\b"
)
_NAME_WORD = r"(?:[A-Z][\w'’.-]*|al-[A-Z][\w-]*)"
_NAME = re.compile(rf"\b{_NAME_WORD}(?:\s+(?:(?:of|de|van|von|al|bin|du|la|le)\s+)?{_NAME_WORD})*")
_SENTENCE_OPENERS = (
    "The A An He She It They We I This That These Those But And Or If In On At For From To "
    "By With As After Before When While Its His Her Their Our Mr Mrs Ms"
)
_NOT_NAMES = frozenset(_SENTENCE_OPENERS.split()) | frozenset(
    re.sub(r"[^\w|]", "", _MONTHS + "|Sep|" + _WEEKDAY).split("|")
)
_GEO_NOUNS = (
    r"village|town|city|district|province|region|county|state|port|area|suburb|island|valley|"
    r"neighbourhood|neighborhood|parish|municipality"
)
_PLACE_AFTER_PREPOSITION = re.compile(
    r"\b(?:in|at|near|from|to|outside|across|inside|within|around|below|above|off)\s+"
    r"(?:the\s+)?(?:[a-z][\w-]*\s+){0,2}?"
    rf"(?P<place>{_NAME_WORD}(?:\s+(?:of\s+)?{_NAME_WORD})*(?:\s+(?:{_GEO_NOUNS})\b)?)"
)
_PLACE_NAMED = re.compile(rf"\b(?:{_GEO_NOUNS}) of (?P<place>{_NAME_WORD}(?:\s+{_NAME_WORD})*)")
_PLACE_DISTANCE = re.compile(
    r"(?P<place>\d[\d,.]*\s*(?:kms?|kilometres|kilometers|miles|metres|meters)\s+"
    r"(?:north|south|east|west|north-east|north-west|south-east|south-west|northeast|"
    rf"northwest|southeast|southwest)\s+of\s+{_NAME_WORD}(?:\s+{_NAME_WORD})*)"
)
_PERSON_NOUNS = (
    "people persons dead victims bodies residents passengers workers soldiers civilians "
    "children men women miners staff employees members spectators students patients pupils "
    "tourists refugees migrants firefighters police officers crew casualties injured fans"
)
_ROLES = (
    "minister secretary chairman chairwoman president director executive spokesman "
    "spokeswoman spokesperson leader manager officer judge mayor"
)
_ROLE_STEMS = frozenset(tokenize([_ROLES])[0])
_PERSON_STEMS = frozenset(tokenize([_PERSON_NOUNS])[0])
"""What "how many people" may count: "12 dead", "53 soldiers", not "two villages"."""
_FOLLOWING = re.compile(
    rf"(?:\s+(?!(?:{_FUNCTION_WORDS})\b)[A-Za-z][\w-]*(?<!ed)(?!\w)){{0,2}}", re.IGNORECASE
)
"""Up to two words after a bare figure, to see what it counts ("two neighbouring villages")."""
_WHAT = re.compile(r"\s*(?:what|which)\b", re.IGNORECASE)
_LEAD_IN = re.compile(r"(?:by|that|to|was|were|is|are)\s+", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[,;:.!?]|\s(?:as|while|which|after|before|because|but)\s")
_NOUN_WINDOW = 48
"""Characters either side of a phrase searched for the noun the question asks about."""
_AFTER_MONTH = re.compile(rf"\b(?:{_MONTHS})\.?\s+$")
_AGE = re.compile(r"[A-Z][\w'’-]*,\s*$")
_LOCATIVE = frozenset({"of", "in", "at", "near", "from", "to", "on"})
_MONEY = re.compile(
    r"[$£€¥]|\b(?:dlrs?|dollars?|stg|sterling|pounds?|pence|euros?|yen|marks|francs|dinars|"
    r"rupees|lire|pesos|crowns|kronor|cents?)\b",
    re.IGNORECASE,
)
_MONEY_QUESTION = re.compile(
    r"\b(?:cost|price|pay|paid|paying|spend|spent|lend|lent|borrow|raise|earn|invest|worth|"
    r"fine|fee|profit|revenue|sales|loss|losses|deficit|surplus|budget|debt|earnings|income|"
    r"salary|wage|dividend|investment|spending|damage|damages|value|premium|loan|loans|"
    r"bid|offer|fund|funding|grant)\b",
    re.IGNORECASE,
)
_UNITS = {
    "long": r"km|kms|kilometres?|kilometers?|miles?|metres?|meters?|feet|foot|yards?|"
    r"days?|weeks?|months?|years?|hours?|minutes?|seconds?",
    "far": r"km|kms|kilometres?|kilometers?|miles?|metres?|meters?",
    "high": r"metres?|meters?|feet|foot|m|ft",
    "deep": r"metres?|meters?|feet|foot|m|ft",
    "wide": r"metres?|meters?|feet|foot|km|kms|kilometres?|miles?",
    "old": r"years?|months?",
    "large": r"hectares?|acres?|square|sq|km2",
}
_HOW_ADJECTIVE = re.compile(r"\bhow (long|far|high|deep|wide|old|large|big)\b", re.IGNORECASE)
_PERCENT_QUESTION = re.compile(
    r"percent|per cent|percentage|pct|rate|share|proportion|turnout|by how much|inflation|"
    r"growth|interest|%|ris[ei]|rose|f[ae]ll|increas|decreas|gr[eo]w|jump|drop|climb|gain|chang",
    re.IGNORECASE,
)


def highlight(sentence: str, question: str, kind: AnswerKind) -> tuple[int, int] | None:
    """(start, end) of the answering phrase inside ``sentence``, or None when unclear."""
    found = best_phrase(sentence, question, kind)
    return found[0] if found else None


def best_phrase(
    sentence: str, question: str, kind: AnswerKind
) -> tuple[tuple[int, int], float] | None:
    """The answering phrase's span and how well it fits the question (0 or more), or None.

    A phrase that only repeats the question, or fits it poorly (a figure of something
    else than what is counted), is never returned.
    """
    question_terms = set(tokenize([question])[0])
    if kind is AnswerKind.OTHER:
        span = _what_follows(sentence, question_terms) if _WHAT.match(question) else None
        return (span, 0.0) if span else None
    counted = counted_noun(question) if kind is AnswerKind.COUNT else None
    asked = None if counted else asked_noun(question, kind)
    scored: list[tuple[tuple[int, int], float]] = []
    for span, prior in _candidates(sentence, question, kind, counted):
        context = _context(sentence, span, question_terms, kind, asked or counted)
        if context is None:
            continue  # the phrase only repeats the question
        fit = prior + context + _near_asked_noun(sentence, span, asked, kind)
        if fit >= 0:
            scored.append((span, fit))
    if not scored:
        return None
    return max(scored, key=lambda item: (item[1], -item[0][0]))


def _near_asked_noun(
    sentence: str, span: tuple[int, int], asked: str | None, kind: AnswerKind
) -> float:
    """A bonus when the noun the question asks about is in the same stretch ("Turnout was
    38.6 per cent", "Agriculture Minister Colin Moyle"); for a role ("which minister") a
    name without it is likely someone else."""
    if asked is None:
        return 0.0
    start, end = span
    if kind is AnswerKind.WHO and asked in _ROLE_STEMS:
        # "which minister": a name that is not a minister's is not the answer
        return 2.0 if _holds_role(sentence, span, asked) else -math.inf
    nearby = sentence[max(0, start - _NOUN_WINDOW) : end + _NOUN_WINDOW]
    if asked in tokenize([nearby])[0]:
        return 2.0 if kind is AnswerKind.COUNT else 1.0
    return 0.0


def _holds_role(sentence: str, span: tuple[int, int], role: str) -> bool:
    """The role is the name's: in it ("Finance Minister X"), just before it ("chairman, X")
    or in an apposition after it ("X, the chief fire officer"), not another name's title."""
    start, end = span
    if role in tokenize([sentence[max(0, start - 30) : end]])[0]:
        return True
    words = re.findall(r"[\w'’-]+", sentence[end : end + 48])
    for index, word in enumerate(words):
        if role in tokenize([word])[0]:
            following = words[index + 1] if index + 1 < len(words) else ""
            return not following[:1].isupper()  # "Minister Roger Douglas": his title
    return False


def _candidates(
    sentence: str, question: str, kind: AnswerKind, noun: str | None
) -> Iterator[tuple[tuple[int, int], float]]:
    """(span, prior) of each phrase of the kind asked for."""
    if kind is AnswerKind.COUNT:
        yield from _quantities(sentence, question, noun)
    elif kind is AnswerKind.DATE:
        for match in _DATE.finditer(sentence):
            yield match.span(), _date_prior(match.group(0))
    elif kind is AnswerKind.WHERE:
        for match in _PLACE_DISTANCE.finditer(sentence):
            yield _trim(sentence, *match.span("place")), 1.5
        for match in _PLACE_NAMED.finditer(sentence):
            yield _trim(sentence, *match.span("place")), 1.0
        for match in _PLACE_AFTER_PREPOSITION.finditer(sentence):
            if match.group("place").split()[0] not in _NOT_NAMES:
                yield _trim(sentence, *match.span("place")), 0.5
        for span in _names(sentence):
            yield span, 0.0
    elif kind is AnswerKind.WHO:
        for span in _names(sentence):
            preceding = [w.lower() for w in sentence[: span[0]].split()]
            while preceding and preceding[-1] in {"the", "a", "an"}:
                preceding.pop()
            locative = bool(preceding) and preceding[-1] in _LOCATIVE
            possessive = sentence[span[1] : span[1] + 2] in {"'s", "’s"}
            # a name opening the sentence is its subject: "X has been elected", "X headed"
            yield span, -0.5 * locative - 1.0 * possessive + (0.5 if not preceding else 0.0)


def _quantities(
    sentence: str, question: str, noun: str | None
) -> Iterator[tuple[tuple[int, int], float]]:
    """(span, prior) of each figure; ``noun`` is what a "how many" question counts."""
    wants_percent = bool(_PERCENT_QUESTION.search(question))
    # "how much did it cost" wants money; "how long is the cable" a length
    wants_money = noun is None and bool(_MONEY_QUESTION.search(question))
    adjective = _HOW_ADJECTIVE.search(question)
    units = _UNITS.get(adjective.group(1).lower()) if adjective and not wants_money else None
    for match in _QUANTITY.finditer(sentence):
        start, end = _trim(sentence, *match.span())
        text = sentence[start:end]
        number = re.sub(_QUALIFIER, "", text, count=1, flags=re.IGNORECASE)
        if not re.search(r"\d|" + _NUMBER_WORDS, text, re.IGNORECASE):
            continue
        if _YEAR_ONLY.match(number):
            continue  # a bare year is not a count
        if number.isdigit() and _AGE.search(sentence[:start]) and sentence[end : end + 1] == ",":
            continue  # "Siddiqui, 44, is ...": an age
        if _AFTER_MONTH.search(sentence[:start]):
            continue  # "December 31": a date
        if re.search(_PERCENT, text, re.IGNORECASE) and not wants_percent:
            continue  # "how much" asks for an amount, not a percentage
        prior = 0.25 if any(ch.isdigit() for ch in text) else 0.0
        if wants_money:
            prior += 1.0 if _MONEY.search(text) else -1.0
        if units is not None:
            has_unit = re.search(rf"\d\s*(?:{units})\b", text, re.IGNORECASE)
            prior += 1.5 if has_unit else -1.0
        if noun is not None:
            if _MONEY.search(text):
                continue  # "how many dead": not "£4 million"
            # "how many terns": "42 terns" answers, "70,000 kilometres" does not
            following = _FOLLOWING.match(sentence, end)
            nouns = _nouns(number) or _nouns(following.group(0) if following else "")
            people = noun in _PERSON_STEMS  # "how many dead" counts people too
            wanted = _PERSON_STEMS if people else {noun}
            if nouns & wanted:
                prior += 1.0 if people else 1.5
            elif nouns:
                prior -= 2.0
        yield (start, end), prior


def _what_follows(sentence: str, question_terms: set[str]) -> tuple[int, int] | None:
    """For "What did X demand?": the words after one of the question's words in the
    sentence, up to the end of the clause ("will demand [a ban on ...] as its price"),
    holding none of the question's words (they are what the question lacks); the latest
    such clause wins."""
    words = list(re.finditer(r"[\w'’-]+", sentence))
    matched = [i for i, w in enumerate(words) if set(tokenize([w.group(0)])[0]) & question_terms]
    for index in reversed(matched):
        if index + 1 >= len(words):
            continue
        start = words[index + 1].start()
        lead = _LEAD_IN.match(sentence, start)
        if lead:
            start = lead.end()
        boundary = _CLAUSE_END.search(sentence, start)
        start, end = _trim(sentence, start, boundary.start() if boundary else len(sentence))
        phrase = sentence[start:end]
        if 2 <= len(phrase.split()) <= 20 and not set(tokenize([phrase])[0]) & question_terms:
            return start, end
    return None


def _nouns(text: str) -> set[str]:
    """The terms of ``text`` that are neither numbers nor number words."""
    return {
        term
        for term in tokenize([text])[0]
        if not any(ch.isdigit() for ch in term)
        and not re.fullmatch(rf"{_SCALE}|{_NUMBER_WORDS}", term, re.IGNORECASE)
    }


def _date_prior(text: str) -> float:
    """Specific dates first: a day of a month, then a month or year, then a weekday."""
    has_digit = any(ch.isdigit() for ch in text)
    has_month = re.search(_MONTHS, text) is not None
    if has_digit and has_month:
        return 1.0
    if has_month or has_digit:
        return 0.5
    return 0.0


def _names(sentence: str) -> Iterator[tuple[int, int]]:
    """Spans of runs of capitalised words, sentence openers and dates aside."""
    for match in _NAME.finditer(sentence):
        start, end = _trim(sentence, *match.span())
        words = sentence[start:end].split()
        while words and words[0] in _NOT_NAMES:
            start += len(words[0]) + 1
            words = words[1:]
        if not words:
            continue
        if start == 0 and len(words) == 1 and words[0].istitle():
            continue  # a capitalised first word is usually not a name
        if len(words) == 1 and len(words[0].rstrip(".")) == 1:
            continue  # a lone letter ("C/2024 P3") is a designation, not a name
        yield start, end


def _trim(sentence: str, start: int, end: int) -> tuple[int, int]:
    """Drop trailing punctuation (keeping "%" and an initial's dot) and a possessive "'s"."""
    while end > start and not sentence[end - 1].isalnum() and sentence[end - 1] != "%":
        initial = sentence[end - 1] == "." and end - start >= 2 and sentence[end - 2].isupper()
        if initial and (end - start == 2 or not sentence[end - 3].isalpha()):
            break  # an initial ("C.") or an abbreviation ("N.Z.")
        end -= 1
    for suffix in ("'s", "’s"):
        if sentence[start:end].endswith(suffix) and end - start > len(suffix):
            end -= len(suffix)
    return start, end


def _context(
    sentence: str,
    span: tuple[int, int],
    question_terms: set[str],
    kind: AnswerKind,
    asked: str | None = None,
) -> float | None:
    """Question words around the phrase; None when the phrase only repeats the question.

    For counts the words right after the figure matter most ("187 voted in favour");
    for names and places both sides count ("the chairman, Sir Malcolm Greaves" and
    "Dana Okafor, the chief fire officer"). A name's title or a place's kind ("minister",
    "lagoon") may repeat the question; its name may not.
    """
    start, end = span
    phrase_terms = set(tokenize([sentence[start:end]])[0])
    if kind is AnswerKind.COUNT:
        # the counted noun may repeat the question ("87 people"); the figure may not
        words = {t for t in phrase_terms if re.fullmatch(rf"\S*\d\S*|{_NUMBER_WORDS}", t)}
    else:
        kinds = _ROLE_STEMS | {asked}
        words = {t for t in phrase_terms if not t.isdigit() and t not in kinds}
        last = [t for t in tokenize([sentence[start:end]])[0] if t in words]
        if last and last[-1] in question_terms:
            return None  # "Finance Minister Roger Douglas" for a question naming Roger Douglas
    if words and words <= question_terms:
        return None
    repeated = len(words & question_terms) / len(words) if words else 0.0

    def shared(text: str) -> int:
        return len(question_terms & set(tokenize([text])[0]))

    width = 20 if kind is AnswerKind.COUNT else 32
    if kind is AnswerKind.COUNT:
        # a figure goes with the words of its own clause: "Of the 212 drivers balloted,
        # [187 voted in favour]"
        after = sentence[end : end + width].split(",")[0]
        before = sentence[max(0, start - width) : start].split(",")[-1]
        inside = shared(sentence[start:end]) - (asked in phrase_terms)  # noun scored apart
        return inside + shared(after) + 0.5 * shared(before)
    # a sentence's subject goes with its verb, often past an apposition ("X of the Y has been")
    reach = 2 * width if kind is AnswerKind.WHO and start == 0 else width
    after_terms = shared(sentence[end : end + reach])
    return after_terms + shared(sentence[max(0, start - width) : start]) - 2 * repeated
