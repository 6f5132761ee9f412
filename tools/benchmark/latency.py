"""Ask latency through ``Engine.ask``: one asker, concurrent askers, cache hits, stages.

Every timed question is distinct, so the engine's answer cache never answers it;
a repeated question is timed separately (cache-hit p50). The stage profile runs
the uncached path of ``Engine.ask`` stage by stage with timers, to show where the time
goes (embed, retrieve, read, compose), with the pipeline the engine runs.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from retrieval.engine import Engine

from .common import Step, percentiles


async def one_asker(engine: Engine, questions: list[str], step: Step | None = None) -> list[float]:
    """Latency (ms) of each question, asked one after the other."""
    latencies: list[float] = []
    for number, question in enumerate(questions):
        started = time.perf_counter()
        await engine.ask(question)
        latencies.append((time.perf_counter() - started) * 1000)
        if step is not None:
            step.update(number + 1)
    return latencies


async def concurrent_askers(
    engine: Engine, questions: list[str], askers: int, step: Step | None = None
) -> tuple[list[float], float]:
    """(latencies in ms, wall seconds) with ``askers`` tasks sharing the question list."""
    queue = list(reversed(questions))
    latencies: list[float] = []

    async def asker() -> None:
        while queue:
            question = queue.pop()
            started = time.perf_counter()
            await engine.ask(question)
            latencies.append((time.perf_counter() - started) * 1000)
            if step is not None:
                step.advance()

    started = time.perf_counter()
    await asyncio.gather(*(asker() for _ in range(askers)))
    return latencies, time.perf_counter() - started


async def cache_hits(engine: Engine, question: str, count: int = 50) -> list[float]:
    """Latency (ms) of one question asked again and again (answered from the cache)."""
    await engine.ask(question)
    return await one_asker(engine, [question] * count)


async def stage_profile(engine: Engine, questions: list[str]) -> dict[str, float]:
    """Median ms per stage of the uncached ask path: the engine's own pipeline, stage by
    stage, on the calling thread (no thread hops)."""
    stages: dict[str, list[float]] = {"embed": [], "retrieve": [], "read": [], "compose": []}
    pipeline = engine.pipeline
    top_k = engine.settings.top_k
    async with engine.reading() as served:
        for question in questions:
            asked_at = datetime.now(UTC)
            t0 = time.perf_counter()
            query = engine.embedder.embed([question])[0]
            t1 = time.perf_counter()
            retrieved = pipeline.retrieve(served, question, query, asked_at)
            t2 = time.perf_counter()
            read = pipeline.read(question, retrieved)
            t3 = time.perf_counter()
            pipeline.compose(question, retrieved, read, top_k)
            t4 = time.perf_counter()
            for name, value in (
                ("embed", t1 - t0),
                ("retrieve", t2 - t1),
                ("read", t3 - t2),
                ("compose", t4 - t3),
            ):
                stages[name].append(value * 1000)
    return {name: round(float(np.median(values)), 2) for name, values in stages.items()}


async def measure(
    engine: Engine,
    questions: list[str],
    *,
    single: int,
    concurrent: int,
    askers: int,
    profile: int,
    step: Step | None = None,
) -> dict[str, Any]:
    """Every latency figure at the engine's current index, from disjoint question sets.

    ``questions`` must hold at least ``single + concurrent + profile + 6`` distinct ones.
    """
    needed = single + concurrent + profile + 6
    if len(questions) < needed:
        raise ValueError(f"{needed} distinct questions needed, got {len(questions)}")
    warm, rest = questions[:5], questions[5:]
    for question in warm:  # first-call costs (thread pools, lazy loads) are not latency
        await engine.ask(question)
    single_qs, rest = rest[:single], rest[single:]
    concurrent_qs, rest = rest[:concurrent], rest[concurrent:]
    profile_qs, rest = rest[:profile], rest[profile:]
    if step is not None:
        step.update(0, single + concurrent)
    started = time.perf_counter()
    alone = await one_asker(engine, single_qs)
    alone_s = time.perf_counter() - started
    if step is not None:
        step.update(single)
    together, wall = await concurrent_askers(engine, concurrent_qs, askers, step)
    hits = await cache_hits(engine, rest[0])
    stages = await stage_profile(engine, profile_qs)
    return {
        "one_asker_ms": percentiles(alone),
        "one_asker_qps": round(single / alone_s, 1),
        "concurrent_askers": askers,
        "concurrent_ms": percentiles(together),
        "concurrent_qps": round(concurrent / wall, 1),
        "cache_hit_p50_ms": percentiles(hits)["p50"],
        "stages_p50_ms": stages,
        "questions": {"one_asker": single, "concurrent": concurrent, "profile": profile},
    }
