"""Index-only scaling: search latency, recall@10 and memory per FAISS kind.

Reuses ``bench/bench_index.py`` (synthetic MiniLM-like clustered vectors, exact search
as ground truth): for each size, every kind it builds in reasonable time.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

import retrieval

BENCH_INDEX = Path(retrieval.__file__).resolve().parents[1] / "bench" / "bench_index.py"


def load_bench_index() -> ModuleType | None:
    """bench/bench_index.py as a module, or None when the checkout has no bench folder."""
    if not BENCH_INDEX.is_file():
        return None
    spec = importlib.util.spec_from_file_location("citebot_bench_index", BENCH_INDEX)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def measure(sizes: list[int], queries: int, latency_queries: int) -> dict[str, Any]:
    """Rows of bench_index for each size (blocking: run it in a thread)."""
    bench = load_bench_index()
    if bench is None:
        return {"skipped": f"{BENCH_INDEX} not found"}
    args = argparse.Namespace(seed=0, queries=queries, latency_queries=latency_queries, all=False)
    bench.set_search_threads(1)
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    for n in sizes:
        for row in bench.bench_size(n, list(bench.KINDS), args, None, notes):
            rows.append(asdict(row))
    return {"rows": rows, "notes": notes, "queries": queries, "latency_queries": latency_queries}
