"""What citebot stores about its use, for how long, under which keys, and what it forgets."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from retrieval.engine import Engine
from retrieval.settings import Settings
from retrieval.store.activity import KEY_FILE, ActivityLog, VoteOutcome
from tests.conftest import copy_samples
from tests.fakes import HashingEmbedder
from tools.cli import app

ASKED = datetime(2024, 3, 7, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = ASKED

    def __call__(self) -> datetime:
        return self.now


def rows(path: Path, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT * FROM {table}").fetchall()


async def fill(log: ActivityLog, user: str = "1001") -> str:
    """A question, the answer kept for it and a vote on it; the answer's id."""
    await log.record_question("How many died?", True, 12.0)
    answer_id = await log.keep_answer(user, "How many died?", "31 died.", 10, ASKED)
    assert await log.record_vote(user, answer_id, 1) is VoteOutcome.RECORDED
    return answer_id


async def test_rows_past_the_retention_are_purged_at_open(tmp_path: Path) -> None:
    """Reopened within the retention everything is kept; reopened after it, nothing is."""
    path, clock = tmp_path / "activity.sqlite", Clock()
    log = await ActivityLog.open(path, retention_days=30, clock=clock)
    await fill(log)
    await log.close()
    clock.now += timedelta(days=29)
    await (await ActivityLog.open(path, retention_days=30, clock=clock)).close()
    assert [len(rows(path, t)) for t in ("questions", "answers", "feedback")] == [1, 1, 1]
    clock.now += timedelta(days=2)
    await (await ActivityLog.open(path, retention_days=30, clock=clock)).close()
    assert [len(rows(path, t)) for t in ("questions", "answers", "feedback")] == [0, 0, 0]


async def test_rows_past_the_retention_are_purged_daily_while_running(tmp_path: Path) -> None:
    """A log left open purges old rows on its first write of a new day."""
    path, clock = tmp_path / "activity.sqlite", Clock()
    log = await ActivityLog.open(path, retention_days=30, clock=clock)
    old = await fill(log)
    clock.now += timedelta(days=31)
    await log.record_question("And now?", False, 8.0)
    assert [row[2] for row in rows(path, "questions")] == ["And now?"]
    assert await log.kept_answer(old, "1001") is None
    assert await log.record_vote("1002", old, 1) is VoteOutcome.EXPIRED
    await log.close()


async def test_user_keys_are_keyed_with_a_secret_made_per_install(tmp_path: Path) -> None:
    """The same user has one key within an install, another elsewhere, and not sha256 of the id."""
    first, other = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    other.mkdir()
    log = await ActivityLog.open(first / "activity.sqlite")
    key = log.user_key("1001")
    await fill(log, "1001")
    await log.close()
    again = await ActivityLog.open(first / "activity.sqlite")
    elsewhere = await ActivityLog.open(other / "activity.sqlite")
    assert again.user_key("1001") == key != again.user_key("1002")
    assert elsewhere.user_key("1001") != key
    stored = {row[2] for row in rows(first / "activity.sqlite", "feedback")}
    assert stored == {key}
    for guess in ("1001", "citebot:1001"):
        assert not hashlib.sha256(guess.encode()).hexdigest().startswith(key)
    assert stat.S_IMODE((first / KEY_FILE).stat().st_mode) == 0o600
    await again.close()
    await elsewhere.close()


async def test_a_second_vote_is_refused_after_a_restart(tmp_path: Path) -> None:
    """One vote per user and answer, kept in the database, not in the process."""
    path = tmp_path / "activity.sqlite"
    log = await ActivityLog.open(path)
    answer_id = await fill(log, "1001")
    await log.close()
    log = await ActivityLog.open(path)
    assert await log.record_vote("1001", answer_id, -1) is VoteOutcome.ALREADY_VOTED
    assert await log.record_vote("1002", answer_id, -1) is VoteOutcome.RECORDED
    assert await log.votes() == [
        ("How many died?", "31 died.", 1),
        ("How many died?", "31 died.", -1),
    ]
    await log.close()


