"""``citebot eval``: answer quality and latency on a question set.

A question is answered at rank k when one of its answers appears (case-insensitive,
white space folded) in the k-th quoted passage. Every question is asked once with
k = 5 passages and hit@1/3/5 and MRR come from the ranks of the passages shown. They
are computed from the passages as retrieved, whether or not the answer was "found":
retrieval and abstention are measured separately (abstention precision and recall on
the questions marked unanswerable, ``"answers": []``).

Articles given with ``--articles`` are indexed into a throwaway data folder under the
temporary directory (``$TMPDIR/citebot-eval/<key>``, the key a hash of the article
paths and the settings that shape an index), so a second run on the same articles
reuses it: the engine's incremental reindex only checks that nothing changed. Delete
that folder to start afresh.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from retrieval.embedding import Embedder
from retrieval.engine import Engine
from retrieval.errors import IndexMismatchError, SettingsError
from retrieval.parsing import iter_files
from retrieval.settings import Settings
from retrieval.types import Answer

EVAL_K = 5
"""Passages asked for per question; hit@1, hit@3 and hit@5 are read from the same answer."""
MODES = ("hybrid", "dense", "bm25")

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class EvalQuestion:
    """One line of a question file; no answers means the collection cannot answer it."""

    id: str
    question: str
    answers: tuple[str, ...]
    kind: str | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class Outcome:
    """What one ask gave for one question.

    Attributes:
        question: the question asked.
        rank: 1-based rank of the first shown passage holding an answer, or None.
        highlighted: the highlighted phrase contains an answer.
        abstained: the engine said "not found".
        ms: ask latency in milliseconds.
    """

    question: EvalQuestion
    rank: int | None
    highlighted: bool
    abstained: bool
    ms: float


@dataclass(frozen=True)
class Metrics:
    """The figures ``citebot eval`` prints; None where a figure is undefined (no such questions)."""

    hit_at_1: float | None
    hit_at_3: float | None
    hit_at_5: float | None
    mrr: float | None
    highlight: float | None
    abstain_precision: float | None
    abstain_recall: float | None
    p50_ms: float
    p95_ms: float
    questions: int
    answerable: int

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object."""
        return {
            "hit@1": self.hit_at_1,
            "hit@3": self.hit_at_3,
            "hit@5": self.hit_at_5,
            "mrr": self.mrr,
            "highlight": self.highlight,
            "abstain_precision": self.abstain_precision,
            "abstain_recall": self.abstain_recall,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "questions": self.questions,
        }


def fold(text: str) -> str:
    """Lower case, runs of white space folded to one space: how answers are compared."""
    return _WS.sub(" ", text).strip().lower()


