"""From ranked passages to an answer: the shown passages, the best sentence, its highlight."""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.highlight import best_phrase
from retrieval.lexical import tokenize
from retrieval.questions import AnswerKind, answer_kind
from retrieval.sentences import sentence_spans
from retrieval.store import PassageRecord
from retrieval.types import Answer, AnswerSentence, ScoredPassage


@dataclass(frozen=True)
class Candidate:
    """A retrieved passage with its scores.

    Attributes:
        record: the passage and its article.
        similarity: cosine similarity of question and passage vectors.
        score: the fused rank score the candidates are ordered by.
    """

    record: PassageRecord
    similarity: float
    score: float


def compose_answer(
    question: str,
    candidates: list[Candidate],
    *,
    top_k: int,
    max_per_article: int,
    min_confidence: float,
) -> Answer:
    """Pick the passages to show and the sentence that answers.

    Args:
        question: the question as asked.
        candidates: retrieved passages, best first.
        top_k: passages shown.
        max_per_article: at most this many from one article, so several sources appear.
        min_confidence: below this similarity the answer is "not found".
    """
    shown = _diverse(candidates, top_k, max_per_article)
    passages = tuple(
        ScoredPassage(
            c.record.passage_id,
            c.record.article_id,
            c.record.text,
            c.record.start,
            c.record.end,
            c.score,
            c.record.citation,
        )
        for c in shown
    )
    confidence = max((c.similarity for c in shown), default=0.0)
    if not shown or confidence < min_confidence:
        return Answer(question, None, passages, found=False, confidence=confidence)
    return Answer(question, best_sentence(question, passages), passages, confidence=confidence)


def _diverse(candidates: list[Candidate], top_k: int, max_per_article: int) -> list[Candidate]:
    shown: list[Candidate] = []
    per_article: dict[int, int] = {}
    for candidate in candidates:
        article = candidate.record.article_id
        if per_article.get(article, 0) >= max_per_article:
            continue
        per_article[article] = per_article.get(article, 0) + 1
        shown.append(candidate)
        if len(shown) == top_k:
            break
    return shown


def best_sentence(question: str, passages: tuple[ScoredPassage, ...]) -> AnswerSentence | None:
    """The sentence of the shown passages that shares most with the question.

    For questions with a clear answer kind (how many, when, who, where) a sentence
    holding a phrase of that kind is preferred, so the figure comes first.
    """
    kind = answer_kind(question)
    terms = _fold(tokenize([question])[0])
    best: tuple[float, AnswerSentence] | None = None
    for rank, passage in enumerate(passages):
        for start, end in sentence_spans(passage.text):
            text = passage.text[start:end]
            words = _fold(tokenize([text])[0])
            overlap = len(terms & words) / max(1, len(terms))
            phrase = best_phrase(text, question, kind) if kind is not AnswerKind.OTHER else None
            score = overlap - 0.15 * rank
            span = None
            if phrase is not None:
                span, affinity = phrase
                score += 0.5 + 0.05 * affinity
                if kind is AnswerKind.COUNT and any(ch.isdigit() for ch in text[span[0] : span[1]]):
                    score += 0.25  # an exact figure beats "dozens" or "scores"
            if best is None or score > best[0]:
                best = (score, AnswerSentence(text, rank, span))
    return best[1] if best else None


_SAME_MEANING = {"die": "kill", "dead": "kill", "death": "kill", "fatal": "kill", "toll": "kill"}
"""Stems news uses interchangeably for casualties: "killed", "died", "dead"."""


def _fold(stems: list[str]) -> set[str]:
    return {_SAME_MEANING.get(stem, stem) for stem in stems}
