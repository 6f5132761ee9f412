"""From retrieved passages to an answer: rank, filter by date, pick, highlight, compare figures.

Everything here is plain computation on passages already fetched; the engine runs it
in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from retrieval.dates import TimeWindow, time_window
from retrieval.figures import conflicting_figures, figure_in, question_weights
from retrieval.highlight import best_phrase
from retrieval.questions import AnswerKind, answer_kind
from retrieval.ranking import (
    Scored,
    fold_terms,
    meaning,
    newer_first_on_ties,
    relevance,
    sentence_coverage,
    term_rarity,
    weighted_share,
)
from retrieval.sentences import sentence_spans
from retrieval.store import PassageRecord
from retrieval.types import Answer, AnswerSentence, ScoredPassage

DIVERSITY_MARGIN = 0.15
"""A passage beyond an article's quota yields its place only to passages of other articles
scoring within this much of it: several sources appear when several are relevant, but a
clearly better passage is never replaced by a weak one from elsewhere."""
SCORE_GAP_PENALTY = 2.0
RANK_PENALTY = 0.05
"""Sentence score lost by how far its passage scores below the best one, and per rank: a
sentence from a much less relevant passage needs much more to be the answer."""
PHRASE_BONUS = 0.5
"""Sentence score for holding a phrase of the kind asked for (a figure for "how many")."""
FIT_WEIGHT = 0.35
MAX_FIT = 5.0
"""How much, and up to what, the phrase's fit with the question's words adds."""
COVERAGE_CONFIDENCE = 0.5
"""Weight of question-term coverage in the confidence (see :func:`confidence`)."""


@dataclass(frozen=True)
class Candidate:
    """A retrieved passage with its retrieval scores.

    Attributes:
        record: the passage and its article.
        similarity: cosine similarity of question and passage vectors.
        lexical: BM25 score scaled so the question's best passage has 1 (0 when BM25
            did not return it).
    """

    record: PassageRecord
    similarity: float
    lexical: float = 0.0


@dataclass(frozen=True)
class _Ranked:
    candidate: Candidate
    score: float
    coverage: float


def compose_answer(
    question: str,
    candidates: list[Candidate],
    *,
    top_k: int,
    max_per_article: int,
    min_confidence: float,
    mode: str = "hybrid",
    now: datetime | None = None,
) -> Answer:
    """Pick the passages to show, decide found / not found, and find the answering sentence.

    Args:
        question: the question as asked.
        candidates: retrieved passages, in any order.
        top_k: passages shown.
        max_per_article: passages of one article shown before other relevant sources.
        min_confidence: below this :func:`confidence` the answer is "not found".
        mode: "hybrid" re-ranks by similarity, BM25 and sentence coverage; "dense" and
            "bm25" rank by one retriever alone.
        now: the current time, for "last week"-style questions (default: now, UTC).
    """
    terms = fold_terms(question)
    ranked = rank(terms, candidates, mode)
    window = time_window(question, now or datetime.now(UTC))
    in_window = _in_window(ranked, window)
    shown = _diverse(in_window or ranked, top_k, max_per_article)
    passages = tuple(_scored_passage(item) for item in shown)
    score = confidence(shown)
    if not in_window or score < min_confidence:
        return Answer(question, None, passages, found=False, confidence=score)
    kind = answer_kind(question)
    conflicts = conflicting_figures(question, passages) if kind is AnswerKind.COUNT else ()
    sentence = best_sentence(question, passages)
    if conflicts:  # the sources disagree: quote the newest report's figure
        newest = conflicts[0].passage_index
        found = figure_in(question, passages[newest].text, question_weights(question, passages))
        if found is not None:
            sentence = AnswerSentence(found[0], newest, found[1])
    return Answer(question, sentence, passages, conflicts=conflicts, confidence=score)


def rank(terms: set[str], candidates: list[Candidate], mode: str) -> list[_Ranked]:
    """Candidates best first by the mode's score; newer first on ties."""
    items = []
    for candidate in candidates:
        coverage = sentence_coverage(terms, candidate.record.text)
        score = relevance(mode, candidate.similarity, candidate.lexical, coverage)
        items.append(_Ranked(candidate, score, coverage))
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


