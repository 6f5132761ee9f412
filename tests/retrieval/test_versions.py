"""One data folder, several processes: versions published elsewhere are served, none is
deleted while served, and a damaged CURRENT or a half-built version does no harm."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from retrieval.engine import Engine
from retrieval.index.datafolder import DataFolder
from retrieval.settings import Settings
from tests.conftest import copy_samples
from tests.fakes import HashingEmbedder

COMET = "Who discovered the comet from her back garden?"


def _generations(settings: Settings) -> list[str]:
    return sorted(p.name for p in (settings.data_dir / "generations").iterdir())


async def test_a_version_published_by_another_engine_is_served(
    settings: Settings, collection: Path
) -> None:
    """The serving engine follows a reindex made by another one, without a restart."""
    copy_samples(collection, ["001_astel-floods-carrow-bridge"])
    async with await Engine.open(settings, HashingEmbedder()) as serving:
        await serving.reindex()
        copy_samples(collection, ["008_halvorsen-comet-discovery"])
        async with await Engine.open(settings, HashingEmbedder()) as terminal:
            await terminal.reindex()
        before = await serving.ask(COMET)
        assert await serving.follow_published()
        after = await serving.ask(COMET)
        assert not await serving.follow_published()  # nothing newer
    assert "comet" not in before.passages[0].citation.title.lower()
    assert "comet" in after.passages[0].citation.title.lower()


async def test_a_served_version_is_kept_until_nobody_serves_it(
    settings: Settings, collection: Path
) -> None:
    """Two reindexes elsewhere do not delete what an engine still answers from."""
    copy_samples(collection, ["001_astel-floods-carrow-bridge"])
    async with await Engine.open(settings, HashingEmbedder()) as serving:
        await serving.reindex()
        (first,) = _generations(settings)
        async with await Engine.open(settings, HashingEmbedder()) as terminal:
            for name in ["008_halvorsen-comet-discovery", "011_eastfield-marathon-record"]:
                copy_samples(collection, [name])
                await terminal.reindex()
            assert first in _generations(settings)  # still served by the first engine
            answer = await serving.ask("How many people were killed in the floods?")
            assert answer.passages
            await serving.follow_published()
            copy_samples(collection, ["004_eastfield-mayor-election"])
            await terminal.reindex()
    # the first is gone; the one served while the last reindex ran waits for the next
    assert first not in _generations(settings)
    assert len(_generations(settings)) == 2


@pytest.mark.parametrize("pointer", ["", "\x00\xff garbage", "g-does-not-exist"])
async def test_a_damaged_current_falls_back_to_the_newest_complete_version(
    settings: Settings, collection: Path, pointer: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An empty or corrupt CURRENT serves the newest complete version, with one warning."""
    copy_samples(collection, ["008_halvorsen-comet-discovery"])
    async with await Engine.open(settings, HashingEmbedder()) as engine:
        await engine.reindex()
    (settings.data_dir / "CURRENT").write_bytes(pointer.encode("utf-8", "surrogateescape"))
    caplog.set_level(logging.WARNING)
    async with await Engine.open(settings, HashingEmbedder()) as engine:
        answer = await engine.ask(COMET)
    assert "comet" in answer.passages[0].citation.title.lower()
    assert "names no complete index" in caplog.text
    caplog.clear()
    data = DataFolder(settings.data_dir)
    for _ in range(3):  # as the watcher reads CURRENT every few seconds
        assert data.current() is not None
    assert caplog.text.count("names no complete index") == 1


async def test_half_built_versions_are_removed_at_the_next_start(
    settings: Settings, collection: Path
) -> None:
    """What an interrupted reindex left behind is gone when the engine opens again."""
    copy_samples(collection, ["008_halvorsen-comet-discovery"])
    async with await Engine.open(settings, HashingEmbedder()) as engine:
        await engine.reindex()
    (served,) = _generations(settings)
    half = settings.data_dir / "generations" / "g-20990101T000000000000Z"
    shutil.copytree(settings.data_dir / "generations" / served, half)
    (half / "manifest.json").unlink()
    async with await Engine.open(settings, HashingEmbedder()) as engine:
        assert _generations(settings) == [served]
        assert (await engine.ask(COMET)).passages
