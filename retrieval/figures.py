"""Sources that give different figures for the same "how many" question.

News tolls change: an early report says "at least 12 dead", a later one "31". When
the shown passages of different articles each hold a figure in a sentence that is
about the question, and the figures differ, the answer lists every source's figure,
newest report first, so the reader sees that the sources disagree and which is latest.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from retrieval.highlight import best_phrase
from retrieval.questions import AnswerKind
from retrieval.ranking import fold_terms, term_rarity, weighted_share
from retrieval.sentences import sentence_spans
from retrieval.types import FigureReport, ScoredPassage

MIN_COVERAGE = 0.6
"""A figure counts only in a sentence holding this share of the question's terms, weighted
by their rarity among the shown sentences."""

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


def conflicting_figures(
    question: str, passages: tuple[ScoredPassage, ...]
) -> tuple[FigureReport, ...]:
    """One figure per source (its best passage), newest first, when they do not all agree."""
    weights = question_weights(question, passages)
    reports: list[tuple[FigureReport, float]] = []
    seen: set[int] = set()
    for index, passage in enumerate(passages):
        if passage.article_id in seen:
            continue
        found = _passage_figure(question, weights, passage.text)
        if found is None:
            continue
        seen.add(passage.article_id)
        phrase, value = found[:2]
        reports.append((FigureReport(phrase, index, passage.citation), value))
    if len({value for _, value in reports}) < 2:
        return ()
    oldest = datetime.min.replace(tzinfo=UTC)
    reports.sort(key=lambda item: item[0].citation.published_at or oldest, reverse=True)
    return tuple(report for report, _ in reports)


def question_weights(question: str, passages: tuple[ScoredPassage, ...]) -> dict[str, float]:
    """The question's terms weighted by rarity among the passages' sentences."""
    sentences = [
        fold_terms(passage.text[start:end])
        for passage in passages
        for start, end in sentence_spans(passage.text)
    ]
    return term_rarity(fold_terms(question), sentences)


def figure_in(
    question: str, text: str, weights: dict[str, float]
) -> tuple[str, tuple[int, int]] | None:
    """The sentence of ``text`` whose figure best answers the question, and the figure's span."""
    found = _passage_figure(question, weights, text)
    return (found[2], found[3]) if found else None


def _passage_figure(
    question: str, weights: dict[str, float], text: str
) -> tuple[str, float, str, tuple[int, int]] | None:
    """(figure, its value, its sentence, its span in the sentence) best answering in ``text``.

    Only sentences holding most of the question's weighted terms count: the rare ones
    ("Arlington", "Kinross") say which event it is, so another plant's or mine's figure
    is not taken for a disagreement.
    """
    best: tuple[float, str, float, str, tuple[int, int]] | None = None
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        coverage = weighted_share(weights, fold_terms(sentence))
        if coverage < MIN_COVERAGE:
            continue
        phrase = best_phrase(sentence, question, AnswerKind.COUNT)
        if phrase is None:
            continue
        span, fit = phrase
        words = sentence[span[0] : span[1]]
        value = figure_value(words)
        if value is None:
            continue
        score = coverage + 0.05 * fit
        if best is None or score > best[0]:
            best = (score, words, value, sentence, span)
    return best[1:] if best else None
