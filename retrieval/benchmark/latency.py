"""Ask latency through ``Engine.ask``: one asker, concurrent askers, cache hits, stages.

Every timed question is distinct, so the engine's answer cache never answers it;
a repeated question is timed separately (cache-hit p50). The stage profile replays
the uncached path of ``Engine.ask`` step by step with timers, to show where the time
goes (embed, FAISS, BM25, SQLite fetch, answer composition).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from retrieval.answering import Candidate, compose_answer
from retrieval.engine import Engine, _retrieve
from retrieval.ranking import lexical_query

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
    """Median ms per stage of the uncached ask path, replayed with timers (no thread hops)."""
    served = engine._served
    assert served is not None, "nothing indexed"
    settings = engine.settings
    stages: dict[str, list[float]] = {
        "embed": [],
        "faiss": [],
        "bm25": [],
        "fuse": [],
        "fetch": [],
        "compose": [],
    }
    for question in questions:
        t0 = time.perf_counter()
        query = engine.embedder.embed([question])[0]
        t1 = time.perf_counter()
        served.vectors.search(query[np.newaxis, :], 30)
        t2 = time.perf_counter()
        served.lexical.search(lexical_query(question), 30)
        t3 = time.perf_counter()
        retrieved = _retrieve(served, question, query, settings.retrieval_mode)
        t4 = time.perf_counter()
        records = served.store.passages_now(retrieved.keys())
        t5 = time.perf_counter()
        candidates = [
            Candidate(records[pid], float(records[pid].vector @ query), lexical)
            for pid, lexical in retrieved.items()
            if pid in records
        ]
        compose_answer(
            question,
            candidates,
            top_k=settings.top_k,
            max_per_article=settings.max_passages_per_article,
            min_confidence=settings.min_confidence,
            mode=settings.retrieval_mode,
        )
        t6 = time.perf_counter()
        # "fuse" is the whole _retrieve (FAISS + BM25 again + fusion) minus both searches
        for name, value in (
            ("embed", t1 - t0),
            ("faiss", t2 - t1),
            ("bm25", t3 - t2),
            ("fuse", max(0.0, (t4 - t3) - (t3 - t1))),
            ("fetch", t5 - t4),
            ("compose", t6 - t5),
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
