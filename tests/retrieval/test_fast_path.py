"""The answer path: concurrent questions share encoder calls, repeated ones are cached."""

from __future__ import annotations

import asyncio
from pathlib import Path

from retrieval.engine import Engine
from retrieval.errors import EngineBusyError
from retrieval.settings import Settings
from tests.conftest import copy_samples
from tests.fakes import HashingEmbedder


async def test_concurrent_questions_share_encoder_calls(
    settings: Settings, collection: Path
) -> None:
    """Twenty questions asked at once take far fewer than twenty encoder calls."""
    copy_samples(collection, ["001_astel-floods-carrow-bridge", "008_halvorsen-comet-discovery"])
    embedder = HashingEmbedder(delay=0.05)
    async with await Engine.open(settings, embedder) as engine:
        await engine.reindex()
        embedder.calls = 0
        questions = [f"How many people were killed, question {n}?" for n in range(20)]
        answers = await asyncio.gather(*(engine.ask(q) for q in questions))
    assert [a.question for a in answers] == questions
    assert all(a.passages for a in answers)
    assert embedder.calls <= 3


async def test_repeated_question_is_answered_from_cache(
    settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """Asking the same question again does not embed it again, and gives the same answer."""
    copy_samples(collection, ["008_halvorsen-comet-discovery"])
    async with await Engine.open(settings, embedder) as engine:
        await engine.reindex()
        first = await engine.ask("Who discovered the comet?")
        calls = embedder.calls
        again = await engine.ask("  who discovered the COMET? ")
    assert embedder.calls == calls
    assert again.passages == first.passages
    assert again.question == "  who discovered the COMET? "


async def test_cache_does_not_outlive_a_reindex(
    settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """After a reindex the same question is answered from the new index, not the cache."""
    copy_samples(collection, ["008_halvorsen-comet-discovery"])
    async with await Engine.open(settings, embedder) as engine:
        await engine.reindex()
        before = await engine.ask("Who won the marathon?")
        copy_samples(collection, ["011_eastfield-marathon-record"])
        await engine.reindex()
        after = await engine.ask("Who won the marathon?")
    assert "Marathon" not in before.passages[0].citation.title
    assert "Marathon" in after.passages[0].citation.title


async def test_loading_a_saved_index_embeds_nothing(
    settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """Opening the engine on a saved index loads it; no passage is embedded again."""
    copy_samples(collection, ["008_halvorsen-comet-discovery"])
    async with await Engine.open(settings, embedder) as engine:
        await engine.reindex()
    fresh = HashingEmbedder()
    async with await Engine.open(settings, fresh) as engine:
        answer = await engine.ask("Who discovered the comet?")
    assert fresh.embedded == ["Who discovered the comet?"]
    assert answer.passages


async def test_questions_past_the_queue_are_told_busy_at_once(
    settings: Settings, collection: Path
) -> None:
    """With room for two waiting questions, the others are turned away, not queued."""
    copy_samples(collection, ["008_halvorsen-comet-discovery"])
    settings = settings.model_copy(update={"ask_queue": 2})
    async with await Engine.open(settings, HashingEmbedder(delay=0.2)) as engine:
        await engine.reindex()
        results = await asyncio.gather(
            *(engine.ask(f"Who discovered comet {n}?") for n in range(6)), return_exceptions=True
        )
    busy = [r for r in results if isinstance(r, EngineBusyError)]
    assert len(busy) == 4
    assert all(not isinstance(r, Exception) for r in results if r not in busy)
