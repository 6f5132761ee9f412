"""Starting up: the token comes from the environment or .env; the cogs load independently."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import typer

from bot.app import TokenError, load_token, start
from bot.client import EXTENSIONS, CitebotBot
from retrieval.engine import Engine
from retrieval.settings import Settings
from tests.fakes import HashingEmbedder
from tools.cli import run


@pytest.fixture
def no_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DISCORD_TOKEN in the environment, and a working folder without a .env."""
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_token_from_the_environment(no_token: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DISCORD_TOKEN in the environment is used, even when a .env file says otherwise."""
    (no_token / ".env").write_text("DISCORD_TOKEN=from-file\n")
    monkeypatch.setenv("DISCORD_TOKEN", " from-env ")
    assert load_token() == "from-env"


def test_token_from_a_dotenv_file(no_token: Path) -> None:
    """A .env file in the working folder provides the token, without touching the environment."""
    (no_token / ".env").write_text("OTHER=1\nDISCORD_TOKEN='from-file'\n")
    assert load_token() == "from-file"
    assert "DISCORD_TOKEN" not in os.environ


def test_missing_token_is_a_clear_error(no_token: Path) -> None:
    """No token anywhere stops the start with a one-line message naming DISCORD_TOKEN."""
    (no_token / ".env").write_text("DISCORD_TOKEN=\n")
    with pytest.raises(TokenError, match=r"^DISCORD_TOKEN is not set \(in the environment or a"):
        load_token()


async def test_a_failing_extension_does_not_stop_the_others(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """An extension that fails to load is logged; the other cogs and their commands load."""
    engine = await Engine.open(settings, embedder=HashingEmbedder())
    bot = CitebotBot(engine, extensions=["bot.cogs.does_not_exist", *EXTENSIONS])
    try:
        # as serve() does: a sharded client can only be closed once set up
        async with bot:
            with caplog.at_level(logging.ERROR, logger="bot.client"):
                loaded = await bot.load_extensions()
            commands = sorted(c.name for c in bot.tree.get_commands())
        assert loaded == list(EXTENSIONS)
        assert "could not load bot.cogs.does_not_exist" in caplog.text
        assert commands == ["ask", "feeds", "ingest", "reindex", "stats"]
    finally:
        await engine.close()


def test_citebot_run_without_token_prints_one_line_and_exits(
    no_token: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`citebot run` with no token exits with code 1 and a one-line message."""
    with pytest.raises(typer.Exit) as exited:
        run(start, collection=no_token / "articles", data_dir=no_token / "data")
    assert exited.value.exit_code == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "citebot: DISCORD_TOKEN is not set (in the environment or a .env file)"
    ]
