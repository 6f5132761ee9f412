"""The cheap parts of ``citebot bench`` on a tiny index (hashing embedder): shapes, not speed."""

from __future__ import annotations

import json
from pathlib import Path

from retrieval.engine import Engine
from retrieval.settings import Settings
from tests.conftest import copy_samples
from tests.fakes import HashingEmbedder
from tools.benchmark import TARGETS, Plan, common, corpus, latency


class _Step:
    def update(self, done: int, total: int | None = None) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass

    def stage(self, prefix: str) -> object:
        return lambda stage, done, total: None


def _articles(folder: Path) -> list[dict[str, object]]:
    return [
        {"title": path.stem.replace("-", " "), "text": path.read_text(encoding="utf-8")}
        for path in sorted(folder.glob("*.txt"))
    ]


async def test_latency_figures_on_a_grown_index(
    settings: Settings, collection: Path, tmp_path: Path
) -> None:
    copy_samples(collection)
    embedder = HashingEmbedder()
    base = tmp_path / "base"
    summary = await corpus.index_collection(settings, embedder, collection, base, _Step())  # type: ignore[arg-type]
    assert summary.passages > 0

    grown = tmp_path / "grown"
    target = summary.passages * 3 + 1
    made = await corpus.grow(base, target, grown, tmp_path / "encoders", _Step())  # type: ignore[arg-type]
    assert int(str(made["passages"])) >= target and int(str(made["copies"])) >= 3
    again = await corpus.grow(base, target, grown, tmp_path / "encoders", _Step())  # type: ignore[arg-type]
    assert again == made  # cached

    questions = common.questions_from(_articles(collection), 40)
    questions += [f"what happened in the flood number {n}?" for n in range(40)]
    engine = await Engine.open(corpus.corpus_settings(settings, collection, grown), embedder)
    try:
        stats = await engine.stats()
        assert stats.passages == made["passages"]
        figures = await latency.measure(
            engine, questions, single=10, concurrent=20, askers=5, profile=3
        )
    finally:
        await engine.close()

    report = json.loads(json.dumps(figures))
    for group in ("one_asker_ms", "concurrent_ms"):
        assert set(report[group]) == {"p50", "p95", "p99", "mean"}
        assert all(value > 0 for value in report[group].values())
    assert report["one_asker_qps"] > 0 and report["concurrent_qps"] > 0
    assert report["cache_hit_p50_ms"] > 0
    assert set(report["stages_p50_ms"]) == {"embed", "retrieve", "read", "compose"}


def test_plans_and_targets() -> None:
    quick, full = Plan.of(True), Plan.of(False)
    assert min(quick.latency_sizes) >= 10_000
    assert max(full.latency_sizes) == 100_000 and 1_000_000 in full.index_sizes
    assert {"ask_p50_ms", "ask_p50_ms_no_reader", "startup_s", "reindex_unchanged_s"} <= set(
        TARGETS
    )


def test_machine_and_percentiles() -> None:
    info = common.machine()
    assert info["cores"] and info["ram_gb"] > 0 and info["cpu"]
    figures = common.percentiles([1.0, 2.0, 3.0, 100.0])
    assert figures["p50"] == 2.5 and figures["p99"] > figures["p95"] > figures["p50"]
