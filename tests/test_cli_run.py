"""``citebot run`` flags: --shard-count and --shards are checked before anything connects."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bot.app
from retrieval.settings import Settings
from tools.cli import app


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings in a temporary folder, no token, and the root log level put back after."""
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file up from here
    level = logging.getLogger().level
    yield {"CITEBOT_COLLECTION": str(tmp_path / "articles"), "CITEBOT_DATA_DIR": str(tmp_path)}
    logging.getLogger().setLevel(level)


def invoke(environment: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["run", *args], env=environment)
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shards", "5-6", "--shard-count", "4"], "5-6 is outside 0-3 (--shard-count 4)"),
        (["--shards", "4", "--shard-count", "4"], "4 is outside 0-3 (--shard-count 4)"),
        (["--shards", "2-3"], "needs --shard-count too"),
        (["--shards", "3-1", "--shard-count", "4"], "'3-1' is not a range like 0-3"),
        (["--shards", "a-b", "--shard-count", "4"], "'a-b' is not a range like 0-3"),
    ],
)
def test_bad_shard_flags_exit_2_with_the_reason(
    environment: dict[str, str], args: list[str], message: str
) -> None:
    code, err = invoke(environment, *args)
    assert code == 2
    assert f"Invalid value for '--shards': {message}" in err


def test_a_shard_count_below_one_is_refused(environment: dict[str, str]) -> None:
    code, err = invoke(environment, "--shard-count", "0")
    assert code == 2
    assert "'--shard-count'" in err


def test_good_shard_flags_reach_the_bot(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--shard-count 4 --shards 2-3`` starts the bot on shards 2 and 3 of 4."""
    started: list[tuple[int | None, Sequence[int] | None]] = []

    async def start(
        settings: Settings,
        *,
        shard_count: int | None = None,
        shard_ids: Sequence[int] | None = None,
    ) -> None:
        started.append((shard_count, shard_ids))

    monkeypatch.setattr(bot.app, "start", start)
    assert invoke(environment, "--shard-count", "4", "--shards", "2-3")[0] == 0
    assert invoke(environment, "--shard-count", "4", "--shards", "1")[0] == 0
    assert invoke(environment)[0] == 0
    assert started == [(4, [2, 3]), (4, [1]), (None, None)]


def test_good_flags_without_a_token_stop_at_once(environment: dict[str, str]) -> None:
    """Valid flags get as far as the token: one line naming DISCORD_TOKEN, exit 1."""
    code, err = invoke(environment, "--shard-count", "2", "--shards", "0-1")
    assert code == 1
    assert err.strip().splitlines() == [
        "citebot: DISCORD_TOKEN is not set (in the environment or a .env file)"
    ]
