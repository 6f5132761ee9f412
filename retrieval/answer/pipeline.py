"""The ask pipeline: retrieve, read, compose. One typed object, called by the engine and by
the profiler alike, so that what is profiled is what runs.

1. **retrieve**: FAISS and BM25 rankings fused by reciprocal rank; the pool re-ranked by
   one retrieval score; a time window in the question (relative to when it was asked)
   keeps the passages published in it;
2. **read**: the reader reads the first ``reader_depth`` passages with the question and
   re-ranks them (skipped when the reader is off);
3. **compose**: the passages shown, found or not, the quoted sentence and its bold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import numpy as np

from retrieval.answer.compose import (
    Candidate,
    Ranked,
    Thresholds,
    compose_answer,
    newest_relevant_first,
    rank_retrieved,
    rerank,
)
from retrieval.answer.ranking import lexical_query, reciprocal_rank_fusion
from retrieval.index.lexical import LexicalIndex
from retrieval.index.vectors import VectorIndex
from retrieval.models.reader import Reader, ReaderPassage
from retrieval.store.articles import Store
from retrieval.text.boilerplate import boilerplate_ranges
from retrieval.text.dates import time_window
from retrieval.types import Answer, Mode

CANDIDATES = 30
"""Passages taken from each retriever before fusion."""
DATED_CANDIDATES = 100
"""Deeper when the question names a time: passages outside its window are dropped."""


class SearchIndex(Protocol):
    """One collection's loaded index version: what a question is answered from."""

    @property
    def name(self) -> str: ...

    @property
    def vectors(self) -> VectorIndex: ...

    @property
    def lexical(self) -> LexicalIndex: ...

    @property
    def store(self) -> Store: ...

    @property
    def boilerplate(self) -> frozenset[bytes]: ...


@dataclass(frozen=True)
class Retrieved:
    """The ranked candidates of one question, and whether the newest should lead.

    ``newest_first`` is set when the question's relative time window ("this week")
    holds none of them: then every date is used, the newest relevant report first.
    """

    ranked: list[Ranked]
    newest_first: bool = False
    window_empty: bool = False


@dataclass(frozen=True)
class Read:
    """The candidates after the reader: all of them re-ranked, and the ones it read."""

    ranked: list[Ranked]
    read: list[Ranked]


class AskPipeline:
    """Answers one question from a loaded index.

    Args:
        mode: the retrieval mode.
        reader: the reader, or None to answer from retrieval alone (faster, no bold).
        reader_depth: passages the reader reads; "not found" is decided on them.
        max_per_article: passages of one article shown before other relevant sources.
        thresholds: the calibrated "found" and bold thresholds.
    """

    def __init__(
        self,
        mode: Mode,
        reader: Reader | None,
        reader_depth: int,
        max_per_article: int,
        thresholds: Thresholds,
    ) -> None:
        self.mode = mode
        self.reader = reader
        self.reader_depth = reader_depth
        self.max_per_article = max_per_article
        self.thresholds = thresholds

    def answer(
        self,
        indexes: Sequence[SearchIndex],
        question: str,
        query: np.ndarray,
        top_k: int,
        asked_at: datetime,
    ) -> Answer:
        """Every stage, for a question whose vector is ``query``, over ``indexes``."""
        retrieved = self.retrieve(indexes, question, query, asked_at)
        read = self.read(question, retrieved)
        return self.compose(question, retrieved, read, top_k)

    def retrieve(
        self,
        indexes: Sequence[SearchIndex],
        question: str,
        query: np.ndarray,
        asked_at: datetime,
    ) -> Retrieved:
        """The candidate pool of every index, ranked together by the retrieval score, in
        the question's time window."""
        depth = DATED_CANDIDATES if time_window(question, asked_at) else CANDIDATES
        candidates: list[Candidate] = []
        for index in indexes:
            pool = self._pool(index, question, query, depth)
            records = index.store.passages_now(pool)
            candidates += [
                Candidate(records[pid], float(records[pid].vector @ query), lexical, (), index.name)
                for pid, lexical in pool.items()
                if pid in records
            ]
        retrieved = self.rank(question, candidates, asked_at)
        keys = {index.name: index.boilerplate for index in indexes}
        # only the passages that can be quoted from: the ones read (or the first)
        quotable = max(1, self.reader_depth if self.reader else 1)
        for position, item in enumerate(retrieved.ranked[:quotable]):
            boilerplate = keys.get(item.candidate.collection)
            if not boilerplate:
                continue
            record = item.candidate.record
            excluded = boilerplate_ranges(record.text, record.citation.publisher, boilerplate)
            retrieved.ranked[position] = replace(
                item, candidate=replace(item.candidate, excluded=excluded)
            )
        return retrieved

    def rank(self, question: str, candidates: Sequence[Candidate], asked_at: datetime) -> Retrieved:
        """Candidates ranked by the retrieval score, in the question's time window."""
        window = time_window(question, asked_at)
        ranked = rank_retrieved(question, candidates, self.mode)
        if window is None:
            return Retrieved(ranked)
        inside = [i for i in ranked if window.admits(i.candidate.record.citation.published_at)]
        if inside:
            return Retrieved(inside)
        if window.relative:
            return Retrieved(ranked, newest_first=True)
        return Retrieved(ranked, window_empty=True)

    def read(self, question: str, retrieved: Retrieved) -> Read:
        """The reader's reading of the first passages, and the re-ranked candidates."""
        ranked = retrieved.ranked
        if self.reader is None or retrieved.window_empty:
            return Read(ranked, [])
        first, rest = ranked[: self.reader_depth], ranked[self.reader_depth :]
        readings = self.reader.read(
            question,
            [
                ReaderPassage(
                    item.candidate.record.citation.title,
                    item.candidate.record.text,
                    item.candidate.excluded,
                )
                for item in first
            ],
        )
        reranked = rerank(first, rest, readings)
        if retrieved.newest_first:
            reranked = newest_relevant_first(reranked)
        return Read(reranked, reranked[: len(first)])

    def compose(self, question: str, retrieved: Retrieved, read: Read, top_k: int) -> Answer:
        """The answer from the re-ranked, read candidates."""
        thresholds = self.thresholds
        if retrieved.window_empty:  # an absolute time ("in 2012") nothing indexed is from
            thresholds = Thresholds(found=float("inf"), bold=thresholds.bold)
        return compose_answer(
            question,
            read.ranked,
            read.read,
            top_k=top_k,
            max_per_article=self.max_per_article,
            thresholds=thresholds,
        )

    def _pool(
        self, index: SearchIndex, question: str, query: np.ndarray, depth: int
    ) -> dict[int, float]:
        """{passage id: BM25 score scaled to the best, 0 if BM25 missed it}, fused best first.

        In hybrid mode the dense (FAISS) and lexical (BM25) rankings are fused by
        reciprocal rank; "dense" and "bm25" use one ranking alone (for comparison).
        """
        rankings: list[Sequence[int]] = []
        lexical: dict[int, float] = {}
        if self.mode != "bm25":
            _, dense_ids = index.vectors.search(query[np.newaxis, :], depth)
            rankings.append(dense_ids[0][dense_ids[0] >= 0].tolist())
        if self.mode != "dense":
            scores, ids = index.lexical.search(lexical_query(question), depth)
            rankings.append(ids.tolist())
            top = float(scores[0]) if len(scores) else 1.0
            lexical = {int(i): float(s) / top for i, s in zip(ids, scores, strict=True)}
        pool = list(reciprocal_rank_fusion(rankings))[:depth]
        return {pid: lexical.get(pid, 0.0) for pid in pool}
