"""``citebot bench``: indexing and answering speed on this machine, one part per figure.

* :mod:`.throughput` — passages/s of a full reindex, int8 ONNX vs fp32, same articles;
* :mod:`.corpus` — the Reuters index (embedded once, cached) grown to 10k/100k passages;
* :mod:`.latency` — ask p50/p95/p99, one and 50 concurrent askers, q/s, cache hits, stages;
* :mod:`.startup` / :mod:`.probe` — start-up to the first answer and peak RSS, fresh process;
* :mod:`.index_scaling` — index-only latency, recall@10 and memory (bench/bench_index.py);
* :mod:`.feeds` — live collections: time to answerable, unchanged refresh CPU, memory.

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from retrieval.engine import Engine
from retrieval.models.embedder import Embedder
from retrieval.models.encoders import make_embedder
from retrieval.settings import Settings
from retrieval.types import EncoderKind

from . import corpus, feeds, index_scaling, latency, startup, throughput
from .common import Reporter, articles_file, cache_root, machine, questions_from, read_articles

__all__ = ["Plan", "bench_command", "run_benchmark"]

FAST_ENCODER: EncoderKind = "onnx-int8"
PLAIN_ENCODER: EncoderKind = "sentence-transformers"

TARGETS = {
    "ask_p50_ms": ("<=", 60.0),
    "ask_p99_ms": ("<=", 150.0),
    "ask_p50_ms_no_reader": ("<=", 10.0),
    "index_speedup": (">=", 2.5),
    "concurrent_qps_no_reader": (">=", 100.0),
    "reindex_unchanged_s": ("<=", 3.0),
    "startup_s": ("<=", 5.0),
    "feed_answerable_s": ("<=", 90.0),
    "feed_unchanged_refresh_cpu_s": ("<=", 1.0),
    "collection_extra_mb": ("<=", 50.0),
}
FEED_TARGETS = ("feed_answerable_s", "feed_unchanged_refresh_cpu_s", "collection_extra_mb")


@dataclass(frozen=True)
class Plan:
    """Sizes of one run."""

    quick: bool
    throughput_articles: int
    base_articles: int | None  # None: every Reuters article
    latency_sizes: tuple[int, ...]
    single: int
    concurrent: int
    askers: int
    profile: int
    probe_questions: int
    index_sizes: tuple[int, ...]
    index_queries: int
    index_latency_queries: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(
                True, 1000, 4000, (10_000, 100_000), 200, 500, 50, 30, 100,
                (100_000,), 400, 150,
            )  # fmt: skip
        return cls(
            False, 4000, None, (10_000, 100_000), 300, 1000, 50, 50, 200,
            (100_000, 1_000_000), 1000, 300,
        )  # fmt: skip


async def bench_command(
    settings: Settings, quick: bool, as_json: bool, out: Console, feeds_only: bool = False
) -> None:
    """Run the benchmark and print a table (or one JSON object with ``as_json``);
    ``feeds_only``: only the live-collection part."""
    articles = articles_file()
    if articles is None:
        Console(stderr=True).print(
            "[yellow]citebot bench: the Reuters articles were not found[/] "
            "(../shared/eval/reuters21578.articles.jsonl beside the repository); "
            "set CITEBOT_BENCH_ARTICLES to a JSON Lines file of articles. Nothing measured."
        )
        return
    with Reporter() as reporter:
        if feeds_only:
            report: dict[str, Any] = {"mode": "feeds", "machine": machine()}
            report |= await run_feeds_benchmark(settings, articles, reporter)
            report["targets"] = _targets(report, FEED_TARGETS)
            report["machine"]["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
        else:
            report = await run_benchmark(settings, Plan.of(quick), articles, reporter)
    if as_json:
        out.print_json(json.dumps(report))
    elif feeds_only:
        print_feeds(report, out)
    else:
        print_report(report, out)
        print_feeds(report, out)


async def run_feeds_benchmark(
    settings: Settings, articles: Path, reporter: Reporter
) -> dict[str, Any]:
    """The live-collection figures (:mod:`.feeds`), in a fresh scratch folder."""
    scratch = cache_root() / "feeds"
    shutil.rmtree(scratch, ignore_errors=True)
    fast = make_embedder(FAST_ENCODER, settings.model_path(), cache_root() / "encoders")
    with reporter.step("live collections (~4 min)", total=4) as step:
        figures = await feeds.measure(settings, fast, articles, scratch, step)
    shutil.rmtree(scratch, ignore_errors=True)
    return {
        "feeds": figures,
        "feed_answerable_s": figures["time_to_answerable"]["worst_s"],
        "feed_unchanged_refresh_cpu_s": figures["unchanged_refresh"]["cpu_s"],
        "collection_extra_mb": figures["memory"]["extra_collection_mb_max"],
    }


def _targets(report: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    found = {}
    for name in names:
        op, limit = TARGETS[name]
        value = report[name]
        met = value <= limit if op == "<=" else value >= limit
        found[name] = {"target": f"{op} {limit:g}", "value": value, "met": met}
    return found


async def run_benchmark(
    settings: Settings, plan: Plan, articles: Path, reporter: Reporter
) -> dict[str, Any]:
    """Every figure of the plan, as one JSON-ready dict."""
    started = time.perf_counter()
    info = machine()
    root = cache_root()
    encoder_cache = root / "encoders"
    model_dir = settings.model_path()
    fast = make_embedder(FAST_ENCODER, model_dir, encoder_cache)
    with reporter.step("loading the int8 encoder"):
        await asyncio.to_thread(fast.embed, ["warm up"])
    texts = read_articles(articles)
    report: dict[str, Any] = {
        "mode": "quick" if plan.quick else "full",
        "machine": info,
        "method": (
            "throughput: full Engine.reindex of the same first N articles per encoder, "
            "fresh data folders, model loaded first; latency: Engine.ask, hybrid, distinct "
            "questions (titles/first sentences of indexed articles); indexes past the "
            f"embedded base are grown with copies of its articles, vectors + noise of norm "
            f"{corpus.NOISE} (see bench/README.md); start-up and RSS in a fresh process; "
            "index-only: bench/bench_index.py on synthetic vectors"
        ),
    }
    partial = root / "last-report.json"  # what was measured so far, if a run is cut short

    # 1. the Reuters index, embedded once and cached; then a reindex with nothing changed
    base_dir, base_collection = _base_corpus(root, articles, plan)
    with reporter.step(f"indexing {base_collection.name} (cached)") as step:
        first = await corpus.index_collection(settings, fast, base_collection, base_dir, step)
    with reporter.step("reindex, nothing changed") as step:
        t0 = time.perf_counter()
        unchanged = await corpus.index_collection(settings, fast, base_collection, base_dir, step)
        unchanged_s = time.perf_counter() - t0
    report["reindex"] = {
        "articles": unchanged.unchanged,
        "passages": unchanged.passages,
        "first_run_s": round(first.seconds, 2),
        "first_run_new_articles": first.new,
        "unchanged_s": round(unchanged_s, 2),
    }
    report["reindex_unchanged_s"] = round(unchanged_s, 2)

    partial.write_text(json.dumps(report), encoding="utf-8")

    # 2. indexing throughput, int8 vs fp32, the same articles
    plain = make_embedder(PLAIN_ENCODER, model_dir, encoder_cache)
    with reporter.step(f"throughput: {plan.throughput_articles} articles x 2") as step:
        embedders: dict[str, Embedder] = {FAST_ENCODER: fast, PLAIN_ENCODER: plain}
        speed = await throughput.measure(
            settings, embedders, articles, plan.throughput_articles, step
        )
    del plain, embedders
    report["throughput"] = speed
    report["index_speedup"] = speed["index_speedup"]
    report["index_passages_per_s"] = speed["encoders"][FAST_ENCODER]["passages_per_s"]
    report["fp32_passages_per_s"] = speed["encoders"][PLAIN_ENCODER]["passages_per_s"]

    partial.write_text(json.dumps(report), encoding="utf-8")

    # 3. ask latency at each size (grown from the Reuters index)
    per_size = plan.single + plan.concurrent + plan.profile + 6
    # questions from the indexed articles only (the base corpus), so they have answers
    indexed = texts[: plan.base_articles] if base_collection != articles else texts
    questions = questions_from(indexed, per_size * len(plan.latency_sizes) + plan.probe_questions)
    report["latency"] = {}
    grown_dirs: dict[int, Path] = {}
    for number, size in enumerate(plan.latency_sizes):
        data_dir = root / f"grown-{FAST_ENCODER}-{size}"
        with reporter.step(f"building the {size:,}-passage index") as step:
            made = await corpus.grow(base_dir, size, data_dir, encoder_cache, step)
        grown_dirs[size] = data_dir
        asked = questions[number * per_size : (number + 1) * per_size]
        report["latency"][str(size)] = {"index": made}
        for reader in (True, False):
            engine = await Engine.open(
                corpus.corpus_settings(settings, base_collection, data_dir, reader=reader), fast
            )
            label = "reader" if reader else "no_reader"
            try:
                with reporter.step(f"asking at {size:,} passages ({label})") as step:
                    figures = await latency.measure(
                        engine,
                        asked,
                        single=plan.single,
                        concurrent=plan.concurrent,
                        askers=plan.askers,
                        profile=plan.profile,
                        step=step,
                    )
            finally:
                await engine.close()
            report["latency"][str(size)][label] = figures
    largest = max(plan.latency_sizes)
    report["ask_passages"] = report["latency"][str(largest)]["index"]["passages"]
    top = report["latency"][str(largest)]["reader"]
    plain = report["latency"][str(largest)]["no_reader"]
    report["ask_p50_ms"] = top["one_asker_ms"]["p50"]
    report["ask_p95_ms"] = top["one_asker_ms"]["p95"]
    report["ask_p99_ms"] = top["one_asker_ms"]["p99"]
    report["ask_p50_ms_no_reader"] = plain["one_asker_ms"]["p50"]
    report["ask_p99_ms_no_reader"] = plain["one_asker_ms"]["p99"]
    report["concurrent_qps"] = top["concurrent_qps"]
    report["concurrent_p50_ms"] = top["concurrent_ms"]["p50"]
    report["concurrent_qps_no_reader"] = plain["concurrent_qps"]
    report["cache_hit_p50_ms"] = top["cache_hit_p50_ms"]

    partial.write_text(json.dumps(report), encoding="utf-8")

    # 4. start-up and peak memory in a fresh process at the largest index
    with reporter.step(f"start-up + RSS at {largest:,} passages"):
        probe = await asyncio.to_thread(
            startup.measure,
            grown_dirs[largest],
            base_collection,
            FAST_ENCODER,
            questions[-plan.probe_questions :],
        )
    report["startup"] = probe
    report["startup_s"] = probe["startup_s"]
    report["peak_rss_mb"] = probe["peak_rss_mb"]

    partial.write_text(json.dumps(report), encoding="utf-8")

    # 5. index-only scaling on synthetic vectors
    with reporter.step(f"index only: {', '.join(f'{n:,}' for n in plan.index_sizes)}"):
        report["index_only"] = await asyncio.to_thread(
            index_scaling.measure,
            list(plan.index_sizes),
            plan.index_queries,
            plan.index_latency_queries,
        )
    partial.write_text(json.dumps(report), encoding="utf-8")

    # 6. live collections: feeds on a schedule, an unchanged refresh, memory per collection
    report |= await run_feeds_benchmark(settings, articles, reporter)
    report["targets"] = _targets(report, TARGETS)
    report["machine"]["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    report["total_s"] = round(time.perf_counter() - started, 1)
    partial.write_text(json.dumps(report), encoding="utf-8")
    return report


def _base_corpus(root: Path, articles: Path, plan: Plan) -> tuple[Path, Path]:
    """(data folder, collection) of the cached Reuters index.

    A full run indexes every article; a quick run reuses that index when a full run
    made it, else indexes the first ``base_articles`` articles.
    """
    full = root / f"reuters-{FAST_ENCODER}-all"
    if plan.base_articles is None or (full / "CURRENT").exists():
        return full, articles
    from .common import write_subset

    collection = root / "collections" / f"reuters-{plan.base_articles}.jsonl"
    if not collection.exists():
        write_subset(articles, plan.base_articles, collection)
    return root / f"reuters-{FAST_ENCODER}-{plan.base_articles}", collection


def print_report(report: dict[str, Any], out: Console) -> None:
    """The figures as tables."""
    m = report["machine"]
    out.print(
        f"[bold]citebot bench ({report['mode']})[/] — {m['cpu']}, {m['cores']} cores, "
        f"{m['ram_gb']} GB RAM, Python {m['python']}, {m['date']}, "
        f"load {m['load_avg_1m']} → {m.get('load_avg_1m_after', '?')}"
    )
    speed = report["throughput"]
    table = Table(title=f"Indexing throughput ({speed['articles']:,} Reuters articles, reindex)")
    for column in ("encoder", "passages", "reindex s", "passages/s", "embed-only p/s"):
        table.add_column(column, justify="right")
    for name, row in speed["encoders"].items():
        table.add_row(
            name,
            f"{row['passages']:,}",
            f"{row['seconds']:.1f}",
            f"{row['passages_per_s']:.1f}",
            f"{row['embed_passages_per_s'] or 0:.1f}",
        )
    table.caption = (
        f"index_speedup {speed['index_speedup']}x (embedding only {speed['embed_speedup']}x)"
    )
    out.print(table)

    table = Table(title="Ask latency (hybrid, distinct questions, ms)")
    for column in (
        "passages", "index", "1 asker p50", "p95", "p99", "q/s",
        "50 askers p50", "p95", "p99", "q/s", "cache hit p50",
    ):  # fmt: skip
        table.add_column(column, justify="right")
    rows = [
        (size["index"], label, size[label])
        for size in report["latency"].values()
        for label in ("reader", "no_reader")
    ]
    for index, label, figures in rows:
        one, many = figures["one_asker_ms"], figures["concurrent_ms"]
        table.add_row(
            f"{index['passages']:,} {label}",
            str(index["kind"]),
            f"{one['p50']:.1f}",
            f"{one['p95']:.1f}",
            f"{one['p99']:.1f}",
            f"{figures['one_asker_qps']:.0f}",
            f"{many['p50']:.1f}",
            f"{many['p95']:.1f}",
            f"{many['p99']:.1f}",
            f"{figures['concurrent_qps']:.0f}",
            f"{figures['cache_hit_p50_ms']:.2f}",
        )
    out.print(table)
    table = Table(title="Where one uncached question's time goes (median ms)")
    stage_names = list(rows[0][2]["stages_p50_ms"])
    table.add_column("passages", justify="right")
    for name in stage_names:
        table.add_column(name, justify="right")
    for index, label, figures in rows:
        stages = figures["stages_p50_ms"]
        table.add_row(f"{index['passages']:,} {label}", *(f"{stages[n]:.2f}" for n in stage_names))
    out.print(table)

    index_only = report["index_only"]
    if "rows" in index_only:
        table = Table(title="Index only (synthetic vectors, k=10, 1 thread)")
        for column in ("n", "kind", "build s", "p50 ms", "p95 ms", "recall@10", "B/passage", "MB"):
            table.add_column(column, justify="right")
        for row in index_only["rows"]:
            table.add_row(
                f"{row['n']:,}",
                row["kind"],
                f"{row['build_s']:.1f}",
                f"{row['p50_ms']:.2f}",
                f"{row['p95_ms']:.2f}",
                f"{row['recall']:.3f}",
                f"{row['bytes_per_passage']:.0f}",
                f"{row['memory_mb']:.0f}",
            )
        out.print(table)
    else:
        out.print(f"Index only: {index_only.get('skipped')}")

    table = Table(title="Targets")
    for column in ("figure", "value", "target", "met"):
        table.add_column(column, justify="right")
    extra = {
        "index_speedup": report["index_speedup"],
        "index_passages_per_s": report["index_passages_per_s"],
        "fp32_passages_per_s": report["fp32_passages_per_s"],
        "peak_rss_mb": report["peak_rss_mb"],
        "cache_hit_p50_ms": report["cache_hit_p50_ms"],
    }
    for name, target in report["targets"].items():
        table.add_row(
            name, str(target["value"]), target["target"], "yes" if target["met"] else "[red]NO[/]"
        )
    for name, value in extra.items():
        table.add_row(name, str(value), "", "")
    table.caption = (
        f"ask figures at {report['ask_passages']:,} passages; start-up and RSS in a fresh "
        f"process at that size; reindex of {report['reindex']['articles']:,} unchanged articles"
    )
    out.print(table)


def print_feeds(report: dict[str, Any], out: Console) -> None:
    """The live-collection figures as a table."""
    figures = report["feeds"]
    answerable, refresh, memory = (
        figures["time_to_answerable"],
        figures["unchanged_refresh"],
        figures["memory"],
    )
    table = Table(title="Live collections")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row(
        f"publication to answer, {answerable['schedule_minutes']:g}-min schedule (worst of "
        f"{len(answerable['seconds'])}), s",
        f"{answerable['worst_s']}",
    )
    table.add_row(
        f"unchanged refresh of {refresh['feeds']} feeds, CPU s (wall s)",
        f"{refresh['cpu_s']} ({refresh['wall_s']})",
    )
    table.add_row(
        f"extra {memory['articles_per_collection']:,}-article collection, MB (each)",
        ", ".join(f"{mb:g}" for mb in memory["extra_collection_mb"]),
    )
    out.print(table)
