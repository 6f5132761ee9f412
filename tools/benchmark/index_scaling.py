"""Index-only scaling: search latency, recall@10 and memory per vector index kind.

Synthetic MiniLM-like clustered vectors, exact search as ground truth
(:mod:`tools.benchmark.index_kinds`): for each size, every kind the engine can pick.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from retrieval.index.vectors import KINDS
from tools.benchmark.index_kinds import bench_size


def measure(sizes: list[int], queries: int, latency_queries: int) -> dict[str, Any]:
    """Rows of every kind for each size (blocking: run it in a thread)."""
    args = argparse.Namespace(seed=0, queries=queries, latency_queries=latency_queries)
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    for n in sizes:
        for row in bench_size(n, list(KINDS), args, None, notes):
            rows.append(asdict(row))
    return {"rows": rows, "notes": notes, "queries": queries, "latency_queries": latency_queries}
