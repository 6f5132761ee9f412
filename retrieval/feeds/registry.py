"""The feeds a collection follows and what each poll learnt, in SQLite beside its index.

``feeds`` holds one row a followed feed (its validators for conditional GET, the last
error); ``items`` one row an entry seen, with the fingerprint of what the feed said of it
(an edit changes it), the hash of its text (the same story under another URL is kept
once) and the file in the collection folder that holds it. ``meta`` keeps the Discord
channel refresh reports go to, the last report posted there (a quiet refresh updates it,
also after a restart), and whether saved items still wait to be indexed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import aiosqlite

REGISTRY_FILE = "feeds.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    added_at TEXT NOT NULL,
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    polled_at TEXT,
    error TEXT
);
CREATE TABLE IF NOT EXISTS items (
    feed_url TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    file TEXT NOT NULL,
    PRIMARY KEY (feed_url, key)
);
CREATE INDEX IF NOT EXISTS items_text ON items(text_hash);
CREATE INDEX IF NOT EXISTS items_file ON items(file);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_REPORT_CHANNEL = "report_channel"
_LAST_REPORT = "last_report"
_PENDING = "pending_reindex"


@dataclass(frozen=True)
class FeedRecord:
    """A followed feed as the last poll left it.

    Attributes:
        title: the feed's own title, once read.
        etag, last_modified: validators of the last copy read.
        polled_at: when it was last polled; None before the first poll.
        error: why the last poll failed, or None when it went well.
        items: entries kept from it so far.
    """

    url: str
    added_at: datetime
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    polled_at: datetime | None = None
    error: str | None = None
    items: int = 0


@dataclass(frozen=True)
class PostedReport:
    """The last refresh report posted on Discord: where, its text, and the failures it
    lists (a later refresh with no news and the same failures only updates it)."""

    channel_id: int
    message_id: int
    text: str
    failures: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class KnownItem:
    """An entry seen before: what the feed said of it (fingerprint) and where it is kept."""

    fingerprint: str
    text_hash: str
    file: str


class FeedRegistry:
    """One collection's feeds; open with :meth:`open` or ``async with``."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, folder: Path) -> FeedRegistry:
        folder.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(folder / REGISTRY_FILE)
        await db.executescript(_SCHEMA)
        await db.commit()
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def add(self, url: str) -> bool:
        """Follow ``url``; False when it was followed already."""
        cursor = await self._db.execute(
            "INSERT OR IGNORE INTO feeds(url, added_at) VALUES (?, ?)",
            (url, datetime.now(UTC).isoformat()),
        )
        await self._db.commit()
        return cursor.rowcount > 0

    async def remove(self, url: str) -> bool:
        """Stop following ``url`` (its articles stay indexed); False when it was not followed."""
        cursor = await self._db.execute("DELETE FROM feeds WHERE url = ?", (url,))
        await self._db.execute("DELETE FROM items WHERE feed_url = ?", (url,))
        await self._db.commit()
        return cursor.rowcount > 0

    async def feeds(self) -> list[FeedRecord]:
        """The followed feeds, oldest first."""
        rows = await self._db.execute_fetchall(
            "SELECT f.url, f.added_at, f.title, f.etag, f.last_modified, f.polled_at, f.error,"
            " (SELECT COUNT(*) FROM items i WHERE i.feed_url = f.url)"
            " FROM feeds f ORDER BY f.added_at, f.url"
        )
        return [
            FeedRecord(
                url=row[0],
                added_at=datetime.fromisoformat(row[1]),
                title=row[2],
                etag=row[3],
                last_modified=row[4],
                polled_at=datetime.fromisoformat(row[5]) if row[5] else None,
                error=row[6],
                items=row[7],
            )
            for row in rows
        ]

    async def polled(
        self,
        url: str,
        *,
        title: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record a poll: the validators and title of a good one, or why it failed (then
        the old validators are kept)."""
        now = datetime.now(UTC).isoformat()
        if error is not None:
            await self._db.execute(
                "UPDATE feeds SET polled_at = ?, error = ? WHERE url = ?", (now, error, url)
            )
        else:
            await self._db.execute(
                "UPDATE feeds SET polled_at = ?, error = NULL, etag = ?, last_modified = ?,"
                " title = COALESCE(?, title) WHERE url = ?",
                (now, etag, last_modified, title, url),
            )
        await self._db.commit()

    async def items(self, feed_url: str) -> dict[str, KnownItem]:
        """The entries seen on ``feed_url``, by key."""
        rows = await self._db.execute_fetchall(
            "SELECT key, fingerprint, text_hash, file FROM items WHERE feed_url = ?", (feed_url,)
        )
        return {row[0]: KnownItem(row[1], row[2], row[3]) for row in rows}

    async def file_with_text(self, text_hash: str) -> str | None:
        """The file holding a story with this text, from any feed, or None."""
        cursor = await self._db.execute(
            "SELECT file FROM items WHERE text_hash = ? LIMIT 1", (text_hash,)
        )
        row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def text_of_file(self, file: str) -> str | None:
        """The text hash of the story kept in ``file``, or None when no entry names it."""
        cursor = await self._db.execute(
            "SELECT text_hash FROM items WHERE file = ? LIMIT 1", (file,)
        )
        row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def remember(self, feed_url: str, key: str, item: KnownItem) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO items(feed_url, key, fingerprint, text_hash, file)"
            " VALUES (?, ?, ?, ?, ?)",
            (feed_url, key, item.fingerprint, item.text_hash, item.file),
        )
        await self._db.commit()

    async def report_channel(self) -> int | None:
        """The Discord channel refresh reports of this collection go to, if one is set."""
        value = await self._meta(_REPORT_CHANNEL)
        return int(value) if value else None

    async def set_report_channel(self, channel_id: int) -> None:
        await self._set_meta(_REPORT_CHANNEL, str(channel_id))

    async def last_report(self) -> PostedReport | None:
        value = await self._meta(_LAST_REPORT)
        if value is None:
            return None
        saved = json.loads(value)
        failures = tuple((str(url), str(reason)) for url, reason in saved["failures"])
        return PostedReport(saved["channel_id"], saved["message_id"], saved["text"], failures)

    async def set_last_report(self, report: PostedReport) -> None:
        saved = {
            "channel_id": report.channel_id,
            "message_id": report.message_id,
            "text": report.text,
            "failures": report.failures,
        }
        await self._set_meta(_LAST_REPORT, json.dumps(saved))

    async def pending_reindex(self) -> bool:
        """Whether items were saved that a reindex has not taken in yet."""
        return await self._meta(_PENDING) == "1"

    async def set_pending_reindex(self, pending: bool) -> None:
        await self._set_meta(_PENDING, "1" if pending else "0")

    async def _meta(self, name: str) -> str | None:
        cursor = await self._db.execute("SELECT value FROM meta WHERE name = ?", (name,))
        row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def _set_meta(self, name: str, value: str) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", (name, value)
        )
        await self._db.commit()
