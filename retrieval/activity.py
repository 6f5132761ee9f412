"""Feedback votes and a log of questions, kept apart from index generations."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    user_key TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1))
);
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    found INTEGER NOT NULL,
    milliseconds REAL NOT NULL
);
"""


def pseudonym(user: str) -> str:
    """A stable key for a user that does not store who they are."""
    return hashlib.sha256(f"citebot:{user}".encode()).hexdigest()[:16]


class ActivityLog:
    """Votes on answers and the questions asked."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    @classmethod
    async def open(cls, path: Path) -> ActivityLog:
        connection = await aiosqlite.connect(path)
        await connection.execute("PRAGMA journal_mode = WAL")
        # a lost vote on power failure is acceptable; an fsync on every question is not
        await connection.execute("PRAGMA synchronous = NORMAL")
        await connection.executescript(_SCHEMA)
        await connection.commit()
        return cls(connection)

    async def close(self) -> None:
        await self._db.close()

    async def record_vote(self, user: str, question: str, answer: str, vote: int) -> None:
        """Store a 👍 (+1) or 👎 (-1) with the question and the answer it was given."""
        if vote not in (-1, 1):
            raise ValueError("vote must be +1 or -1")
        await self._db.execute(
            "INSERT INTO feedback(created_at, user_key, question, answer, vote)"
            " VALUES (?, ?, ?, ?, ?)",
            (datetime.now(UTC).isoformat(), pseudonym(user), question, answer, vote),
        )
        await self._db.commit()

    async def record_question(self, question: str, found: bool, milliseconds: float) -> None:
        await self._db.execute(
            "INSERT INTO questions(created_at, question, found, milliseconds) VALUES (?, ?, ?, ?)",
            (datetime.now(UTC).isoformat(), question, int(found), milliseconds),
        )
        await self._db.commit()

    async def votes(self) -> list[tuple[str, str, int]]:
        """(question, answer, vote) of every vote, oldest first."""
        async with self._db.execute(
            "SELECT question, answer, vote FROM feedback ORDER BY id"
        ) as cursor:
            return [(q, a, int(v)) async for q, a, v in cursor]
