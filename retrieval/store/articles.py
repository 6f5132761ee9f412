"""Articles, passages and their vectors in SQLite, through aiosqlite.

One store file lives in each index generation folder (see :mod:`retrieval.index.datafolder`),
so it is replaced together with the vector and lexical indexes.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite
import numpy as np

from retrieval.text.boilerplate import MIN_ARTICLES
from retrieval.types import Article, Citation, PassageSpan

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    url TEXT,
    title TEXT NOT NULL,
    publisher TEXT,
    author TEXT,
    published_at TEXT,
    text TEXT NOT NULL,
    summary_only INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
CREATE TABLE IF NOT EXISTS sentence_keys (
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    key BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sentence_keys_article ON sentence_keys(article_id);
CREATE INDEX IF NOT EXISTS sentence_keys_key ON sentence_keys(key);
CREATE TABLE IF NOT EXISTS boilerplate (key BLOB PRIMARY KEY);
"""


@dataclass(frozen=True)
class StoredArticle:
    """What the indexer needs to know of an indexed article to compare it with a new read."""

    id: int
    source: str
    content_hash: str
    text_hash: str
    url: str | None


@dataclass(frozen=True)
class PassageRecord:
    """A passage with its article's text and citation, as read for answering."""

    passage_id: int
    article_id: int
    ordinal: int
    start: int
    end: int
    article_text: str
    citation: Citation
    vector: np.ndarray

    @property
    def text(self) -> str:
        return self.article_text[self.start : self.end]


