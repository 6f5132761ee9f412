"""One collection: its articles folder, its index versions, the version it serves.

A collection is a folder of articles and the data folder its index versions live in.
Reindexing builds a new version beside the served one and swaps it in; questions keep
being answered from the old one until then. Versions published by another process
(``citebot index`` in a terminal, the worker) are followed without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import IndexBusyError, NotIndexedError, SettingsError
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
from retrieval.models.embedder import Embedder
from retrieval.store.articles import Store
from retrieval.types import IndexStats, IndexSummary

log = logging.getLogger(__name__)

SHARED = "shared"
"""The collection of the settings' folder, included in every server's answers by default."""
READ_CONNECTIONS = 8
"""Read-only SQLite connections opened with a served version (one per answering thread)."""
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def check_name(name: str) -> str:
    """A collection name: lower-case letters, digits and dashes.

    Raises:
        SettingsError: the name is not one.
    """
    if not _NAME.match(name):
        raise SettingsError(f"collection {name!r}: use lower-case letters, digits and dashes")
    return name


@dataclass
class Served:
    """One version, loaded and held: what questions are answered from."""

    name: str
    """The collection's name."""
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
    async def load(
        cls, name: str, generation: Path, embedder: Embedder, data: DataFolder
    ) -> Served:
        """Hold the version (so no process deletes it), then load every part of it, the
        store's read connections included."""
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
        return cls(name, generation, hold, manifest, store, vectors, lexical, keys)

    async def close(self) -> None:
        await self.store.close()
        self.hold.release()


class CollectionIndex:
    """A collection's articles and index: reindex it, read from its served version.

    Args:
        name: the collection's name.
        articles: its folder of articles (uploads and feed items go in it too).
        data: its data folder (index versions).
        embedder: the model its passages are embedded with.
        passage_tokens: the passage size.
    """

    def __init__(
        self, name: str, articles: Path, data: DataFolder, embedder: Embedder, passage_tokens: int
    ) -> None:
        self.name = name
        self.articles = articles
        self.data = data
        self._embedder = embedder
        self._passage_tokens = passage_tokens
        self._served: Served | None = None
        self._reindexing = asyncio.Lock()

    @classmethod
    async def open(
        cls, name: str, articles: Path, data: DataFolder, embedder: Embedder, passage_tokens: int
    ) -> CollectionIndex:
        """Open the collection and load the version it serves, if any.

        Raises:
            IndexMismatchError: the index on disk was built with another model.
        """
        collection = cls(name, articles, data, embedder, passage_tokens)
        await asyncio.to_thread(data.tidy)
        collection._served = await collection._load_current()
        return collection

    async def close(self) -> None:
        """Wait for a running reindex to finish, then close the served version."""
        async with self._reindexing:
            pass
        if self._served is not None:
            await self._served.close()
            self._served = None

    @property
    def reindexing(self) -> bool:
        """True while a reindex of this collection runs in this process."""
        return self._reindexing.locked()

    @property
    def indexed(self) -> bool:
        """Whether a version is served."""
        return self._served is not None

    @contextlib.asynccontextmanager
    async def exclusive(self, *, wait: bool = False) -> AsyncIterator[None]:
        """Hold this process's reindex lock (saving uploads under it, say).

        Args:
            wait: wait for a running reindex to end instead of refusing (feed refreshes,
                which nobody is watching).

        Raises:
            IndexBusyError: a reindex of this collection is running here (and not ``wait``).
        """
        if self._reindexing.locked() and not wait:
            raise IndexBusyError("a reindex is already running")
        async with self._reindexing:
            yield

    async def reindex(
        self,
        path: Path | None = None,
        *,
        rebuild: bool = False,
        allow_removal: bool = False,
        progress: Progress | None = None,
    ) -> IndexSummary:
        """Bring the index up to date with the articles, then serve the new version.

        Raises:
            IndexBusyError: a reindex is already running (here or in another process).
            ArticleError: the folder does not exist.
            IndexMismatchError: the index was built with another model and rebuild is False.
            RemovalRefusedError: most articles would go and ``allow_removal`` is False.
        """
        async with self.exclusive():
            return await self.reindex_now(path, rebuild, allow_removal, progress)

    async def reindex_now(
        self,
        path: Path | None,
        rebuild: bool = False,
        allow_removal: bool = False,
        progress: Progress | None = None,
    ) -> IndexSummary:
        """:meth:`reindex`, for a caller already holding :meth:`exclusive`."""
        with self.data.reindex_lock():
            served = self.data.current()
            summary, generation = await reindex(
                path or self.articles,
                served,
                self.data.new_generation,
                self._embedder,
                self._passage_tokens,
                rebuild=rebuild,
                allow_removal=allow_removal,
                progress=progress,
            )
            if generation is not None:
                fresh = await Served.load(self.name, generation, self._embedder, self.data)
                await asyncio.to_thread(self.data.publish, generation)
                await self._swap(fresh)
                await asyncio.to_thread(self.data.remove_stale, {generation})
            elif self._served is None and served is not None:
                await self._swap(await Served.load(self.name, served, self._embedder, self.data))
        return summary

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
    async def reading(self) -> AsyncIterator[Served]:
        """Pin the served version for one read, so a swap cannot close it underneath.

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

    async def follow_published(self) -> bool:
        """Serve the version another process published, if there is a newer one; True
        when the served version changed."""
        if self._reindexing.locked():
            return False  # this process is publishing; it swaps in its own version
        current = await asyncio.to_thread(self.data.current)
        served = self._served
        if current is None or (served is not None and served.generation == current):
            return False
        fresh = await self._load_current()
        if fresh is None or (served is not None and fresh.generation == served.generation):
            if fresh is not None:
                await fresh.close()
            return False
        log.info("%s: serving the index %s published elsewhere", self.name, fresh.generation.name)
        await self._swap(fresh)
        return True

    async def _swap(self, fresh: Served) -> None:
        old, self._served = self._served, fresh
        if old is not None:
            old.retired = True
            if old.readers == 0:
                await old.close()

    async def _load_current(self) -> Served | None:
        """The version CURRENT names, loaded (None before the first index). A version
        deleted between reading CURRENT and holding it is looked up again."""
        for _ in range(5):
            current = await asyncio.to_thread(self.data.current)
            if current is None:
                return None
            try:
                return await Served.load(self.name, current, self._embedder, self.data)
            except FileNotFoundError:
                log.debug("%s went away while loading; looking again", current.name)
        raise NotIndexedError("the index keeps changing under this process; try again")
