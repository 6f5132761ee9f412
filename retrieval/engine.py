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

from retrieval.answer.cache import LruCache
from retrieval.answer.compose import Thresholds
from retrieval.answer.pipeline import AskPipeline
from retrieval.errors import (
    CitebotError,
    EngineBusyError,
    IndexBusyError,
    NotIndexedError,
    SettingsError,
)
from retrieval.index.datafolder import DataFolder, Hold
from retrieval.index.indexer import Progress, reindex
from retrieval.index.lexical import LexicalIndex
from retrieval.index.manifest import (
    LEXICAL_FOLDER,
    STORE_FILE,
    VECTORS_FILE,
    Manifest,
    check_compatible,
)
from retrieval.index.vectors import VectorIndex
from retrieval.ingest.uploads import save_uploads
from retrieval.models.batching import BatchingEncoder
from retrieval.models.embedder import Embedder
from retrieval.models.encoders import make_embedder
from retrieval.models.reader import OnnxReader, Reader
from retrieval.settings import Settings
from retrieval.store.activity import ActivityLog, KeptAnswer, VoteOutcome
from retrieval.store.articles import Store
from retrieval.types import Answer, IndexStats, IndexSummary, IngestReport

log = logging.getLogger(__name__)

READ_CONNECTIONS = 8
"""Read-only SQLite connections opened with a served version (one per answering thread)."""
ANSWER_CACHE_SIZE = 256
"""Answers kept for repeated questions (per served generation)."""


WATCH_SECONDS = 2.0
"""How often a serving engine looks for a version published by another process."""


@dataclass
class _Served:
    """One generation, loaded and held: what every question is answered from."""

    generation: Path
    hold: Hold
    manifest: Manifest
    store: Store
    vectors: VectorIndex
    lexical: LexicalIndex
    boilerplate: frozenset[bytes]
    readers: int = 0
    retired: bool = False

    @classmethod
    async def load(cls, generation: Path, embedder: Embedder, data: DataFolder) -> _Served:
        """Hold the generation (so no process deletes it), then load every part of it,
        the store's read connections included."""
        hold = await asyncio.to_thread(data.hold, generation)
        try:
            manifest = Manifest.read(generation)
            check_compatible(manifest, embedder)
            vectors, lexical = await asyncio.gather(
                asyncio.to_thread(VectorIndex.load, generation / VECTORS_FILE),
                asyncio.to_thread(LexicalIndex.load, generation / LEXICAL_FOLDER),
            )
            store = await Store.open(generation / STORE_FILE, readers=READ_CONNECTIONS)
        except BaseException:
            hold.release()
            raise
        keys = await store.boilerplate_keys()
        return cls(generation, hold, manifest, store, vectors, lexical, keys)

    async def close(self) -> None:
        await self.store.close()
        self.hold.release()