def load_questions(path: Path) -> list[EvalQuestion]:
    """Questions from a JSON Lines file (see ../shared/eval/README.md).

    Raises:
        SettingsError: a line is not a question object.
    """
    questions: list[EvalQuestion] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            questions.append(
                EvalQuestion(
                    str(data["id"]),
                    str(data["question"]),
                    tuple(str(a) for a in data["answers"]),
                    data.get("kind"),
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            raise SettingsError(f"{path}:{number}: not a question line ({error})") from None
    return questions


def outcome(question: EvalQuestion, answer: Answer, ms: float) -> Outcome:
    """Score one answer against the question's answers."""
    answers = [fold(a) for a in question.answers]
    rank = next(
        (
            number
            for number, passage in enumerate(answer.passages, start=1)
            if any(a in fold(passage.text) for a in answers)
        ),
        None,
    )
    phrase = answer.sentence.highlighted_text if answer.sentence else None
    highlighted = phrase is not None and any(a in fold(phrase) for a in answers)
    return Outcome(question, rank, highlighted, not answer.found, ms)


def summarize(outcomes: Sequence[Outcome]) -> Metrics:
    """hit@k, MRR and highlight over answerable questions; abstention over all; latency."""
    answerable = [o for o in outcomes if o.question.answerable]
    abstained = [o for o in outcomes if o.abstained]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    correct_abstentions = sum(1 for o in abstained if not o.question.answerable)

    def share(count: float, total: int) -> float | None:
        return round(count / total, 4) if total else None

    def hit(k: int) -> float | None:
        return share(
            sum(1 for o in answerable if o.rank is not None and o.rank <= k), len(answerable)
        )

    latencies = sorted(o.ms for o in outcomes)
    return Metrics(
        hit(1),
        hit(3),
        hit(5),
        share(sum(1 / o.rank for o in answerable if o.rank is not None), len(answerable)),
        share(sum(1 for o in answerable if o.highlighted), len(answerable)),
        share(correct_abstentions, len(abstained)),
        share(correct_abstentions, len(unanswerable)),
        round(_percentile(latencies, 50), 1),
        round(_percentile(latencies, 95), 1),
        len(outcomes),
        len(answerable),
    )


def _percentile(values: Sequence[float], percent: int) -> float:
    """The percentile, linearly interpolated between the nearest values; 0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


async def ask_all(
    engine: Engine,
    questions: Iterable[EvalQuestion],
    advance: Callable[[], None] = lambda: None,
) -> list[Outcome]:
    """Ask every question once with k = 5 passages and score the answers."""
    outcomes: list[Outcome] = []
    for question in questions:
        started = time.perf_counter()
        answer = await engine.ask(question.question, EVAL_K)
        ms = (time.perf_counter() - started) * 1000
        outcomes.append(outcome(question, answer, ms))
        advance()
    return outcomes


def eval_folder(settings: Settings, articles: Sequence[Path]) -> Path:
    """The reusable throwaway data folder for these articles and index-shaping settings."""
    key = json.dumps(
        [
            sorted(str(path.resolve()) for path in articles),
            settings.model,
            settings.encoder,
            settings.passage_tokens,
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "citebot-eval" / digest


def link_collection(articles: Sequence[Path], folder: Path) -> Path:
    """A collection folder of symbolic links to every article file given (files or folders)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for number, root in enumerate(articles):
        root = root.resolve()
        if not root.exists():
            raise SettingsError(f"--articles {root}: no such file or folder")
        base = folder / f"{number}-{root.name}"
        for path in iter_files(root):
            link = base if root.is_file() else base / path.relative_to(root)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
    return folder


def _bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


async def evaluate(
    settings: Settings,
    questions: Sequence[EvalQuestion],
    articles: Sequence[Path],
    mode: str,
    console: Console | None = None,
    embedder: Embedder | None = None,
) -> Metrics:
    """Index ``articles`` (if any) into the eval folder, ask every question, summarize.

    Args:
        settings: validated settings; without articles, their configured index is used.
        questions: the question set.
        articles: files or folders of articles; empty to use the configured index as is.
        mode: hybrid, dense or bm25.
        console: where progress bars go (none when None).
        embedder: the model; by default the one the settings name.

    Raises:
        SettingsError: unknown mode or a missing articles path.
    """
    if mode not in MODES:
        raise SettingsError(f"--mode {mode!r}: expected one of {', '.join(MODES)}")
    updates: dict[str, object] = {"retrieval_mode": mode}
    if articles:
        data_dir = eval_folder(settings, articles)
        updates |= {
            "data_dir": data_dir,
            "collection": link_collection(articles, data_dir / "articles"),
        }
    settings = settings.model_copy(update=updates)
    bar = _bar(console or Console(quiet=True))
    with bar:
        async with await Engine.open(settings, embedder) as engine:
            if articles:
                tasks: dict[str, Any] = {}

                def progress(stage: str, done: int, total: int) -> None:
                    if stage not in tasks:
                        tasks[stage] = bar.add_task(stage, total=max(total, 1))
                    bar.update(tasks[stage], completed=done, total=max(total, 1))

                try:
                    await engine.reindex(progress=progress)
                except IndexMismatchError:
                    await engine.reindex(rebuild=True, progress=progress)
            # the first ask loads the model: keep it out of the latency figures
            await engine.ask("warm up", EVAL_K)
            task = bar.add_task("asking", total=len(questions))
            outcomes = await ask_all(engine, questions, lambda: bar.advance(task))
    return summarize(outcomes)


async def evaluate_command(
    settings: Settings,
    questions: Path,
    articles: list[Path],
    mode: str,
    as_json: bool,
    out: Console,
) -> None:
    """The ``citebot eval`` command: print the metrics as a table or one JSON object."""
    loaded = load_questions(questions)
    metrics = await evaluate(settings, loaded, articles, mode, Console(stderr=True))
    if as_json:
        out.print_json(json.dumps(metrics.to_json()))
        return
    unanswerable = metrics.questions - metrics.answerable
    out.print(
        f"{escape(questions.name)}: {metrics.questions} questions "
        f"({metrics.answerable} answerable, {unanswerable} unanswerable), mode {mode}"
    )
    for name, value in metrics.to_json().items():
        if name == "questions":
            continue
        shown = (
            "n/a" if value is None else (f"{value:.1f}" if name.endswith("_ms") else f"{value:.3f}")
        )
        out.print(f"  {name:<18} {shown}")
