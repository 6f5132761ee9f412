"""From ranked, read passages to an answer: what to show, whether it is found, what to bold.

Everything here is plain computation on passages already retrieved and read; the
pipeline runs it in a worker thread. The reader's evidence decides:

* **order**: the passages it read come first, by its relevance plus a little of the
  retrieval score; newer reports of the same story first on near ties;
* **"not found"**: decided on the fixed set of passages it read, whatever number of
  passages the caller shows, from its answer evidence and the retrieval evidence;
* **the bold**: the best span of the first passage, bolded only when the reader's
  confidence in it passes the calibrated threshold (a wrong bold is worse than none);
* **disagreeing figures**: the reader's figure in each relevant source, newest first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from retrieval.answer.ranking import (
    NEWER_MARGIN,
    Scored,
    fold_terms,
    meaning,
    newer_first_on_ties,
    relevance,
    sentence_coverage,
)
from retrieval.models.reader import Reading
from retrieval.store.articles import PassageRecord
from retrieval.text.figures import figure_value
from retrieval.text.sentences import sentence_spans
from retrieval.types import Answer, AnswerSentence, Evidence, FigureReport, ScoredPassage

DIVERSITY_MARGIN = 0.15
"""A passage beyond an article's quota yields its place only to passages of other articles
scoring within this much of it: several sources appear when several are relevant, but a
clearly better passage is never replaced by a weak one from elsewhere."""
RETRIEVAL_WEIGHT = 2.0
"""Weight of the retrieval score (about 0.3 to 1.7) beside the reader's answer evidence
(0 to 1) when the read passages are re-ranked: the reader corrects retrieval's order
without overruling it (chosen on SQuAD's validation articles, bench/RESULTS.md)."""
READ_NEWER_MARGIN = RETRIEVAL_WEIGHT * NEWER_MARGIN + 0.25
"""The newer-first margin on the re-ranked scale: retrieval's margin, scaled, plus a
quarter of the reader's evidence."""
RELEVANT = 0.5
"""Reader relevance probability from which a passage counts as about the question."""
READER_SHARE = 0.7
"""Share of the reader's evidence in the "found" confidence; the rest is retrieval's
(chosen on the tuning sets, bench/RESULTS.md)."""
COVERAGE_CONFIDENCE = 0.5
"""Weight of question-term coverage in the retrieval evidence."""

_DATE_LIKE = re.compile(
    r"^\D*(?:1[89]|20)\d\d\D*$|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Candidate:
    """A retrieved passage with its retrieval scores.

    Attributes:
        record: the passage and its article.
        similarity: cosine similarity of question and passage vectors.
        lexical: BM25 score scaled so the question's best passage has 1 (0 when BM25
            did not return it).
        excluded: boilerplate stretches of the passage text, never quoted as the answer.
        collection: the collection it was found in.
    """

    record: PassageRecord
    similarity: float
    lexical: float = 0.0
    excluded: tuple[tuple[int, int], ...] = ()
    collection: str = "shared"

    @property
    def article(self) -> tuple[str, int]:
        """Its article, told apart across collections."""
        return self.collection, self.record.article_id


@dataclass(frozen=True)
class Ranked:
    """A candidate with its scores: retrieval's, the reader's reading, and the final one."""

    candidate: Candidate
    retrieval: float
    coverage: float
    reading: Reading | None = None
    score: float = 0.0

    @property
    def relevance(self) -> float:
        """The reader's relevance probability (0 when the reader did not read it)."""
        return _sigmoid(self.reading.relevance) if self.reading else 0.0

    @property
    def answer_evidence(self) -> float:
        """Relevance x the probability that the passage holds an answer (0 unread)."""
        return self.relevance * (1.0 - self.reading.no_answer) if self.reading else 0.0


@dataclass(frozen=True)
class Thresholds:
    """The calibrated decisions (see bench/RESULTS.md).

    Attributes:
        found: below this confidence the answer is "not found".
        bold: below this span confidence the answer sentence is shown without a bold.
    """

    found: float
    bold: float


def rank_retrieved(question: str, candidates: Sequence[Candidate], mode: str) -> list[Ranked]:
    """Candidates best first by the retrieval score of ``mode``; newer first on ties."""
    terms = fold_terms(question)
    items = []
    for candidate in candidates:
        coverage = sentence_coverage(terms, candidate.record.text)
        score = relevance(mode, candidate.similarity, candidate.lexical, coverage)
        items.append(Ranked(candidate, score, coverage, score=score))
    order = newer_first_on_ties(
        [
            Scored(
                item.score,
                item.candidate.record.citation.published_at,
                item.candidate.record.vector,
                meaning(item.candidate.similarity, item.coverage),
            )
            for item in items
        ]
    )
    return [items[i] for i in order]


def rerank(
    read: Sequence[Ranked], rest: Sequence[Ranked], readings: Sequence[Reading]
) -> list[Ranked]:
    """The read passages first, by the reader's answer evidence plus the retrieval score
    (newer reports of one story first on near ties), then the others in retrieval order
    (scored as if the reader had found no answer in them, so that scores compare)."""
    scored = [replace(item, reading=reading) for item, reading in zip(read, readings, strict=True)]
    scored = [
        replace(item, score=item.answer_evidence + RETRIEVAL_WEIGHT * item.retrieval)
        for item in scored
    ]
    order = newer_first_on_ties(
        [
            Scored(
                item.score,
                item.candidate.record.citation.published_at,
                item.candidate.record.vector,
                item.answer_evidence
                + RETRIEVAL_WEIGHT * meaning(item.candidate.similarity, item.coverage),
            )
            for item in scored
        ],
        margin=READ_NEWER_MARGIN,
    )
    unread = [replace(item, score=RETRIEVAL_WEIGHT * item.retrieval) for item in rest]
    return [scored[i] for i in order] + unread


def newest_relevant_first(ranked: Sequence[Ranked]) -> list[Ranked]:
    """The passages the reader finds relevant, newest first, then the others in order
    (for a question whose time window holds no article)."""
    oldest = datetime.min.replace(tzinfo=UTC)
    relevant = [item for item in ranked if item.relevance >= RELEVANT]
    relevant.sort(
        key=lambda item: item.candidate.record.citation.published_at or oldest, reverse=True
    )
    return relevant + [item for item in ranked if item.relevance < RELEVANT]


def evidence(read: Sequence[Ranked], ranked: Sequence[Ranked]) -> Evidence:
    """How sure the engine is that an answer is there, from the passages read (the reader:
    the best relevance x answer probability) and the best retrieved (cosine similarity
    plus term coverage of its best sentence); each 0 to 1."""
    reader = max((item.answer_evidence for item in read if item.reading), default=None)
    retrieval = max(
        (i.candidate.similarity + COVERAGE_CONFIDENCE * i.coverage for i in ranked), default=0.0
    )
    retrieval = min(1.0, max(0.0, retrieval / (1.0 + COVERAGE_CONFIDENCE)))
    return Evidence(reader, retrieval)


def confidence(found: Evidence) -> float:
    """The one figure "not found" is decided on."""
    if found.reader is None:
        return found.retrieval
    return READER_SHARE * found.reader + (1.0 - READER_SHARE) * found.retrieval


def compose_answer(
    question: str,
    ranked: Sequence[Ranked],
    read: Sequence[Ranked],
    *,
    top_k: int,
    max_per_article: int,
    thresholds: Thresholds,
) -> Answer:
    """Pick the passages to show, decide found / not found, and quote the answer.

    Args:
        question: the question as asked.
        ranked: every candidate, best first (read ones re-ranked by the reader).
        read: the passages the reader read (the fixed depth "not found" is decided on).
        top_k: passages shown.
        max_per_article: passages of one article shown before other relevant sources.
        thresholds: the calibrated "found" and bold thresholds.
    """
    shown = _diverse(list(ranked), top_k, max_per_article)
    passages = tuple(_scored_passage(item) for item in shown)
    found_evidence = evidence(read, ranked)
    score = confidence(found_evidence)
    if not shown or score < thresholds.found:
        return Answer(question, None, passages, False, (), score, found_evidence)
    conflicts = _conflicting_figures(shown, thresholds.bold)
    index = conflicts[0].passage_index if conflicts else 0
    sentence = _answer_sentence(question, shown, index, thresholds.bold)
    return Answer(question, sentence, passages, True, conflicts, score, found_evidence)


def _answer_sentence(
    question: str, shown: Sequence[Ranked], index: int, bold: float
) -> AnswerSentence | None:
    """The sentence holding the reader's phrase in passage ``index``, the phrase bolded when
    the reader is sure enough (its probability x the passage's relevance), or without a
    reading the sentence that holds most of the question's terms."""
    item = shown[index]
    text = item.candidate.record.text
    phrase = item.reading.phrase if item.reading else None
    if phrase is not None:
        for start, end in sentence_spans(text):
            if start <= phrase.start < end:
                sure = phrase.probability * item.relevance
                highlight = (phrase.start - start, phrase.end - start) if sure >= bold else None
                return AnswerSentence(text[start:end], index, highlight, sure)
    terms = fold_terms(question)
    allowed = [
        (a, b)
        for a, b in sentence_spans(text)
        if not any(a < stop and b > begin for begin, stop in item.candidate.excluded)
    ]
    if not allowed:
        return None
    start, end = max(allowed, key=lambda s: len(terms & fold_terms(text[s[0] : s[1]])))
    return AnswerSentence(text[start:end], index)


def _conflicting_figures(shown: Sequence[Ranked], bold: float) -> tuple[FigureReport, ...]:
    """One figure per relevant source (its reader's best span, when it is a figure),
    newest first, when the sources do not all agree.

    A figure is listed only when the reader is as sure of it as of a phrase it would
    bold (``bold``: probability x relevance): a source listed as saying "six" is read as
    that source's answer, so it must meet the same calibrated bar.
    """
    reports: list[tuple[FigureReport, float]] = []
    seen: set[tuple[str, int]] = set()
    for index, item in enumerate(shown):
        span = item.reading.best if item.reading else None
        article = item.candidate.article
        if span is None or article in seen or item.relevance < RELEVANT:
            continue
        if span.probability * item.relevance < bold:
            continue
        phrase = item.candidate.record.text[span.start : span.end]
        value = None if _DATE_LIKE.search(phrase) else figure_value(phrase)
        if value is None:
            continue
        seen.add(article)
        reports.append((FigureReport(phrase, index, item.candidate.record.citation), value))
    if len({value for _, value in reports}) < 2:
        return ()
    oldest = datetime.min.replace(tzinfo=UTC)
    reports.sort(key=lambda pair: pair[0].citation.published_at or oldest, reverse=True)
    return tuple(report for report, _ in reports)


def _diverse(ranked: list[Ranked], top_k: int, max_per_article: int) -> list[Ranked]:
    """The passages to show, best first, at most ``max_per_article`` from one article unless
    the other articles' passages are clearly worse (see :data:`DIVERSITY_MARGIN`)."""
    shown: list[Ranked] = []
    deferred: list[Ranked] = []
    per_article: dict[tuple[str, int], int] = {}
    for item in ranked:
        if len(shown) == top_k:
            break
        article = item.candidate.article
        if per_article.get(article, 0) >= max_per_article:
            deferred.append(item)
            continue
        while deferred and deferred[0].score - item.score > DIVERSITY_MARGIN and len(shown) < top_k:
            shown.append(deferred.pop(0))
        if len(shown) < top_k:
            shown.append(item)
            per_article[article] = per_article.get(article, 0) + 1
    shown.extend(deferred[: top_k - len(shown)])
    return shown


def _scored_passage(item: Ranked) -> ScoredPassage:
    record = item.candidate.record
    return ScoredPassage(
        record.passage_id,
        record.article_id,
        record.text,
        record.start,
        record.end,
        item.score,
        record.citation,
        item.candidate.collection,
    )


def _sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit))
