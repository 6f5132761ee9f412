"""The vector index kinds on synthetic MiniLM-like vectors (part of ``citebot bench``).

For each size and kind: build time; single-query search latency at k=10 (p50/p95 wall
time and p50 CPU time with 1 OpenMP thread, p50 with 2); recall@10 against exact
search, over all queries and over the quarter farthest from their nearest passage;
bytes per passage of the saved index; the resident memory the index takes once loaded
(RSS growth on load, meaningful for large indexes only); and the cost of removal: one
``remove`` call of 1% of the passages, then p50 latency with them gone (HNSW and
IVF-PQ+refine keeps tombstones and drops them at search time).

    .venv/bin/python -m tools.benchmark.index_kinds                 # 100k and 1M
    .venv/bin/python -m tools.benchmark.index_kinds --quick         # 20k and 100k
    .venv/bin/python -m tools.benchmark.index_kinds --sizes 300000 --json

Vectors (see ``synthetic``): real embeddings cannot be made at 1M here, and uniformly
random unit vectors have no neighbourhood structure at all, so the generator mimics the
statistics of real all-MiniLM-L6-v2 passage embeddings. Other processes on the machine
skew latencies: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np
import psutil
from threadpoolctl import threadpool_limits

from retrieval.index.vectors import KINDS, IndexKind, VectorIndex

DIMENSION = 384
K = 10
PASSAGES_PER_TOPIC = 250
TOPIC_DIMS = 32
TOPIC_SPREAD = 1.3
NOISE = 0.4


def synthetic(
    n: int, rng: np.random.Generator, centers_from: np.ndarray | None = None
) -> np.ndarray:
    """n unit vectors (float32) whose neighbourhoods resemble real MiniLM passages.

    A mixture of n/250 topics (so the density, and thus nearest-neighbour similarity,
    does not depend on n), with lognormal topic sizes (σ=1: a few big stories, many
    small ones). Topic centres are rows of ``centers_from`` (real embeddings) if given,
    else random unit vectors. A topic's passages vary inside the topic's own random
    32-d subspace with a decaying spectrum (scale of axis i ∝ i^-1/2), scaled by a
    per-topic spread 1.3·lognormal(0, 0.4), plus isotropic noise of norm ~0.4:
    ``x = normalize(c_t + σ_t·(a @ W_t) + 0.4·g/√d)``.

    Compared with real all-MiniLM-L6-v2 passage embeddings (nearest-neighbour cosine
    p10/p50/p90, 10th neighbour p50, local intrinsic dimension by MLE with k=20):

    - 48k Reuters-21578 news passages: 0.73/0.87/0.95, 0.66, 9;
    - 5.4k ~100-word prose passages (the Rust docs): 0.62/0.73/0.83, 0.60, 16;
    - this generator at 48k: 0.66/0.75/0.81, 0.67, 17 (and the same at 1M).

    So it is harder than real news (no near-duplicate wire copies, a higher intrinsic
    dimension): recall measured here is a lower bound. An isotropic Gaussian mixture tuned to the same neighbour cosine is far
    worse still (intrinsic dimension 50-70, near-tied neighbours).
    """
    topics = max(1, n // PASSAGES_PER_TOPIC)
    if centers_from is None:
        centers = _normalized(rng.standard_normal((topics, DIMENSION), dtype=np.float32))
    else:
        rows = rng.choice(len(centers_from), topics, replace=len(centers_from) < topics)
        centers = centers_from[rows].astype(np.float32)
    weights = rng.lognormal(0.0, 1.0, topics)
    topic_of = np.sort(rng.choice(topics, n, p=weights / weights.sum()))
    bounds = np.searchsorted(topic_of, np.arange(topics + 1))
    axis_scale = np.arange(1, TOPIC_DIMS + 1, dtype=np.float32) ** -0.5
    axis_scale /= np.linalg.norm(axis_scale) * np.sqrt(DIMENSION)
    # All float32: mixed dtypes and float64 temporaries tripled the generation time.
    scales = (TOPIC_SPREAD * rng.lognormal(0.0, 0.4, topics)).astype(np.float32)
    coefficients = rng.standard_normal((n, TOPIC_DIMS), dtype=np.float32)
    out = rng.standard_normal((n, DIMENSION), dtype=np.float32)
    out *= NOISE / np.sqrt(DIMENSION)
    # Thousands of small products: BLAS threads only add overhead (10x on a busy machine).
    with threadpool_limits(1, user_api="blas"):
        for t in range(topics):
            lo, hi = bounds[t], bounds[t + 1]
            basis = rng.standard_normal((TOPIC_DIMS, DIMENSION), dtype=np.float32)
            basis *= (scales[t] * axis_scale)[:, None]
            out[lo:hi] += centers[t]
            out[lo:hi] += coefficients[lo:hi] @ basis
    return _normalized(out[rng.permutation(n)])


def _normalized(x: np.ndarray) -> np.ndarray:
    faiss.normalize_L2(x)
    return x


@dataclass
class Row:
    n: int
    kind: str
    params: dict[str, int]
    build_s: float
    p50_ms: float
    p95_ms: float
    cpu_p50_ms: float
    p50_ms_2threads: float
    recall: float
    recall_far: float
    bytes_per_passage: float
    memory_mb: float
    remove_ms: float
    p50_ms_after_remove: float


def latencies_ms(
    index: VectorIndex, queries: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock and CPU milliseconds of ``count`` single-query searches.

    With one OpenMP thread a search runs in the calling thread, so its thread CPU time
    is what the wall time would be on an otherwise idle core: it keeps the figures
    comparable when other processes load the machine (memory and cache sharing still
    leak in).
    """
    index.search(queries[:1], K)  # warm-up
    wall, cpu = [], []
    for q in queries[:count]:
        start, start_cpu = time.perf_counter(), time.thread_time()
        index.search(q[None, :], K)
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return np.array(wall) * 1e3, np.array(cpu) * 1e3


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def bench_kind(
    kind: IndexKind,
    ids: np.ndarray,
    base: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    far: np.ndarray,
    latency_queries: int,
) -> Row:
    """Measure one kind."""
    start = time.perf_counter()
    index = VectorIndex.build(ids, base, kind)
    build_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.faiss"
        index.save(path)
        size = path.stat().st_size
        del index
        rss = psutil.Process().memory_info().rss
        index = VectorIndex.load(path)  # what a serving process holds
        memory_mb = (psutil.Process().memory_info().rss - rss) / 2**20
    # Exact search one query at a time is slow at 1M: fewer samples suffice there.
    count = (
        latency_queries if kind != "flat" else max(20, min(latency_queries, 5_000_000 // len(ids)))
    )
    one, one_cpu = latencies_ms(index, queries, count)
    index.search_threads = 2
    two, _ = latencies_ms(index, queries, max(20, count // 3))
    index.search_threads = 1
    found = index.search(queries, K)[1]
    gone = np.random.default_rng(1).choice(ids, len(ids) // 100, replace=False)
    start = time.perf_counter()
    index.remove(gone)
    remove_ms = (time.perf_counter() - start) * 1e3
    after, _ = latencies_ms(index, queries, count)
    row = Row(
        n=len(ids),
        kind=kind,
        params=index.params,
        build_s=round(build_s, 2),
        p50_ms=round(float(np.percentile(one, 50)), 3),
        p95_ms=round(float(np.percentile(one, 95)), 3),
        cpu_p50_ms=round(float(np.percentile(one_cpu, 50)), 3),
        p50_ms_2threads=round(float(np.percentile(two, 50)), 3),
        recall=round(recall_at_k(found, truth), 4),
        recall_far=round(recall_at_k(found[far], truth[far]), 4),
        bytes_per_passage=round(size / len(ids), 1),
        memory_mb=round(memory_mb, 1),
        remove_ms=round(remove_ms, 1),
        p50_ms_after_remove=round(float(np.percentile(after, 50)), 3),
    )
    return row


def bench_size(
    n: int,
    kinds: list[IndexKind],
    args: argparse.Namespace,
    centers_from: np.ndarray | None,
    log: list[str],
) -> list[Row]:
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    data = synthetic(n + args.queries, rng, centers_from)
    base, queries = data[:n], data[n:]
    ids = np.arange(n, dtype=np.int64) * 3 + 7  # ids need not be positions
    log.append(f"n={n}: generated in {time.perf_counter() - start:.1f} s")
    exact = VectorIndex.build(ids, base, "flat")
    exact.search_threads = os.cpu_count() or 1  # a batch: threads pay off
    scores, truth = exact.search(queries, K)
    far = np.argsort(scores[:, 0])[: len(queries) // 4]
    log.append(
        f"n={n}: query→nearest passage cosine p10/p50/p90 "
        + "/".join(f"{v:.2f}" for v in np.percentile(scores[:, 0], [10, 50, 90]))
        + f", 10th neighbour p50 {np.median(scores[:, K - 1]):.2f}"
        + f", 'far' quarter: nearest < {scores[far, 0].max():.2f}"
    )
    rows: list[Row] = []
    for kind in kinds:
        rows.append(bench_kind(kind, ids, base, queries, truth, far, args.latency_queries))
        print(f"  {kind:14s} n={n:,} done", file=sys.stderr, flush=True)
    return rows


def machine() -> dict[str, object]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "faiss": f"{faiss.__version__} ({faiss.get_compile_options()})",
        "python": platform.python_version(),
        "load_avg_1m": os.getloadavg()[0],
    }


def table(rows: list[Row]) -> str:
    header = (
        f"{'n':>9} {'kind':14} {'params':32} {'build s':>8} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'cpu p50':>7} {'p50 2thr':>8} {'recall':>7} {'far rec':>7} {'B/psg':>7} {'load MB':>7} "
        f"{'rm 1% ms':>8} {'p50 rm':>7}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        params = ",".join(f"{k}={v}" for k, v in r.params.items())
        lines.append(
            f"{r.n:>9,} {r.kind:14} {params:32} {r.build_s:>8.1f} {r.p50_ms:>7.2f} "
            f"{r.p95_ms:>7.2f} {r.cpu_p50_ms:>7.2f} {r.p50_ms_2threads:>8.2f} "
            f"{r.recall:>7.3f} {r.recall_far:>7.3f} {r.bytes_per_passage:>7.0f} "
            f"{r.memory_mb:>7.0f} {r.remove_ms:>8.1f} {r.p50_ms_after_remove:>7.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="100000,1000000", help="comma-separated collection sizes"
    )
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"subset of {','.join(KINDS)}")
    parser.add_argument("--quick", action="store_true", help="sizes 20000,100000, fewer queries")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--real-vectors", type=Path, help=".npy of real embeddings for topic centres"
    )
    parser.add_argument("--queries", type=int, default=1000, help="queries for recall")
    parser.add_argument("--latency-queries", type=int, default=300, help="single queries timed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.queries, args.latency_queries = "20000,100000", 400, 150
    kinds = [kind for kind in KINDS if kind in args.kinds.split(",")]
    if unknown := set(args.kinds.split(",")) - set(KINDS):
        parser.error(f"unknown kinds {sorted(unknown)}")
    centers = np.load(args.real_vectors).astype(np.float32) if args.real_vectors else None
    info = machine()
    log: list[str] = []
    rows = [
        row
        for n in (int(s) for s in args.sizes.split(","))
        for row in bench_size(n, kinds, args, centers, log)
    ]
    info["load_avg_1m_after"] = os.getloadavg()[0]
    if args.json:
        print(
            json.dumps(
                {"machine": info, "notes": log, "results": [asdict(r) for r in rows]}, indent=2
            )
        )
        return
    print(" | ".join(f"{k}: {v}" for k, v in info.items()))
    print("\n".join(log))
    print(table(rows))


if __name__ == "__main__":
    main()
