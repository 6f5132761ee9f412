"""The engine: one object the CLI, the bot and the tests open, ask and reindex through.

CPU work (embedding, FAISS, BM25, answer composition) runs in worker threads, so an
asyncio caller such as the bot is never blocked. A reindex builds a new generation
beside the served one; questions keep being answered from the old one until the new
one is swapped in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from retrieval.activity import ActivityLog
from retrieval.answering import Candidate, compose_answer
from retrieval.batching import BatchingEncoder, LruCache
from retrieval.datafolder import DataFolder
from retrieval.dates import time_window
from retrieval.embedders import make_embedder
from retrieval.embedding import Embedder
from retrieval.errors import IndexBusyError, NotIndexedError
from retrieval.indexer import (
    LEXICAL_FOLDER,
    STORE_FILE,
    VECTORS_FILE,
    Manifest,
    Progress,
    check_compatible,
    reindex,
)
from retrieval.ingest import IngestReport, save_uploads
from retrieval.lexical import LexicalIndex
from retrieval.ranking import DATED_QUESTION_DEPTH, lexical_query, reciprocal_rank_fusion
from retrieval.settings import Settings
from retrieval.store import Store
from retrieval.types import Answer, IndexStats, IndexSummary
from retrieval.vector_index import VectorIndex

log = logging.getLogger(__name__)

CANDIDATES = 30
"""Passages taken from each retriever before fusion."""
ANSWER_CACHE_SIZE = 256
"""Answers kept for repeated questions (per served generation)."""


@dataclass
class _Served:
    """One generation, loaded: what every question is answered from."""

    generation: Path
    manifest: Manifest
    store: Store
    vectors: VectorIndex
    lexical: LexicalIndex
    readers: int = 0
    retired: bool = False

    @classmethod
    async def load(cls, generation: Path, embedder: Embedder) -> _Served:
        manifest = Manifest.read(generation)
        check_compatible(manifest, embedder)
        vectors, lexical = await asyncio.gather(
            asyncio.to_thread(VectorIndex.load, generation / VECTORS_FILE),
            asyncio.to_thread(LexicalIndex.load, generation / LEXICAL_FOLDER),
        )
        store = await Store.open(generation / STORE_FILE)
        return cls(generation, manifest, store, vectors, lexical)


class Engine:
    """Index a collection of articles and answer questions from it.

    Open with :meth:`open` and close with :meth:`close` (or ``async with``).
    """

    def __init__(self, settings: Settings, embedder: Embedder, data: DataFolder) -> None:
        self.settings = settings
        self.embedder = embedder
        self._data = data
        self._served: _Served | None = None
        self._activity: ActivityLog | None = None
        self._reindexing = asyncio.Lock()
        self._encoder = BatchingEncoder(embedder)
        self._answers: LruCache[Answer] = LruCache(ANSWER_CACHE_SIZE)

    @classmethod
    async def open(cls, settings: Settings, embedder: Embedder | None = None) -> Engine:
        """Open the engine on the settings' data folder; loads the served index if any.

        Args:
            settings: validated settings.
            embedder: the model; by default the one the settings name.

        Raises:
            IndexMismatchError: the index on disk was built with another model.
        """
        data = DataFolder(settings.data_dir)
        engine = cls(settings, embedder or default_embedder(settings, data), data)
        engine._activity = await ActivityLog.open(data.activity_db)
        current = data.current()
        if current is not None:
            engine._served = await _Served.load(current, engine.embedder)
        return engine

    async def close(self) -> None:
        """Wait for a running reindex to finish, then close the index and the log."""
        async with self._reindexing:
            pass
        if self._served is not None:
            await self._served.store.close()
            self._served = None
        if self._activity is not None:
            await self._activity.close()
            self._activity = None

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def reindexing(self) -> bool:
        """True while a reindex runs in this process."""
        return self._reindexing.locked()

    async def reindex(
        self,
        collection: Path | None = None,
        *,
        rebuild: bool = False,
        progress: Progress | None = None,
    ) -> IndexSummary:
        """Bring the index up to date with the collection, then serve the new index.

        Args:
            collection: folder or file of articles; the settings' collection by default.
            rebuild: re-embed everything (e.g. after changing the model).
            progress: called as progress(stage, done, total), possibly from a worker thread.

        Raises:
            IndexBusyError: a reindex is already running (here or in another process).
            ArticleError: the collection does not exist.
            IndexMismatchError: the index was built with another model and rebuild is False.
        """
        if self._reindexing.locked():
            raise IndexBusyError("a reindex is already running")
        async with self._reindexing:
            return await self._reindex_locked(collection, rebuild, progress)

    async def _reindex_locked(
        self, collection: Path | None, rebuild: bool, progress: Progress | None
    ) -> IndexSummary:
        with self._data.reindex_lock():
            served = self._data.current()
            summary, generation = await reindex(
                collection or self.settings.collection,
                served,
                self._data.new_generation,
                self.embedder,
                self.settings.passage_tokens,
                rebuild=rebuild,
                progress=progress,
            )
            if generation is not None:
                fresh = await _Served.load(generation, self.embedder)
                self._data.publish(generation)
                await self._swap(fresh)
                self._data.remove_stale(keep={generation})
            elif self._served is None and served is not None:
                await self._swap(await _Served.load(served, self.embedder))
        return summary

    async def ingest(
        self, files: list[tuple[str, bytes]], progress: Progress | None = None
    ) -> IngestReport:
        """Save uploaded article files into the collection and reindex.

        Raises:
            IndexBusyError: a reindex is already running (nothing is saved then).
        """
        if self._reindexing.locked():
            raise IndexBusyError("a reindex is already running")
        async with self._reindexing:
            report = await asyncio.to_thread(
                save_uploads,
                files,
                self.settings.collection,
                max_bytes=self.settings.ingest_max_bytes,
                extensions=self.settings.ingest_extensions,
            )
            if report.saved:
                report.summary = await self._reindex_locked(None, False, progress)
        return report

    async def ask(self, question: str, k: int | None = None) -> Answer:
        """Answer ``question`` with quoted, cited passages.

        Args:
            question: the question, in plain words.
            k: passages to show (the settings' ``top_k`` by default).

        Raises:
            NotIndexedError: nothing has been indexed yet.
        """
        started = time.perf_counter()
        top_k = k or self.settings.top_k
        async with self._reading() as served:
            key = (served.generation.name, " ".join(question.lower().split()), top_k)
            cached = self._answers.get(key)
            if cached is not None:
                answer = replace(cached, question=question)
            else:
                answer = await self._answer(served, question, top_k)
                self._answers.put(key, answer)
        if self._activity is not None:
            elapsed = (time.perf_counter() - started) * 1000
            await self._activity.record_question(question, answer.found, elapsed)
        return answer

    async def _answer(self, served: _Served, question: str, top_k: int) -> Answer:
        """Retrieve, fetch and compose: the uncached path of :meth:`ask`."""
        query = await self._encoder.embed(question)
        # One worker-thread hop for everything after embedding: under load each hop
        # (and each aiosqlite round trip) costs a scheduler wake-up.
        return await asyncio.to_thread(self._answer_now, served, question, query, top_k)

    def _answer_now(self, served: _Served, question: str, query: np.ndarray, top_k: int) -> Answer:
        retrieved = _retrieve(served, question, query, self.settings.retrieval_mode)
        records = served.store.passages_now(retrieved.keys())
        candidates = [
            Candidate(records[pid], float(records[pid].vector @ query), lexical)
            for pid, lexical in retrieved.items()
            if pid in records
        ]
        return compose_answer(
            question,
            candidates,
            top_k=top_k,
            max_per_article=self.settings.max_passages_per_article,
            min_confidence=self.settings.min_confidence,
            mode=self.settings.retrieval_mode,
        )

    async def record_vote(self, user: str, answer: Answer, vote: int) -> None:
        """Store a reader's 👍 (+1) or 👎 (-1) with the question and the answer given."""
        assert self._activity is not None, "engine is closed"
        shown = answer.sentence.text if answer.sentence else "(not found)"
        await self._activity.record_vote(user, answer.question, shown, vote)

    async def stats(self) -> IndexStats:
        """What is indexed now.

        Raises:
            NotIndexedError: nothing has been indexed yet.
        """
        async with self._reading() as served:
            articles, passages = await served.store.counts()
            manifest = served.manifest
        return IndexStats(
            articles,
            passages,
            manifest.model_id,
            manifest.dimension,
            manifest.index_kind,
            manifest.built_at,
        )

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[_Served]:
        """Pin the served generation for one read, so a swap cannot close it underneath."""
        served = self._served
        if served is None:
            raise NotIndexedError("nothing is indexed yet: run `citebot index` first")
        served.readers += 1
        try:
            yield served
        finally:
            served.readers -= 1
            if served.retired and served.readers == 0:
                await served.store.close()

    async def _swap(self, fresh: _Served) -> None:
        old, self._served = self._served, fresh
        if old is not None:
            old.retired = True
            if old.readers == 0:
                await old.store.close()


def _retrieve(served: _Served, question: str, query: np.ndarray, mode: str) -> dict[int, float]:
    """The pool to re-rank: {passage id: BM25 score scaled to the best, 0 if BM25 missed it}.

    In hybrid mode the dense (FAISS) and lexical (BM25) rankings are fused by
    reciprocal rank and the best ``CANDIDATES`` kept; "dense" and "bm25" use one ranking
    alone (for comparison). A question naming a time looks deeper, as passages outside
    its window are dropped afterwards.
    """
    depth = CANDIDATES
    if time_window(question, datetime.now(UTC)) is not None:
        depth = DATED_QUESTION_DEPTH
    rankings: list[list[int]] = []
    lexical: dict[int, float] = {}
    if mode != "bm25":
        _, dense_ids = served.vectors.search(query[np.newaxis, :], depth)
        rankings.append(dense_ids[0][dense_ids[0] >= 0].tolist())
    if mode != "dense":
        scores, ids = served.lexical.search(lexical_query(question), depth)
        rankings.append(ids.tolist())
        top = float(scores[0]) if len(scores) else 1.0
        lexical = {int(i): float(s) / top for i, s in zip(ids, scores, strict=True)}
    pool = list(reciprocal_rank_fusion(rankings))[:depth]
    return {pid: lexical.get(pid, 0.0) for pid in pool}


def default_embedder(settings: Settings, data: DataFolder) -> Embedder:
    """The encoder the settings name; the quantized one is cached in the data folder."""
    return make_embedder(settings.encoder, settings.model_path(), data.encoder_cache)
