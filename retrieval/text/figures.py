"""The number a figure states, to tell sources that agree from sources that disagree.

News tolls change: an early report says "at least 12 dead", a later one "31". When the
reader's answers in different sources are figures of different values, the answer lists
every source's figure, newest report first (see :mod:`retrieval.answer.compose`).
"""

from __future__ import annotations

import re

_SCALES = {
    "hundred": 1e2,
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "mln": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bln": 1e9,
    "bn": 1e9,
    "trillion": 1e12,
}
_SMALL_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_TENS = "thirty forty fifty sixty seventy eighty ninety"
_WORD_VALUES = dict(zip(_SMALL_NUMBERS.split(), range(21), strict=True)) | dict(
    zip(_TENS.split(), range(30, 100, 10), strict=True)
)
_DIGITS = re.compile(r"\d[\d,]*(?:\.\d+)?")
_WORD = re.compile(r"[a-z]+")


def figure_value(phrase: str) -> float | None:
    """The number a figure phrase states ("at least 12 people" -> 12, "£40 million" -> 4e7)."""
    text = phrase.lower()
    match = _DIGITS.search(text)
    words = _WORD.findall(text[match.end() :] if match else text)
    if match:
        value = float(match.group(0).replace(",", ""))
        scale = _SCALES.get(words[0], 1.0) if words else 1.0
        return value * scale
    total, current, seen = 0.0, 0.0, False
    for word in words:
        if word in _WORD_VALUES:
            current += _WORD_VALUES[word]
            seen = True
        elif word in _SCALES and seen:
            current = max(current, 1.0) * _SCALES[word]
            if _SCALES[word] >= 1e3:
                total, current = total + current, 0.0
        elif seen and word != "and":
            break
    return total + current if seen else None
