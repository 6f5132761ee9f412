"""What citebot keeps about its use, in SQLite beside the index generations.

Three tables: ``questions`` (the question log), ``answers`` (what is needed to rebuild an
answer and to know who asked it, so that its buttons outlive the process) and
``feedback`` (votes, one per user and answer). Rows older than the retention period
are deleted at open and then daily. Users appear only as keys made with HMAC-SHA256
and a secret created once per install in the data folder, so that a key cannot be
recomputed from a user id without that folder. The text of a private question is never
written: it is kept in memory, for this process only.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path

import aiosqlite

from retrieval.answer.cache import LruCache

KEY_FILE = "activity.key"
"""The install's secret for user keys, beside the activity database (mode 0600)."""
PURGE_EVERY = timedelta(days=1)
PRIVATE_QUESTIONS_KEPT = 1000
"""Private questions remembered (in memory) so that their answers can turn pages."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    user_key TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    answer_id TEXT
);
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    found INTEGER NOT NULL,
    milliseconds REAL NOT NULL,
    private INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    user_key TEXT NOT NULL,
    question TEXT,
    shown TEXT,
    k INTEGER NOT NULL,
    asked_at TEXT NOT NULL,
    private INTEGER NOT NULL,
    collection TEXT NOT NULL DEFAULT 'shared'
);
"""
_ADDED_COLUMNS = (
    ("feedback", "answer_id", "TEXT"),
    ("questions", "private", "INTEGER NOT NULL DEFAULT 0"),
    ("answers", "collection", "TEXT NOT NULL DEFAULT 'shared'"),
)
"""Columns that databases made before answers were kept lack."""
_ONE_VOTE = "CREATE UNIQUE INDEX IF NOT EXISTS one_vote ON feedback(answer_id, user_key)"


class VoteOutcome(Enum):
    """What became of a vote."""

    RECORDED = "recorded"
    ALREADY_VOTED = "already voted"
    EXPIRED = "expired"
    """The answer is no longer kept (past the retention period, or forgotten)."""


@dataclass(frozen=True)
class KeptAnswer:
    """An answer given earlier, as one reader finds it.

    Attributes:
        question: what was asked; None for a private question this process does not know.
        k: the passages asked for.
        asked_at: when it was asked (dated questions are answered as of then).
        yours: whether the reader looking it up asked it.
        collection: the collection it was asked of.
    """

    id: str
    question: str | None
    k: int
    asked_at: datetime
    private: bool
    yours: bool
    collection: str = "shared"


def install_secret(path: Path) -> bytes:
    """The secret at ``path``, created (random, mode 0600) if there is none yet.

    It is written to a temporary file and linked into place, so that another process
    starting at the same moment reads the same, complete secret.
    """
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes()
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:  # mkstemp makes it 0600
            handle.write(secrets.token_bytes(32))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_bytes()


def _now() -> datetime:
    return datetime.now(UTC)


