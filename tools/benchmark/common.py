"""Shared helpers of the speed benchmark: paths, machine, percentiles, questions, progress."""

from __future__ import annotations

import json
import os
import platform
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from tools.datasets import SHARED_EVAL

ARTICLES_ENV = "CITEBOT_BENCH_ARTICLES"
CACHE_ENV = "CITEBOT_BENCH_CACHE"
REUTERS_NAME = "reuters21578.articles.jsonl"


def articles_file() -> Path | None:
    """The Reuters articles: $CITEBOT_BENCH_ARTICLES, else ../shared/eval beside the repo."""
    configured = os.environ.get(ARTICLES_ENV)
    path = Path(configured) if configured else SHARED_EVAL / REUTERS_NAME
    return path if path.is_file() else None


def cache_root() -> Path:
    """Where embedded corpora and grown indexes are kept between runs."""
    root = Path(os.environ.get(CACHE_ENV, Path(tempfile.gettempdir()) / "citebot-bench"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, load, Python and the date of the run."""
    cpuinfo = Path("/proc/cpuinfo")
    model = platform.processor() or "unknown"
    if cpuinfo.exists():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text(encoding="utf-8").splitlines()
                if line.startswith("model name")
            ),
            model,
        )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def percentiles(milliseconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 and mean, rounded, of latencies in ms."""
    values = np.asarray(milliseconds, dtype=np.float64)
    if len(values) == 0:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "p50": round(float(p50), 2),
        "p95": round(float(p95), 2),
        "p99": round(float(p99), 2),
        "mean": round(float(values.mean()), 2),
    }


def read_articles(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The first ``limit`` articles (all if None) of a JSON Lines file, as dicts."""
    found: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                found.append(json.loads(line))
                if limit is not None and len(found) >= limit:
                    break
    return found


def write_subset(source: Path, limit: int, target: Path) -> Path:
    """Copy the first ``limit`` lines of ``source`` to ``target`` (a .jsonl file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as out:
        for count, line in enumerate(lines):
            if count >= limit:
                break
            out.write(line)
    return target


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def questions_from(articles: list[dict[str, Any]], count: int, *, offset: int = 0) -> list[str]:
    """``count`` distinct questions: article titles and first sentences, alternately.

    Real text from the indexed articles, so retrieval has something to find; every
    question is different (after the engine's case and space folding), so the answer
    cache never helps. ``offset`` skips that many articles (to get disjoint sets).
    """
    seen: set[str] = set()
    found: list[str] = []
    for number, article in enumerate(articles[offset:] + articles[:offset]):
        candidates = [str(article.get("title") or "")]
        text = str(article.get("text") or "").strip()
        if text:
            first = _SENTENCE_END.split(text, maxsplit=1)[0]
            candidates.append(" ".join(first.split()[:25]))
        if number % 2:
            candidates.reverse()
        for candidate in candidates:
            key = " ".join(candidate.lower().split())
            if len(key) >= 12 and key not in seen:
                seen.add(key)
                found.append(candidate)
                break
        if len(found) >= count:
            break
    return found


class Reporter:
    """rich progress bars on stderr for the long steps (silent when not a terminal)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description:<34}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )

    def __enter__(self) -> Reporter:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def note(self, message: str) -> None:
        self._progress.console.log(message)

    @contextmanager
    def step(self, description: str, total: int = 1) -> Iterator[Step]:
        task = self._progress.add_task(description, total=max(total, 1))
        started = time.perf_counter()
        try:
            yield Step(self._progress, task)
        finally:
            self._progress.remove_task(task)
            if not self.console.is_terminal:  # no live bars: one line per step instead
                self.console.print(f"{description}: {time.perf_counter() - started:.1f} s")


class Step:
    """One progress bar; ``update`` may be called from worker threads."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def update(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self._progress.update(self._task, completed=done, total=max(total, 1))
        else:
            self._progress.update(self._task, completed=done)

    def advance(self, count: int = 1) -> None:
        self._progress.advance(self._task, count)

    def stage(self, prefix: str) -> Any:
        """A reindex ``progress(stage, done, total)`` callback driving this bar."""

        def report(stage: str, done: int, total: int) -> None:
            self._progress.update(
                self._task,
                description=f"{prefix}: {stage}",
                completed=done,
                total=max(total, 1),
            )

        return report