async def test_a_log_from_before_kept_answers_opens_with_its_votes(tmp_path: Path) -> None:
    """A database made by an earlier citebot is upgraded in place; its votes stay."""
    path = tmp_path / "activity.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE feedback (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL,"
            " user_key TEXT NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,"
            " vote INTEGER NOT NULL CHECK (vote IN (-1, 1)));"
            "CREATE TABLE questions (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL,"
            " question TEXT NOT NULL, found INTEGER NOT NULL, milliseconds REAL NOT NULL);"
            f"INSERT INTO feedback VALUES (1, '{datetime.now(UTC).isoformat()}', 'k', 'Q', 'A', 1);"
        )
    db.close()
    log = await ActivityLog.open(path)
    await fill(log)
    assert await log.votes() == [("Q", "A", 1), ("How many died?", "31 died.", 1)]
    await log.close()


async def test_forget_deletes_a_users_rows(tmp_path: Path) -> None:
    """forget removes the user's answers, their votes and the votes on their answers."""
    path = tmp_path / "activity.sqlite"
    log = await ActivityLog.open(path)
    mine = await fill(log, "1001")
    theirs = await fill(log, "1002")
    assert await log.record_vote("1002", mine, -1) is VoteOutcome.RECORDED
    assert await log.record_vote("1001", theirs, -1) is VoteOutcome.RECORDED
    assert await log.forget("1001") == 4  # my answer, my two votes, their vote on my answer
    assert await log.kept_answer(mine, "1001") is None
    kept = await log.kept_answer(theirs, "1002")
    assert kept is not None and kept.yours and kept.question == "How many died?"
    assert [row[2] for row in rows(path, "feedback")] == [log.user_key("1002")]
    assert await log.forget("1001") == 0
    await log.close()


def test_forget_command_says_how_many_rows_went(tmp_path: Path) -> None:
    """`citebot forget USER_ID` deletes the user's rows and prints the count."""
    data = tmp_path / "data"
    data.mkdir()

    async def given() -> None:
        log = await ActivityLog.open(data / "activity.sqlite")
        await fill(log, "1001")
        await log.close()

    asyncio.run(given())
    environment = {"CITEBOT_DATA_DIR": str(data), "CITEBOT_COLLECTION": str(tmp_path)}
    result = CliRunner().invoke(app, ["forget", "1001"], env=environment)
    assert result.exit_code == 0, result.output
    assert "2 rows" in result.stdout
    assert rows(data / "activity.sqlite", "answers") == []


async def test_private_questions_are_not_written(
    settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """A private question's text is in no file; its answer turns pages only in this process."""
    copy_samples(collection, ["001_astel-floods-carrow-bridge", "002_astel-flood-death-toll-rises"])
    question = "How many dead in the Astel valley floods?"
    async with await Engine.open(settings, embedder) as engine:
        await engine.reindex()
        answer = await engine.ask(question, 10, asked_at=ASKED, private=True)
        answer_id = await engine.keep_answer(
            answer, user="1001", k=10, asked_at=ASKED, private=True
        )
        assert await engine.record_vote("1001", answer_id, 1) is VoteOutcome.RECORDED
        kept = await engine.kept_answer(answer_id, "1001")
        assert kept is not None and kept.question == question
    path = settings.data_dir / "activity.sqlite"
    logged = [(row[2], row[5]) for row in rows(path, "questions")]
    assert logged == [("", 1)]  # (question, private)
    stored = b"".join(p.read_bytes() for p in settings.data_dir.glob("activity.sqlite*"))
    assert question.encode() not in stored
    assert answer.sentence is not None and answer.sentence.text.encode() not in stored
    async with await Engine.open(settings, embedder) as engine:
        kept = await engine.kept_answer(answer_id, "1001")
        assert kept is not None and kept.question is None