class ActivityLog:
    """Questions asked, answers kept for their buttons, and votes."""

    def __init__(
        self,
        connection: aiosqlite.Connection,
        secret: bytes,
        retention: timedelta,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._db = connection
        self._secret = secret
        self._retention = retention
        self._clock = clock
        self._purged_at = datetime.min.replace(tzinfo=UTC)
        self._private: LruCache[str] = LruCache(PRIVATE_QUESTIONS_KEPT)

    @classmethod
    async def open(
        cls, path: Path, retention_days: int = 30, clock: Callable[[], datetime] = _now
    ) -> ActivityLog:
        """Open (or create) the log at ``path`` and delete what is past ``retention_days``."""
        secret = install_secret(path.parent / KEY_FILE)
        connection = await aiosqlite.connect(path)
        await connection.execute("PRAGMA journal_mode = WAL")
        # a lost vote on power failure is acceptable; an fsync on every question is not
        await connection.execute("PRAGMA synchronous = NORMAL")
        await connection.executescript(_SCHEMA)
        for table, column, declaration in _ADDED_COLUMNS:
            async with connection.execute(f"PRAGMA table_info({table})") as cursor:
                columns = {row[1] async for row in cursor}
            if column not in columns:
                await connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        await connection.execute(_ONE_VOTE)
        await connection.commit()
        log = cls(connection, secret, timedelta(days=retention_days), clock)
        await log.purge()
        return log

    async def close(self) -> None:
        await self._db.close()

    def user_key(self, user: str) -> str:
        """The key ``user`` is stored under: the same within this install, unguessable outside."""
        return hmac.new(self._secret, user.encode(), hashlib.sha256).hexdigest()[:32]

    async def purge(self) -> int:
        """Delete the rows older than the retention period; how many went."""
        now = self._clock()
        cutoff = (now - self._retention).isoformat()
        deleted = 0
        for table in ("questions", "answers", "feedback"):
            cursor = await self._db.execute(f"DELETE FROM {table} WHERE created_at < ?", (cutoff,))
            deleted += cursor.rowcount
        await self._db.commit()
        self._purged_at = now
        return deleted

    async def _purge_if_due(self) -> None:
        if self._clock() - self._purged_at >= PURGE_EVERY:
            await self.purge()

    async def record_question(
        self, question: str, found: bool, milliseconds: float, *, private: bool = False
    ) -> None:
        """Log a question (a private one without its text)."""
        await self._purge_if_due()
        await self._db.execute(
            "INSERT INTO questions(created_at, question, found, milliseconds, private)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                self._clock().isoformat(),
                "" if private else question,
                int(found),
                milliseconds,
                int(private),
            ),
        )
        await self._db.commit()

    async def keep_answer(
        self,
        user: str,
        question: str,
        shown: str,
        k: int,
        asked_at: datetime,
        *,
        private: bool = False,
        collection: str = "shared",
    ) -> str:
        """Keep what rebuilds an answer given to ``user``, and the text shown; its new id.

        A private question and its answer are not written; the question is remembered in
        memory, so its answer turns pages until this process ends.
        """
        await self._purge_if_due()
        answer_id = secrets.token_urlsafe(12)
        await self._db.execute(
            "INSERT INTO answers(id, created_at, user_key, question, shown, k, asked_at, private,"
            " collection) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                answer_id,
                self._clock().isoformat(),
                self.user_key(user),
                None if private else question,
                None if private else shown,
                k,
                asked_at.isoformat(),
                int(private),
                collection,
            ),
        )
        await self._db.commit()
        if private:
            self._private.put(answer_id, question)
        return answer_id

    async def kept_answer(self, answer_id: str, reader: str) -> KeptAnswer | None:
        """The answer ``answer_id`` as ``reader`` finds it, or None if it is not kept."""
        async with self._db.execute(
            "SELECT user_key, question, k, asked_at, private, collection FROM answers WHERE id = ?",
            (answer_id,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        user_key, question, k, asked_at, private, collection = row
        if private:
            question = self._private.get(answer_id)
        return KeptAnswer(
            answer_id,
            question,
            int(k),
            datetime.fromisoformat(asked_at),
            bool(private),
            hmac.compare_digest(user_key, self.user_key(reader)),
            collection,
        )

    async def record_vote(self, user: str, answer_id: str, vote: int) -> VoteOutcome:
        """Store ``user``'s 👍 (+1) or 👎 (-1) on a kept answer, with its question and answer.

        One vote per user and answer; a private answer's vote is stored without its text.
        """
        if vote not in (-1, 1):
            raise ValueError("vote must be +1 or -1")
        cursor = await self._db.execute(
            "INSERT OR IGNORE INTO feedback(created_at, user_key, question, answer, vote, answer_id)"
            " SELECT ?, ?, coalesce(question, ''), coalesce(shown, ''), ?, id"
            " FROM answers WHERE id = ?",
            (self._clock().isoformat(), self.user_key(user), vote, answer_id),
        )
        await self._db.commit()
        if cursor.rowcount > 0:
            return VoteOutcome.RECORDED
        async with self._db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)) as found:
            kept = await found.fetchone() is not None
        return VoteOutcome.ALREADY_VOTED if kept else VoteOutcome.EXPIRED

    async def forget(self, user: str) -> int:
        """Delete ``user``'s votes and answers (and the votes on them, which quote the question).

        Returns how many rows were deleted. The question log holds no user key: a
        user's questions there go with the retention period.
        """
        key = self.user_key(user)
        votes = await self._db.execute(
            "DELETE FROM feedback WHERE user_key = ?"
            " OR answer_id IN (SELECT id FROM answers WHERE user_key = ?)",
            (key, key),
        )
        answers = await self._db.execute("DELETE FROM answers WHERE user_key = ?", (key,))
        await self._db.commit()
        return votes.rowcount + answers.rowcount

    async def votes(self) -> list[tuple[str, str, int]]:
        """(question, answer, vote) of every vote, oldest first."""
        async with self._db.execute(
            "SELECT question, answer, vote FROM feedback ORDER BY id"
        ) as cursor:
            return [(q, a, int(v)) async for q, a, v in cursor]