class Engine:
    """Index a collection of articles and answer questions from it.

    Open with :meth:`open` and close with :meth:`close` (or ``async with``).
    """

    def __init__(
        self, settings: Settings, embedder: Embedder, data: DataFolder, reader: Reader | None
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.pipeline = AskPipeline(
            settings.retrieval_mode,
            reader,
            settings.reader_depth,
            settings.max_passages_per_article,
            Thresholds(found=settings.min_confidence, bold=settings.bold_threshold),
        )
        self._data = data
        self._served: _Served | None = None
        self._activity: ActivityLog | None = None
        self._reindexing = asyncio.Lock()
        self._encoder = BatchingEncoder(embedder)
        self._answers: LruCache[Answer] = LruCache(ANSWER_CACHE_SIZE)
        self._slots = asyncio.Semaphore(settings.ask_concurrency)
        self._in_flight = 0

    @classmethod
    async def open(
        cls,
        settings: Settings,
        embedder: Embedder | None = None,
        reader: Reader | None = None,
    ) -> Engine:
        """Open the engine on the settings' data folder; loads the served index if any.

        Args:
            settings: validated settings.
            embedder: the model; by default the one the settings name.
            reader: the reader; by default the shipped one (None when ``reader`` is off).

        Raises:
            IndexMismatchError: the index on disk was built with another model.
            SettingsError: the reader is on with a model it was not trained on.
        """
        data = DataFolder(settings.data_dir)
        engine = cls(
            settings,
            embedder or default_embedder(settings, data),
            data,
            reader or default_reader(settings, data),
        )
        engine._activity = await ActivityLog.open(data.activity_db, settings.log_retention_days)
        await asyncio.to_thread(data.tidy)
        engine._served = await engine._load_current()
        return engine

    async def close(self) -> None:
        """Wait for a running reindex to finish, then close the index and the log."""
        async with self._reindexing:
            pass
        if self._served is not None:
            await self._served.close()
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
        allow_removal: bool = False,
        progress: Progress | None = None,
    ) -> IndexSummary:
        """Bring the index up to date with the collection, then serve the new index.

        Args:
            collection: folder or file of articles; the settings' collection by default.
            rebuild: re-embed everything (e.g. after changing the model).
            allow_removal: go ahead although more than half the articles would be removed.
            progress: called as progress(stage, done, total), possibly from a worker thread.

        Raises:
            IndexBusyError: a reindex is already running (here or in another process).
            ArticleError: the collection does not exist.
            IndexMismatchError: the index was built with another model and rebuild is False.
            RemovalRefusedError: most articles would go and ``allow_removal`` is False.
        """
        if self._reindexing.locked():
            raise IndexBusyError("a reindex is already running")
        async with self._reindexing:
            return await self._reindex_locked(collection, rebuild, allow_removal, progress)

    async def _reindex_locked(
        self,
        collection: Path | None,
        rebuild: bool,
        allow_removal: bool,
        progress: Progress | None,
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
                allow_removal=allow_removal,
                progress=progress,
            )
            if generation is not None:
                fresh = await _Served.load(generation, self.embedder, self._data)
                await asyncio.to_thread(self._data.publish, generation)
                await self._swap(fresh)
                await asyncio.to_thread(self._data.remove_stale, {generation})
            elif self._served is None and served is not None:
                await self._swap(await _Served.load(served, self.embedder, self._data))
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
                report.summary = await self._reindex_locked(None, False, False, progress)
        return report

    async def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        asked_at: datetime | None = None,
        private: bool = False,
        logged: bool = True,
    ) -> Answer:
        """Answer ``question`` with quoted, cited passages.

        Args:
            question: the question, in plain words.
            k: passages to show (the settings' ``top_k`` by default); whether the answer
                is found does not depend on it.
            asked_at: when it was asked, for "this week"-style questions (default: now).
            private: log the question without its text.
            logged: log the question (False when a kept answer is rebuilt).

        Raises:
            NotIndexedError: nothing has been indexed yet.
            EngineBusyError: too many questions are waiting, or this one waited too long.
        """
        started = time.perf_counter()
        top_k = k or self.settings.top_k
        when = asked_at or datetime.now(UTC)
        async with self.reading() as served:
            folded = " ".join(question.lower().split())
            key = (served.generation.name, folded, top_k, when.date())
            cached = self._answers.get(key)
            if cached is not None:
                answer = replace(cached, question=question)
            else:
                async with self._queued():
                    # questions waiting together share one encoder call
                    query = await self._encoder.embed(question)
                    # One worker-thread hop for everything after embedding: under load
                    # each hop (and each aiosqlite round trip) costs a scheduler wake-up.
                    async with self._answer_slot():
                        answer = await asyncio.to_thread(
                            self.pipeline.answer, served, question, query, top_k, when
                        )
                self._answers.put(key, answer)
        if self._activity is not None and logged:
            elapsed = (time.perf_counter() - started) * 1000
            await self._activity.record_question(question, answer.found, elapsed, private=private)
        return answer

    async def keep_answer(
        self, answer: Answer, *, user: str, k: int, asked_at: datetime, private: bool = False
    ) -> str:
        """Keep what is needed to rebuild ``answer`` (asked by ``user``) later; its id."""
        assert self._activity is not None, "engine is closed"
        shown = answer.sentence.text if answer.sentence else "(not found)"
        return await self._activity.keep_answer(
            user, answer.question, shown, k, asked_at, private=private
        )

    async def kept_answer(self, answer_id: str, reader: str) -> KeptAnswer | None:
        """The kept answer ``answer_id`` as ``reader`` finds it, or None once it expired."""
        assert self._activity is not None, "engine is closed"
        return await self._activity.kept_answer(answer_id, reader)

    @contextlib.asynccontextmanager
    async def _queued(self) -> AsyncIterator[None]:
        """Count a question in the engine; past ``ask_queue`` of them, EngineBusyError."""
        if self._in_flight >= self.settings.ask_queue:
            raise EngineBusyError("too many questions are waiting; try again in a few seconds")
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1

    @contextlib.asynccontextmanager
    async def _answer_slot(self) -> AsyncIterator[None]:
        """One of the ``ask_concurrency`` places to answer in, within ``ask_wait_seconds``."""
        try:
            await asyncio.wait_for(self._slots.acquire(), self.settings.ask_wait_seconds)
        except TimeoutError:
            raise EngineBusyError("busy answering other questions; try again") from None
        try:
            yield
        finally:
            self._slots.release()

    async def record_vote(self, user: str, answer_id: str, vote: int) -> VoteOutcome:
        """Store a reader's 👍 (+1) or 👎 (-1) on a kept answer, once per reader."""
        assert self._activity is not None, "engine is closed"
        return await self._activity.record_vote(user, answer_id, vote)

    async def stats(self) -> IndexStats:
        """What is indexed now.

        Raises:
            NotIndexedError: nothing has been indexed yet.
        """
        async with self.reading() as served:
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
    async def reading(self) -> AsyncIterator[_Served]:
        """Pin the served index for one read, so a swap cannot close it underneath.

        Raises:
            NotIndexedError: nothing has been indexed yet.
        """
        served = self._served
        if served is None:
            raise NotIndexedError("nothing is indexed yet: run `citebot index` first")
        served.readers += 1
        try:
            yield served
        finally:
            served.readers -= 1
            if served.retired and served.readers == 0:
                await served.close()

    async def _swap(self, fresh: _Served) -> None:
        old, self._served = self._served, fresh
        if old is not None:
            old.retired = True
            if old.readers == 0:
                await old.close()

    async def _load_current(self) -> _Served | None:
        """The generation CURRENT names, loaded (None before the first index). A version
        deleted between reading CURRENT and holding it is looked up again."""
        for _ in range(5):
            current = await asyncio.to_thread(self._data.current)
            if current is None:
                return None
            try:
                return await _Served.load(current, self.embedder, self._data)
            except FileNotFoundError:
                log.debug("%s went away while loading; looking again", current.name)
        raise NotIndexedError("the index keeps changing under this process; try again")

    async def follow_published(self) -> bool:
        """Serve the version another process (``citebot index``) published, if there is
        a newer one; True when the served index changed."""
        if self._reindexing.locked():
            return False  # this process is publishing; it swaps in its own version
        current = await asyncio.to_thread(self._data.current)
        served = self._served
        if current is None or (served is not None and served.generation == current):
            return False
        fresh = await self._load_current()
        if fresh is None or (served is not None and fresh.generation == served.generation):
            if fresh is not None:
                await fresh.close()
            return False
        log.info("serving the index %s published by another process", fresh.generation.name)
        await self._swap(fresh)
        return True

    async def watch_published(self, interval: float = WATCH_SECONDS) -> None:
        """Follow versions published by other processes until cancelled (the bot runs it)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.follow_published()
            except CitebotError as error:
                log.warning("could not load the newly published index: %s", error)


def default_embedder(settings: Settings, data: DataFolder) -> Embedder:
    """The encoder the settings name; the quantized one is cached in the data folder."""
    return make_embedder(settings.encoder, settings.model_path(), data.encoder_cache)


def default_reader(settings: Settings, data: DataFolder) -> Reader | None:
    """The shipped reader when the ``reader`` setting is on (trained on the packaged model).

    Raises:
        SettingsError: the reader is on with another model.
    """
    if not settings.reader:
        return None
    if settings.model != "packaged":
        raise SettingsError(
            "reader: the shipped reader was trained on the packaged all-MiniLM-L6-v2; "
            "set reader = false to use another model"
        )
    return OnnxReader(settings.model_path(), data.encoder_cache)