class Store:
    """One SQLite file; open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, connection: aiosqlite.Connection, readers: list[sqlite3.Connection]) -> None:
        self._db = connection
        self._all_readers = readers
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        for reader in readers:
            self._readers.put(reader)

    @classmethod
    async def open(cls, path: Path, *, readers: int = 0) -> Store:
        """Open (creating if needed) the store at ``path``.

        Args:
            readers: read-only connections to open now for :meth:`passages_now` (a served
                store); opened with the store, so answering never opens a file.
        """
        connection = await aiosqlite.connect(path)
        await connection.execute("PRAGMA foreign_keys = ON")
        await connection.execute("PRAGMA journal_mode = WAL")
        await connection.executescript(_SCHEMA)
        await connection.commit()
        uri = f"{path.resolve().as_uri()}?mode=ro"
        pool = await asyncio.to_thread(
            lambda: [
                sqlite3.connect(uri, uri=True, check_same_thread=False) for _ in range(readers)
            ]
        )
        return cls(connection, pool)

    async def close(self) -> None:
        for reader in self._all_readers:
            reader.close()
        await self._db.close()

    async def stored_articles(self) -> dict[str, StoredArticle]:
        """Every indexed article by source."""
        query = "SELECT id, source, content_hash, text_hash, url FROM articles"
        async with self._db.execute(query) as cursor:
            return {row[1]: StoredArticle(*row) async for row in cursor}

    async def delete_articles(self, article_ids: Sequence[int]) -> list[int]:
        """Delete articles and their passages; returns the deleted passage ids."""
        removed: list[int] = []
        for chunk in _chunks(list(article_ids)):
            marks = ",".join("?" * len(chunk))
            async with self._db.execute(
                f"SELECT id FROM passages WHERE article_id IN ({marks})", chunk
            ) as cursor:
                removed.extend([row[0] async for row in cursor])
            await self._db.execute(f"DELETE FROM passages WHERE article_id IN ({marks})", chunk)
            await self._db.execute(
                f"DELETE FROM sentence_keys WHERE article_id IN ({marks})", chunk
            )
            await self._db.execute(f"DELETE FROM articles WHERE id IN ({marks})", chunk)
        await self._db.commit()
        return removed

    async def add_article(
        self,
        article: Article,
        content_hash: str,
        text_hash: str,
        sentence_keys: Iterable[bytes],
        spans: Sequence[PassageSpan],
        vectors: np.ndarray,
    ) -> list[int]:
        """Insert an article with its sentence keys (see :mod:`retrieval.text.boilerplate`),
        passages and vectors; returns the new passage ids."""
        cursor = await self._db.execute(
            "INSERT INTO articles(source, content_hash, text_hash, url, title, publisher, author,"
            " published_at, text, summary_only) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article.source,
                content_hash,
                text_hash,
                article.url,
                article.title,
                article.publisher,
                article.author,
                article.published_at.isoformat() if article.published_at else None,
                article.text,
                int(article.summary_only),
            ),
        )
        article_id = cursor.lastrowid
        await self._db.executemany(
            "INSERT INTO sentence_keys(article_id, key) VALUES (?, ?)",
            [(article_id, key) for key in sentence_keys],
        )
        passage_ids: list[int] = []
        for ordinal, (span, vector) in enumerate(zip(spans, vectors, strict=True)):
            row = await self._db.execute(
                "INSERT INTO passages(article_id, ordinal, start, end, vector)"
                " VALUES (?, ?, ?, ?, ?)",
                (article_id, ordinal, span.start, span.end, vector.astype(np.float32).tobytes()),
            )
            assert row.lastrowid is not None
            passage_ids.append(row.lastrowid)
        return passage_ids

    async def commit(self) -> None:
        await self._db.commit()

    async def refresh_boilerplate(self) -> int:
        """Recount which sentences are boilerplate (see :mod:`retrieval.text.boilerplate`);
        returns how many are."""
        await self._db.execute("DELETE FROM boilerplate")
        await self._db.execute(
            "INSERT INTO boilerplate(key) SELECT key FROM sentence_keys GROUP BY key"
            " HAVING count(DISTINCT article_id) >= ?",
            (MIN_ARTICLES,),
        )
        await self._db.commit()
        async with self._db.execute("SELECT count(*) FROM boilerplate") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def boilerplate_keys(self) -> frozenset[bytes]:
        """The keys of every boilerplate sentence."""
        async with self._db.execute("SELECT key FROM boilerplate") as cursor:
            return frozenset([row[0] async for row in cursor])

    async def all_vectors(self, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every passage, to rebuild a vector index without re-embedding."""
        async with self._db.execute("SELECT id, vector FROM passages ORDER BY id") as cursor:
            rows = list(await cursor.fetchall())
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32)
        return ids, vectors.reshape(len(rows), dimension)

    async def all_passage_texts(self) -> tuple[np.ndarray, list[str]]:
        """(ids, title + passage text) of every passage, for the lexical index."""
        query = (
            "SELECT p.id, a.title, substr(a.text, p.start + 1, p.end - p.start) "
            "FROM passages p JOIN articles a ON a.id = p.article_id ORDER BY p.id"
        )
        async with self._db.execute(query) as cursor:
            rows = list(await cursor.fetchall())
        return await asyncio.to_thread(_ids_and_texts, rows)

    def passages_now(self, passage_ids: Iterable[int]) -> dict[int, PassageRecord]:
        """Passages by id, with article text and citation; for the worker thread answering.

        Reads through one of the read-only connections opened with the store (waiting for
        one when every one is in use), so a question costs no round trips through the
        event loop and the aiosqlite thread.
        """
        if not self._all_readers:
            raise RuntimeError("this store was opened without read connections")
        reader = self._readers.get()
        try:
            found: dict[int, PassageRecord] = {}
            for chunk in _chunks(list(dict.fromkeys(int(i) for i in passage_ids))):
                for row in reader.execute(_passages_query(len(chunk)), chunk):
                    found[row[0]] = _passage_record(row)
            return found
        finally:
            self._readers.put(reader)

    async def counts(self) -> tuple[int, int]:
        """(articles, passages)."""
        async with self._db.execute(
            "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM passages)"
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    async def backup_to(self, path: Path) -> None:
        """Copy the whole store to ``path`` consistently (SQLite's online backup)."""
        target = await aiosqlite.connect(path)
        try:
            await self._db.backup(target)
        finally:
            await target.close()


def _passages_query(count: int) -> str:
    marks = ",".join("?" * count)
    return (
        "SELECT p.id, p.article_id, p.start, p.end, a.text, a.title, a.publisher,"
        " a.author, a.published_at, a.url, p.vector, p.ordinal, a.summary_only FROM passages p"
        f" JOIN articles a ON a.id = p.article_id WHERE p.id IN ({marks})"
    )


def _passage_record(row: Any) -> PassageRecord:
    published = datetime.fromisoformat(row[8]) if row[8] else None
    citation = Citation(row[5], row[6], row[7], published, row[9], bool(row[12]))
    vector = np.frombuffer(row[10], dtype=np.float32)
    return PassageRecord(row[0], row[1], row[11], row[2], row[3], row[4], citation, vector)


def _chunks(items: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _ids_and_texts(rows: list[Any]) -> tuple[np.ndarray, list[str]]:
    """(ids, title + passage text) from (id, title, text) rows; a long loop, run off the loop."""
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    return ids, [f"{title}\n{text}" for _, title, text in rows]
