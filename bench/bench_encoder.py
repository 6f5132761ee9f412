"""Side-by-side speed and agreement of the fp32 and int8 ONNX encoders.

Usage::

    .venv/bin/python bench/bench_encoder.py [--passages 2000] [--json]

Takes the first N paragraphs of ``../shared/eval/reuters21578.articles.jsonl``,
embeds them with the fp32 sentence-transformers encoder and the int8 ONNX Runtime
encoder in the same run, and prints passages per second for each, the speedup,
the cosine similarity between the two vectors of every passage (mean and min),
single-question latency (p50/p95) and the machine.

A third row, ``fp32_sorted``, runs the same fp32 model through
``SentenceTransformer.encode`` on whole chunks, which sorts them by length as the
ONNX encoder does; it separates the gain of length batching from that of int8.

The two encoders take turns on chunks of passages (and on single questions), so a
busy machine slows both alike and the ratio stays fair even when the absolute
figures do not.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.models.embedder import packaged_model_path
from retrieval.models.fp32_embedder import SentenceTransformerEmbedder
from retrieval.models.onnx_embedder import OnnxEmbedder

log = logging.getLogger(__name__)

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
REUTERS_FILE = EVAL_DIR / "reuters21578.articles.jsonl"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "citebot-bench-encoders"

QUESTIONS = [
    "How many soldiers were killed in the attack in Mali?",
    "What did the central bank say about interest rates?",
    "Who won the election?",
    "When will the new cocoa crop arrive?",
    "Why did oil prices fall?",
]


def passages(path: Path, limit: int) -> list[str]:
    """The first ``limit`` non-empty paragraphs (one a line in each article's text)."""
    found: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            for paragraph in json.loads(line)["text"].split("\n"):
                if paragraph.strip():
                    found.append(paragraph.strip())
                    if len(found) == limit:
                        return found
    return found


def chunks(texts: list[str], size: int) -> Iterator[tuple[int, list[str]]]:
    for start in range(0, len(texts), size):
        yield start, texts[start : start + size]


def sorted_fp32(model_dir: Path, batch_size: int) -> Callable[[list[str]], np.ndarray]:
    """The fp32 model through ``SentenceTransformer.encode``, which length-sorts its input."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")

    def embed(texts: list[str]) -> np.ndarray:
        return model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    return embed


def machine() -> dict[str, Any]:
    """CPU model, core count, RAM, VNNI support and load, from /proc."""
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text(encoding="utf-8")
    kib = next(int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal"))
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": round(kib / 2**20, 1),
        "vnni": "vnni" in cpuinfo,
        "load_average_1m": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=2000, help="paragraphs to embed")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="threads for both encoders")
    parser.add_argument("--chunk", type=int, default=500, help="passages per turn")
    parser.add_argument("--queries", type=int, default=50, help="timed questions per encoder")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    texts = passages(REUTERS_FILE, args.passages)
    model_dir = packaged_model_path()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    fp32 = SentenceTransformerEmbedder(model_dir, batch_size=args.batch_size)
    onnx = OnnxEmbedder(model_dir, args.cache_dir, batch_size=args.batch_size, threads=args.threads)
    setup_s = {}
    for name, encoder in (("fp32", fp32), ("onnx_int8", onnx)):
        started = time.perf_counter()
        encoder.embed(QUESTIONS)  # loads (and for ONNX, on a cold cache, builds) the model
        setup_s[name] = time.perf_counter() - started
    encoders: dict[str, Callable[[list[str]], np.ndarray]] = {
        "fp32": fp32.embed,
        "fp32_sorted": sorted_fp32(model_dir, args.batch_size),
        "onnx_int8": onnx.embed,
    }
    encoders["fp32_sorted"](QUESTIONS)

    load_before = os.getloadavg()[0]
    vectors = {name: np.empty((len(texts), 384), dtype=np.float32) for name in encoders}
    seconds = dict.fromkeys(encoders, 0.0)
    for start, chunk in chunks(texts, args.chunk):
        for name, embed in encoders.items():
            started = time.perf_counter()
            vectors[name][start : start + len(chunk)] = embed(chunk)
            seconds[name] += time.perf_counter() - started

    latencies: dict[str, list[float]] = {"fp32": [], "onnx_int8": []}
    for turn in range(args.queries):
        question = QUESTIONS[turn % len(QUESTIONS)]
        for name in latencies:
            started = time.perf_counter()
            encoders[name]([question])
            latencies[name].append((time.perf_counter() - started) * 1000)

    cosines = (vectors["fp32"] * vectors["onnx_int8"]).sum(axis=1)
    rate = {name: len(texts) / seconds[name] for name in encoders}
    report: dict[str, Any] = {
        "passages": len(texts),
        "mean_tokens": float(np.mean([fp32.count_tokens(t) for t in texts])),
        "threads": args.threads or os.cpu_count(),
        "batch_size": args.batch_size,
        "passages_per_s": {name: round(value, 1) for name, value in rate.items()},
        "speedup": round(rate["onnx_int8"] / rate["fp32"], 2),
        "speedup_vs_fp32_sorted": round(rate["onnx_int8"] / rate["fp32_sorted"], 2),
        "cosine_mean": round(float(cosines.mean()), 5),
        "cosine_min": round(float(cosines.min()), 5),
        "query_ms": {
            name: {
                "p50": round(float(np.percentile(values, 50)), 2),
                "p95": round(float(np.percentile(values, 95)), 2),
            }
            for name, values in latencies.items()
        },
        "setup_s": {name: round(value, 2) for name, value in setup_s.items()},
        "machine": machine() | {"load_average_1m_at_start": load_before},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    m = report["machine"]
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, "
        f"VNNI {'yes' if m['vnni'] else 'no'}, load {load_before:.1f} -> {m['load_average_1m']:.1f}"
    )
    print(f"{len(texts)} passages, {report['mean_tokens']:.1f} tokens on average")
    for name in encoders:
        line = f"{name:>12}: {rate[name]:7.1f} passages/s"
        if name in latencies:
            q = report["query_ms"][name]
            line += f"   query p50 {q['p50']:6.2f} ms  p95 {q['p95']:6.2f} ms"
            line += f"   setup {setup_s[name]:.1f} s"
        print(line)
    print(
        f"speedup: {report['speedup']:.2f}x over fp32, "
        f"{report['speedup_vs_fp32_sorted']:.2f}x over fp32_sorted"
    )
    print(f"cosine fp32 vs int8: mean {report['cosine_mean']:.5f}, min {report['cosine_min']:.5f}")


if __name__ == "__main__":
    main()
