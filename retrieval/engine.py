"""The engine: one object the CLI, the bot and the tests open, ask and reindex through.

CPU work (embedding, FAISS, BM25, the reader, answer composition) runs in worker
threads, so an asyncio caller such as the bot is never blocked. Each collection's
reindex builds a new version beside the served one; questions keep being answered
from the old one until the new one is swapped in.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

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
from retrieval.feeds.fetcher import Fetcher, FetchPolicy, HostLimits
from retrieval.feeds.refresh import FetchError, RefreshReport, fetch_link, poll_feeds
from retrieval.feeds.registry import REGISTRY_FILE, FeedRecord, FeedRegistry, PostedReport
from retrieval.index.collection import SHARED, CollectionIndex, Served, check_name
from retrieval.index.datafolder import DataFolder
from retrieval.index.indexer import Progress
from retrieval.ingest.uploads import save_uploads
from retrieval.models.batching import BatchingEncoder
from retrieval.models.embedder import Embedder
from retrieval.models.encoders import make_embedder
from retrieval.models.reader import OnnxReader, Reader, ReaderPassage
from retrieval.settings import Settings
from retrieval.store.activity import ActivityLog, KeptAnswer, VoteOutcome
from retrieval.types import Answer, Article, IndexStats, IndexSummary, IngestReport

log = logging.getLogger(__name__)

ANSWER_CACHE_SIZE = 256
"""Answers kept for repeated questions (per set of served versions)."""
WATCH_SECONDS = 2.0
"""How often a serving engine looks for versions published by another process."""
COLLECTIONS_FOLDER = "collections"
FEED_COLLECTIONS_AT_ONCE = 4
"""Collections whose feeds are refreshed at the same time (hosts' limits are shared)."""


class Engine:
    """Index collections of articles and answer questions from them.

    One engine serves every collection with one model in memory: the shared
    collection (the settings' folder) and named ones (one per Discord server), each
    with its own articles and index. Open with :meth:`open` and close with
    :meth:`close` (or ``async with``).
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
        self._collections: dict[str, CollectionIndex] = {}
        self._opening = asyncio.Lock()
        self._activity: ActivityLog | None = None
        self._encoder = BatchingEncoder(embedder)
        self._answers: LruCache[Answer] = LruCache(ANSWER_CACHE_SIZE)
        self._slots = asyncio.Semaphore(settings.ask_concurrency)
        self._in_flight = 0
        self._registries: dict[str, FeedRegistry] = {}
        self._refreshing: dict[str, asyncio.Lock] = {}
        self.fetch_policy = FetchPolicy(allow_private=settings.fetch_allow_private)
        """How feeds and links are fetched (tests shorten its waits)."""
        self._host_limits: dict[FetchPolicy, HostLimits] = {}

    @classmethod
    async def open(
        cls,
        settings: Settings,
        embedder: Embedder | None = None,
        reader: Reader | None = None,
    ) -> Engine:
        """Open the engine on the settings' data folder; loads the shared index if any.

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
        try:
            await engine.collection(SHARED)
        except BaseException:  # an index of another model or format: close what is open
            await engine.close()
            raise
        return engine

    async def warm_up(self) -> None:
        """Load the models now (they load on first use), then keep everything loaded so far
        out of the garbage collector's full passes; for a long-running process such as
        the bot, once at start.

        The first question is then answered as fast as the others. And a full pass of
        the collector walks every tracked object while holding the GIL: about 200 ms
        with the models' libraries (torch, transformers, onnxruntime) loaded. A reindex
        in a worker thread allocates enough to trigger such passes, and the event loop
        would wait them out. Frozen objects are still freed by reference counting; only
        cycles among them are kept.
        """
        reader = self.pipeline.reader
        await asyncio.to_thread(self.embedder.embed, ["warm-up"])
        if reader is not None:
            await asyncio.to_thread(reader.read, "warm-up?", [ReaderPassage("Warm-up", "Ready.")])
        gc.collect()
        gc.freeze()

    async def close(self) -> None:
        """Wait for running reindexes to finish, then close the indexes and the log."""
        for collection in list(self._collections.values()):
            await collection.close()
        self._collections.clear()
        for registry in self._registries.values():
            await registry.close()
        self._registries.clear()
        if self._activity is not None:
            await self._activity.close()
            self._activity = None

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def collection(self, name: str = SHARED) -> CollectionIndex:
        """The collection ``name``, opened on first use (created if new).

        Raises:
            SettingsError: the name is not a collection name.
        """
        found = self._collections.get(name)
        if found is not None:
            return found
        async with self._opening:
            if name not in self._collections:
                articles, data = self._folders(name)
                if name != SHARED:
                    articles.mkdir(parents=True, exist_ok=True)
                self._collections[name] = await CollectionIndex.open(
                    name, articles, data, self.embedder, self.settings.passage_tokens
                )
            return self._collections[name]

    def _folders(self, name: str) -> tuple[Path, DataFolder]:
        """(articles folder, data folder) of the collection ``name``.

        Raises:
            SettingsError: the name is not a collection name.
        """
        if name == SHARED:
            return self.settings.collection, self._data
        folder = self.settings.data_dir / COLLECTIONS_FOLDER / check_name(name)
        return folder / "articles", DataFolder(folder / "index")

    def collection_names(self) -> list[str]:
        """The shared collection and every named one on disk, shared first."""
        folder = self.settings.data_dir / COLLECTIONS_FOLDER
        named = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        return [SHARED, *named]

    async def reindexing(self, collection: str = SHARED) -> bool:
        """True while a reindex of ``collection`` runs in this process."""
        return (await self.collection(collection)).reindexing

    async def reindex(
        self,
        path: Path | None = None,
        *,
        collection: str = SHARED,
        rebuild: bool = False,
        allow_removal: bool = False,
        progress: Progress | None = None,
    ) -> IndexSummary:
        """Bring a collection's index up to date with its articles, then serve it.

        Args:
            path: folder or file of articles; the collection's own folder by default.
            collection: which collection.
            rebuild: re-embed everything (e.g. after changing the model).
            allow_removal: go ahead although more than half the articles would be removed.
            progress: called as progress(stage, done, total), possibly from a worker thread.

        Raises:
            IndexBusyError: a reindex is already running (here or in another process).
            ArticleError: the folder does not exist.
            IndexMismatchError: the index was built with another model and rebuild is False.
            RemovalRefusedError: most articles would go and ``allow_removal`` is False.
        """
        index = await self.collection(collection)
        return await index.reindex(
            path, rebuild=rebuild, allow_removal=allow_removal, progress=progress
        )

    async def ingest(
        self,
        files: list[tuple[str, bytes]],
        *,
        collection: str = SHARED,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Save uploaded article files into a collection and reindex it.

        Raises:
            IndexBusyError: a reindex is already running (nothing is saved then).
        """
        index = await self.collection(collection)
        async with index.exclusive():
            index.articles.mkdir(parents=True, exist_ok=True)
            report = await asyncio.to_thread(
                save_uploads,
                files,
                index.articles,
                max_bytes=self.settings.ingest_max_bytes,
                extensions=self.settings.ingest_extensions,
            )
            if report.saved:
                report.summary = await index.reindex_now(None, progress=progress)
        return report

    async def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        collection: str = SHARED,
        asked_at: datetime | None = None,
        private: bool = False,
        logged: bool = True,
    ) -> Answer:
        """Answer ``question`` with quoted, cited passages.

        Args:
            question: the question, in plain words.
            k: passages to show (the settings' ``top_k`` by default); whether the answer
                is found does not depend on it.
            collection: the collection asked; the shared one is searched with it when
                the ``include_shared`` setting says so.
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
        async with self.reading(collection) as served:
            folded = " ".join(question.lower().split())
            versions = tuple((index.name, index.generation.name) for index in served)
            key = (versions, folded, top_k, when.date())
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

    @contextlib.asynccontextmanager
    async def reading(self, collection: str = SHARED) -> AsyncIterator[list[Served]]:
        """Pin the versions a question to ``collection`` is answered from (and the shared
        one's, when included), so a swap cannot close them underneath.

        Raises:
            NotIndexedError: none of them is indexed yet.
        """
        names = [collection]
        if collection != SHARED and self.settings.include_shared:
            names.append(SHARED)
        indexes = [await self.collection(name) for name in names]
        async with contextlib.AsyncExitStack() as stack:
            served = [
                await stack.enter_async_context(index.reading())
                for index in indexes
                if index.indexed
            ]
            if not served:
                raise NotIndexedError("nothing is indexed yet: run `citebot index` first")
            yield served

    async def keep_answer(
        self,
        answer: Answer,
        *,
        user: str,
        k: int,
        asked_at: datetime,
        private: bool = False,
        collection: str = SHARED,
    ) -> str:
        """Keep what is needed to rebuild ``answer`` (asked by ``user``) later; its id."""
        assert self._activity is not None, "engine is closed"
        shown = answer.sentence.text if answer.sentence else "(not found)"
        return await self._activity.keep_answer(
            user, answer.question, shown, k, asked_at, private=private, collection=collection
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

    async def stats(self, collection: str = SHARED) -> IndexStats:
        """What is indexed now in ``collection``.

        Raises:
            NotIndexedError: nothing has been indexed yet.
        """
        return await (await self.collection(collection)).stats()

    async def feeds(self, collection: str = SHARED) -> list[FeedRecord]:
        """The feeds ``collection`` follows, as their last poll left them."""
        return await (await self._registry(collection)).feeds()

    async def add_feed(
        self, url: str, *, collection: str = SHARED, report_channel: int | None = None
    ) -> bool:
        """Follow the feed at ``url`` (polled from the next refresh on); False when it was
        followed already.

        Args:
            report_channel: the Discord channel this collection's refresh reports go to.

        Raises:
            FetchError: not an http or https URL.
        """
        _check_web_url(url)
        registry = await self._registry(collection)
        if report_channel is not None:
            await registry.set_report_channel(report_channel)
        return await registry.add(url)

    async def remove_feed(self, url: str, *, collection: str = SHARED) -> bool:
        """Stop following ``url``; its stories stay indexed. False when it was not followed."""
        return await (await self._registry(collection)).remove(url)

    async def report_channel(self, collection: str = SHARED) -> int | None:
        """Where ``collection``'s refresh reports go on Discord, if anywhere."""
        own = await (await self._registry(collection)).report_channel()
        return own if own is not None or collection != SHARED else self.settings.feed_report_channel

    async def last_report(self, collection: str = SHARED) -> PostedReport | None:
        """The last refresh report posted for ``collection``, if any."""
        return await (await self._registry(collection)).last_report()

    async def remember_report(self, report: PostedReport, *, collection: str = SHARED) -> None:
        """Keep where ``collection``'s latest refresh report was posted, and what it said."""
        await (await self._registry(collection)).set_last_report(report)

    async def refresh_feeds(
        self, *, collection: str = SHARED, only: str | None = None
    ) -> RefreshReport:
        """Poll ``collection``'s feeds (or only the one at ``only``), save what is new or
        edited, and reindex the collection incrementally so it is answerable at once.

        One refresh of a collection runs at a time, across processes: a second one here
        waits; another process's is refused. It waits for a reindex running in this
        process; when another process holds the index, the saved stories are indexed by
        the next refresh (or by that reindex). Stopped midway, nothing is lost: stories
        saved but not yet indexed are indexed next time, and a feed whose stories were
        not all saved is read again in full.

        Raises:
            IndexBusyError: another process is refreshing this collection's feeds.
        """
        index = await self.collection(collection)
        registry = await self._registry(collection)
        async with self._refreshing.setdefault(collection, asyncio.Lock()):
            with index.data.feeds_lock():
                async with self._fetcher() as fetcher:
                    report = await poll_feeds(registry, fetcher, index.articles, only)
                if report.saved or await registry.pending_reindex():
                    try:
                        async with index.exclusive(wait=True):
                            report.summary = await index.reindex_now(None)
                        await registry.set_pending_reindex(False)
                    except IndexBusyError:
                        log.info(
                            "%s: index busy elsewhere; new stories indexed next time", collection
                        )
        return report

    async def refresh_all_feeds(
        self, on_report: Callable[[str, RefreshReport], Awaitable[None]] | None = None
    ) -> dict[str, RefreshReport]:
        """Refresh every collection that follows feeds, ``FEED_COLLECTIONS_AT_ONCE`` at a
        time (so one server's long refresh does not hold up the others), handing each
        report to ``on_report`` as soon as it is ready. Nothing one collection does (a bad
        name on disk, an index of another format, a failing disk) stops the others: it
        is logged."""
        reports: dict[str, RefreshReport] = {}
        places = asyncio.Semaphore(FEED_COLLECTIONS_AT_ONCE)

        async def refresh(name: str) -> None:
            async with places:
                try:
                    if not (self._folders(name)[1].root / REGISTRY_FILE).exists():
                        return  # never followed a feed: not even opened
                    if not await self.feeds(name):
                        return
                    reports[name] = report = await self.refresh_feeds(collection=name)
                    if on_report is not None:
                        await on_report(name, report)
                except IndexBusyError as error:
                    log.info("feeds of %s not refreshed here: %s", name, error)
                except Exception:
                    log.exception("refreshing the feeds of %s failed", name)

        await asyncio.gather(*(refresh(name) for name in self.collection_names()))
        return reports

    async def follow_feeds(
        self,
        on_report: Callable[[str, RefreshReport], Awaitable[None]],
        stop: asyncio.Event,
    ) -> None:
        """Refresh every collection's feeds every ``feed_refresh_minutes`` until ``stop``
        is set, handing each collection's report to ``on_report`` (the bot posts it). A
        round under way when ``stop`` is set is finished first."""
        interval = self.settings.feed_refresh_minutes * 60
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if stop.is_set():
                return
            await self.refresh_all_feeds(on_report)

    async def add_link(self, url: str, *, collection: str = SHARED) -> tuple[Article, IndexSummary]:
        """Fetch the page at ``url``, keep it as an article of ``collection`` and index it.

        Raises:
            FetchError: not an http(s) URL, the page could not be fetched or has no text.
            IndexBusyError: a reindex of the collection is running.
        """
        _check_web_url(url)
        index = await self.collection(collection)
        async with self._fetcher() as fetcher:  # before the lock: it may be slow
            article = await fetch_link(fetcher, url, index.articles)
        async with index.exclusive():
            return article, await index.reindex_now(None)

    def _fetcher(self) -> Fetcher:
        """A fetcher on the current policy; all of them share each host's limits."""
        policy = self.fetch_policy
        hosts = self._host_limits.setdefault(policy, HostLimits(policy))
        return Fetcher(policy, hosts)

    async def _registry(self, collection: str) -> FeedRegistry:
        found = self._registries.get(collection)
        if found is None:
            index = await self.collection(collection)
            found = self._registries[collection] = await FeedRegistry.open(index.data.root)
        return found

    async def follow_published(self) -> bool:
        """Serve versions other processes (``citebot index``) published, in every open
        collection; True when one changed."""
        changed = False
        for index in list(self._collections.values()):
            changed |= await index.follow_published()
        return changed

    async def watch_published(self, interval: float = WATCH_SECONDS) -> None:
        """Follow versions published by other processes until cancelled (the bot runs it)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.follow_published()
            except CitebotError as error:
                log.warning("could not load a newly published index: %s", error)


def _check_web_url(url: str) -> None:
    """Raises FetchError unless ``url`` is an absolute http or https URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(url, "only http and https links can be followed")


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