def confidence(shown: list[_Ranked]) -> float:
    """How sure the engine is that a shown passage answers, from 0 to 1: the best over the
    shown passages of cosine similarity plus :data:`COVERAGE_CONFIDENCE` times the share of
    the question's terms in its best sentence, scaled to at most 1 (calibrated in
    bench/RESULTS.md)."""
    best = max(
        (item.candidate.similarity + COVERAGE_CONFIDENCE * item.coverage for item in shown),
        default=0.0,
    )
    return min(1.0, max(0.0, best / (1.0 + COVERAGE_CONFIDENCE)))


def _in_window(ranked: list[_Ranked], window: TimeWindow | None) -> list[_Ranked]:
    if window is None:
        return ranked
    return [i for i in ranked if window.admits(i.candidate.record.citation.published_at)]


def _diverse(ranked: list[_Ranked], top_k: int, max_per_article: int) -> list[_Ranked]:
    """The passages to show, best first, at most ``max_per_article`` from one article unless
    the other articles' passages are clearly worse (see :data:`DIVERSITY_MARGIN`)."""
    shown: list[_Ranked] = []
    deferred: list[_Ranked] = []
    per_article: dict[int, int] = {}
    for item in ranked:
        if len(shown) == top_k:
            break
        article = item.candidate.record.article_id
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


def _scored_passage(item: _Ranked) -> ScoredPassage:
    record = item.candidate.record
    return ScoredPassage(
        record.passage_id,
        record.article_id,
        record.text,
        record.start,
        record.end,
        item.score,
        record.citation,
    )


def best_sentence(question: str, passages: tuple[ScoredPassage, ...]) -> AnswerSentence | None:
    """The sentence of the shown passages that best answers the question.

    Sentences are scored by the question terms they share, each term weighted by how
    rare it is among the shown sentences (a term every sentence has, such as the
    company the article is about, tells them apart least), plus a bonus when the
    sentence holds a phrase of the kind asked for (how many, when, who, where) that
    fits the question's words around it; sentences of less relevant passages pay for
    the difference.
    """
    kind = answer_kind(question)
    terms = fold_terms(question)
    sentences = [
        (rank_, passage.text[start:end])
        for rank_, passage in enumerate(passages)
        for start, end in sentence_spans(passage.text)
    ]
    sentence_terms = {text: fold_terms(text) for _, text in sentences}
    weights = term_rarity(terms, list(sentence_terms.values()))
    best: tuple[float, AnswerSentence] | None = None
    top = max((passage.score for passage in passages), default=0.0)
    for rank_, text in sentences:
        score, span = sentence_score(question, weights, kind, text, sentence_terms[text])
        score -= SCORE_GAP_PENALTY * (top - passages[rank_].score) + RANK_PENALTY * rank_
        if best is None or score > best[0]:
            best = (score, AnswerSentence(text, rank_, span))
    return best[1] if best else None


def sentence_score(
    question: str,
    weights: dict[str, float],
    kind: AnswerKind,
    sentence: str,
    sentence_terms: set[str] | None = None,
) -> tuple[float, tuple[int, int] | None]:
    """(score, answering phrase) of one sentence: the weighted share of question terms it
    holds, plus a bonus for a well-fitting phrase of the kind asked for."""
    held = sentence_terms if sentence_terms is not None else fold_terms(sentence)
    overlap = weighted_share(weights, held)
    phrase = best_phrase(sentence, question, kind)
    if phrase is None:
        return overlap, None
    span, fit = phrase
    if kind is AnswerKind.OTHER:
        return overlap, span  # a guess at what the question lacks: no say in the choice
    return overlap + PHRASE_BONUS + FIT_WEIGHT * min(fit, MAX_FIT), span
