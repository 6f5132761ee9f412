"""Fusing the dense and lexical rankings, re-ranking the fused pool, and the priors.

Hybrid retrieval runs in two steps. Reciprocal rank fusion (RRF) of the FAISS and
BM25 rankings picks a pool of candidates; the pool is then re-ranked by a score on
one scale: cosine similarity, plus BM25 normalised to the query's best passage, plus
how much of the question the passage's best sentence covers. Measured on SQuAD
(bench/RESULTS.md), the re-rank lifts hit@1 well above plain RRF, which throws the
scores away and keeps only the ranks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from retrieval.text.sentences import sentence_spans
from retrieval.text.terms import tokenize

RRF_K = 60
"""Reciprocal rank fusion constant (Cormack et al., 2009)."""
LEXICAL_WEIGHT = 0.5
"""Weight of BM25 (scaled so the query's best passage scores 1) beside cosine similarity."""
COVERAGE_WEIGHT = 0.2
"""Weight of the share of question terms found in the passage's best sentence."""
NEWER_MARGIN = 0.25
"""Reports of the same story scoring within this much of each other, the later one at least
as relevant in meaning (within :data:`MEANING_MARGIN`), count as about equally relevant:
the newer goes first (a later death toll before an early one, though the early one uses
the question's words)."""
MEANING_MARGIN = 0.02
SAME_STORY = 0.7
"""Passages whose vectors are at least this similar tell the same story (measured: passages
of two reports of one flood 0.75-0.9; of a flood and a wildfire report about 0.5)."""

_SAME_MEANING = {"die": "kill", "dead": "kill", "death": "kill", "fatal": "kill", "toll": "kill"}
"""Stems news uses interchangeably for casualties: "killed", "died", "dead"."""
_CASUALTY_WORDS = "killed died dead"
"""Added to a BM25 query that asks about casualties, which reports word either way."""
_INTERROGATIVES = (
    "how many much what which who whom whose when where why did does do were has have had "
    "would could should can been"
)
_QUESTION_WORDS = frozenset(_INTERROGATIVES.split())
"""Words that shape a question but are not what it is about (bm25s stops only 33 words)."""
_QUESTION_STEMS = frozenset(tokenize([" ".join(_QUESTION_WORDS)])[0])
_WORD = re.compile(r"\w+")
_HOW_ADJECTIVE = re.compile(r"\bhow (?:large|big|high|long|far|old|deep|wide|heavy)\b", re.I)
"""In "how large is the deficit", "large" asks; it is not what the question is about."""


@dataclass(frozen=True)
class Scored:
    """A candidate's final score with what the newer-first tie-break needs."""

    score: float
    published_at: datetime | None
    vector: np.ndarray | None = None
    meaning: float | None = None
    """The score without BM25 (similarity and coverage): how relevant the passage is in
    meaning, whatever words it uses ("death toll" for "killed")."""


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """{id: fused score}, best first, from several rankings of ids (best first each)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank + 1)
    return dict(sorted(fused.items(), key=lambda entry: entry[1], reverse=True))


def fold_terms(text: str) -> set[str]:
    """The text's BM25 terms less question words, casualty words folded ("died" = "killed")."""
    text = _HOW_ADJECTIVE.sub(" ", text)
    return {_SAME_MEANING.get(stem, stem) for stem in tokenize([text])[0]} - _QUESTION_STEMS


def lexical_query(question: str) -> str:
    """The question as a BM25 query: question words dropped, casualty words expanded."""
    question = _HOW_ADJECTIVE.sub(" ", question)
    query = " ".join(w for w in _WORD.findall(question) if w.lower() not in _QUESTION_WORDS)
    if "kill" in fold_terms(query):
        query += " " + _CASUALTY_WORDS
    return query


def sentence_coverage(question_terms: set[str], passage: str) -> float:
    """The largest share of the question's terms that one sentence of ``passage`` holds."""
    if not question_terms:
        return 0.0
    best = 0
    for start, end in sentence_spans(passage):
        best = max(best, len(question_terms & fold_terms(passage[start:end])))
    return best / len(question_terms)


def meaning(similarity: float, coverage: float) -> float:
    """The part of the hybrid score that does not depend on the exact words (no BM25)."""
    return similarity + COVERAGE_WEIGHT * coverage


def relevance(mode: str, similarity: float, lexical: float, coverage: float) -> float:
    """One retriever's score alone in "dense" / "bm25" mode; the re-rank score in hybrid."""
    if mode == "dense":
        return similarity
    if mode == "bm25":
        return lexical
    return meaning(similarity, coverage) + LEXICAL_WEIGHT * lexical


def newer_first_on_ties(scored: Sequence[Scored], margin: float = NEWER_MARGIN) -> list[int]:
    """Indices of ``scored`` best first; newer reports of the same story first on near ties.

    Sorted by score, then a passage that is about as relevant (within ``margin``, and at
    least as relevant in meaning), tells the same story (vectors at least
    :data:`SAME_STORY` alike) and was published later moves up (insertion sort); undated
    passages never move.
    """
    order = sorted(range(len(scored)), key=lambda i: scored[i].score, reverse=True)
    for position in range(1, len(order)):
        current = order[position]
        place = position
        while place > 0 and _newer_and_close(scored[current], scored[order[place - 1]], margin):
            order[place] = order[place - 1]
            place -= 1
        order[place] = current
    return order


def _newer_and_close(item: Scored, ahead: Scored, margin: float) -> bool:
    if item.published_at is None or ahead.published_at is None:
        return False
    if not (ahead.score - item.score < margin and item.published_at > ahead.published_at):
        return False
    if (
        item.meaning is not None
        and ahead.meaning is not None
        and item.meaning < ahead.meaning - MEANING_MARGIN
    ):
        return False  # less relevant in meaning: its lower score is not just wording
    if item.vector is None or ahead.vector is None:
        return True
    return float(item.vector @ ahead.vector) >= SAME_STORY
