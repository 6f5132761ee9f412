"""Indexing throughput: a full ``Engine.reindex`` of the same articles with each encoder.

Each encoder indexes the same first N Reuters articles into its own throwaway data
folder (reading, splitting, embedding, SQLite, BM25 and FAISS all included). The model
is loaded (and the int8 model quantized, cached) before the clock starts. Embedding
alone is also reported, timed from the reindex's own "embedding" progress reports.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from retrieval.engine import Engine
from retrieval.models.embedder import Embedder
from retrieval.settings import Settings

from .common import Step, write_subset
from .corpus import corpus_settings


async def index_once(
    settings: Settings, embedder: Embedder, collection: Path, data_dir: Path, step: Step, name: str
) -> dict[str, Any]:
    """Reindex ``collection`` from scratch into ``data_dir``; passages/s overall and embedding."""
    marks: dict[str, float] = {}
    report = step.stage(name)

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage == "embedding":
            marks.setdefault("embed_start", now)
            if done >= total:
                marks["embed_end"] = now
        report(stage, done, total)

    engine = await Engine.open(corpus_settings(settings, collection, data_dir), embedder)
    try:
        embedder.embed(["warm up the model before timing"])
        started = time.perf_counter()
        summary = await engine.reindex(collection, progress=progress)
        seconds = time.perf_counter() - started
    finally:
        await engine.close()
    embed_s = marks.get("embed_end", 0.0) - marks.get("embed_start", 0.0)
    return {
        "articles": summary.new,
        "passages": summary.passages,
        "seconds": round(seconds, 2),
        "passages_per_s": round(summary.passages / seconds, 1),
        "embed_seconds": round(embed_s, 2),
        "embed_passages_per_s": round(summary.passages / embed_s, 1) if embed_s > 0 else None,
    }


async def measure(
    settings: Settings,
    embedders: dict[str, Embedder],
    articles: Path,
    count: int,
    step: Step,
) -> dict[str, Any]:
    """Index the first ``count`` articles with each encoder; ratio of the first two."""
    with tempfile.TemporaryDirectory(prefix="citebot-bench-throughput-") as tmp:
        collection = write_subset(articles, count, Path(tmp) / "collection" / "reuters.jsonl")
        results = {
            name: await index_once(settings, embedder, collection, Path(tmp) / name, step, name)
            for name, embedder in embedders.items()
        }
    fast, plain = (results[name] for name in embedders)
    return {
        "articles": count,
        "encoders": results,
        "index_speedup": round(fast["passages_per_s"] / plain["passages_per_s"], 2),
        "embed_speedup": (
            round(fast["embed_passages_per_s"] / plain["embed_passages_per_s"], 2)
            if fast["embed_passages_per_s"] and plain["embed_passages_per_s"]
            else None
        ),
    }
