"""A reindex never holds the event loop: the bot keeps answering Discord while it runs."""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
from pathlib import Path

import pytest

from retrieval.engine import Engine
from retrieval.settings import Settings
from tests.conftest import copy_samples
from tests.fakes import HashingEmbedder

ARTICLES = 2000
TICK = 0.01


async def _largest_lag(work: asyncio.Task[object]) -> float:
    """The longest the loop was late to wake a 10 ms sleeper while ``work`` ran."""
    loop = asyncio.get_running_loop()
    worst = 0.0
    while not work.done():
        before = loop.time()
        await asyncio.sleep(TICK)
        worst = max(worst, loop.time() - before - TICK)
    await work
    return worst


@pytest.fixture
def bot_sized_heap() -> None:
    """The libraries a running bot holds: a full garbage collection over them, triggered by
    a reindex in a worker thread, once held the GIL and so the loop for about 200 ms."""
    importlib.import_module("sentence_transformers")


@pytest.mark.usefixtures("bot_sized_heap")
async def test_a_2000_article_reindex_never_holds_the_loop_over_100_ms(
    settings: Settings, collection: Path
) -> None:
    """Reading, hashing, splitting, embedding, FAISS, BM25, publishing and the summary of
    2,000 new articles, then an update removing half of them: no step blocks the loop."""
    copy_samples(collection)
    with (collection / "wire.jsonl").open("w", encoding="utf-8") as out:
        for n in range(ARTICLES):
            text = f"Harbour report {n}. {n * 7} containers were unloaded at berth {n % 40}.\n"
            text += "Dock workers said the cranes ran through the night. " * 3
            out.write(json.dumps({"id": str(n), "title": f"Wire {n}", "text": text}) + "\n")
    async with await Engine.open(settings, HashingEmbedder()) as engine:
        await engine.warm_up()  # as `citebot run` does
        first = await _largest_lag(asyncio.create_task(engine.reindex()))
        lines = (collection / "wire.jsonl").read_text(encoding="utf-8").splitlines()
        (collection / "wire.jsonl").write_text("\n".join(lines[::2]) + "\n", encoding="utf-8")
        second = await _largest_lag(asyncio.create_task(engine.reindex()))
        assert (await engine.stats()).articles == 16 + ARTICLES // 2
    assert first < 0.1 and second < 0.1, (first, second)


@pytest.mark.usefixtures("bot_sized_heap")
async def test_once_warm_a_full_collection_no_longer_walks_the_libraries(
    settings: Settings,
) -> None:
    """What the collector would walk (and the loop would wait for) is what came after start-up,
    not the hundreds of thousands of objects torch and transformers are made of."""
    async with await Engine.open(settings, HashingEmbedder()) as engine:
        await engine.warm_up()
        assert len(gc.get_objects()) < 50_000
