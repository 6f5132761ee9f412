"""Reliability under load: 200 concurrent /ask through the Discord stand-in during a reindex.

    .venv/bin/python -m bench.bench_reliability [--askers 200] [--articles 2000]
        [--no-reindex] [--json]

The real bot (unmodified discord.py) and the real engine with the shipped models serve
the sample articles plus the first Reuters articles; then more Reuters articles are
added and a reindex starts, and ``--askers`` distinct members send /ask at once. Printed:
acknowledgement latency (interaction created -> callback accepted), answer latency
(interaction created -> answer or "busy" shown), the share told "busy", and the event
loop's lag (a 10 ms sleeper's lateness) while the questions were answered. Either load
alone: ``--askers 0`` samples the lag over the whole reindex, ``--no-reindex`` asks with
no reindex running. The stand-in runs in the same
event loop as the bot, so the figures include its work: they are an upper bound.
Without ../shared/eval/reuters21578.articles.jsonl, synthetic articles are used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bot.client import CitebotBot
from retrieval.engine import Engine
from retrieval.settings import load_settings
from tests.conftest import SAMPLES, SHARED, copy_samples
from tests.discord_standin import DiscordStandIn, StandInInteraction

BUSY = "I am busy answering many questions right now"


def _write_articles(path: Path, first: int, count: int) -> list[str]:
    """``count`` articles from Reuters (or made up) into ``path``; their titles."""
    reuters = SHARED / "eval" / "reuters21578.articles.jsonl"
    titles: list[str] = []
    with path.open("w", encoding="utf-8") as out:
        if reuters.exists():
            with reuters.open(encoding="utf-8") as source:
                for number, line in enumerate(source):
                    if number < first:
                        continue
                    if len(titles) == count:
                        break
                    article = json.loads(line)
                    titles.append(article["title"])
                    out.write(line)
        else:
            for number in range(first, first + count):
                title = f"Harbour report {number}"
                text = f"{number * 7} containers were unloaded at berth {number % 40}."
                out.write(json.dumps({"id": str(number), "title": title, "text": text}) + "\n")
                titles.append(title)
    return titles


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    p50, p95, p99, worst = np.percentile(np.asarray(values) * 1000, [50, 95, 99, 100])
    return {
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(worst, 1),
    }


async def run(askers: int, articles: int, reindex: bool = True) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="citebot-reliability-"))
    collection = root / "collection"
    collection.mkdir()
    copy_samples(collection)
    titles = _write_articles(collection / "base.jsonl", 0, articles)
    settings = load_settings(collection=collection, data_dir=root / "data", ask_burst=3)
    engine = await Engine.open(settings)
    await engine.reindex()
    await engine.warm_up()  # as `citebot run` does
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    answered_at: dict[int, float] = {}
    try:
        async with DiscordStandIn() as server:
            guild = server.add_guild("Load")
            channel = server.add_channel(guild, "general")
            members = [server.add_member(guild, f"asker{n}") for n in range(askers)]
            async with server.running(CitebotBot(engine)):
                await server.wait_until_ready()
                await server.wait_for_command_sync()
                if reindex:
                    _write_articles(collection / "more.jsonl", articles, articles)
                reindexing = asyncio.create_task(engine.reindex())  # no-op with --no-reindex

                async def tick() -> None:
                    while True:
                        before = loop.time()
                        await asyncio.sleep(0.01)
                        lags.append(loop.time() - before - 0.01)

                async def ask(number: int) -> StandInInteraction:
                    question = f"What did the report say about {titles[number % len(titles)]}?"
                    interaction = await server.invoke_slash(
                        guild, channel, members[number], "ask", {"question": question}
                    )
                    await interaction.wait_for_response(timeout=60)
                    answered_at[interaction.id] = loop.time()
                    return interaction

                ticking = asyncio.create_task(tick())
                await asyncio.sleep(0.5)  # the reindex is under way
                started = time.perf_counter()
                asked = await asyncio.gather(*(ask(n) for n in range(askers)))
                wall = time.perf_counter() - started
                if not askers:  # the lag of the reindex alone, to its end
                    await reindexing
                ticking.cancel()
                summary = await reindexing
    finally:
        await engine.close()
    acks = [i.acknowledged_at - i.dispatched_at for i in asked if i.acknowledged_at]
    answers = [answered_at[i.id] - i.dispatched_at for i in asked]
    busy = sum(1 for i in asked if i.response is not None and BUSY in i.response.content)
    return {
        "askers": askers,
        "reindexed_articles": summary.new,
        "ack": _percentiles(acks),
        "answer": _percentiles(answers),
        "loop_lag": _percentiles(lags),
        "busy_share": round(busy / askers, 3) if askers else None,
        "wall_s": round(wall, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "samples": len(list(SAMPLES.glob("*.txt"))),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--askers", type=int, default=200)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--no-reindex", action="store_true", help="ask with no reindex running")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = asyncio.run(run(args.askers, args.articles, reindex=not args.no_reindex))
    print(json.dumps(result, indent=None if args.json else 2))
