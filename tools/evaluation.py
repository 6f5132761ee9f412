"""``citebot eval``: answer quality and latency on a question set, figures that cannot flatter.

Every question is asked once with k = 5 passages (with its ``asked_at`` date, if any).

* **hit@1/3/5, MRR**: the rank of the first shown passage holding an answer string
  (case-insensitive, white space folded), over answerable questions, whether or not the
  answer was "found": retrieval and abstention are measured apart.
* **highlight_precision**: of every bold shown (answerable question or not), the share
  that holds an answer string; **highlight_recall**: the share of answerable questions
  answered with a bold that holds one; **highlight_f1**: the mean over bolds shown of the
  token F1 (SQuAD's normalisation) of the bold against its best answer (0 for a bold on
  an unanswerable question).
* **abstain_precision / abstain_recall**: over questions marked unanswerable
  (``"answers": []``): right abstentions / all abstentions, and / all unanswerable.
* **p50_ms / p95_ms**: ``Engine.ask`` wall time after one warm-up question.

``--split train|validation`` keeps the questions of one part of the fixed split by
article (:mod:`tools.datasets`, made for SQuAD's dev half). ``--calibrate`` asks with
both thresholds at 0 (so that ``--outcomes`` tells what any threshold would give), and
``citebot calibrate OUTCOMES...`` picks the thresholds from such outcomes of the tuning
sets (see :func:`calibration`).

Articles given with ``--articles`` are indexed into a throwaway data folder under the
temporary directory (``$TMPDIR/citebot-eval/<key>``, the key a hash of the article
paths and the settings that shape an index), so a second run on the same articles
reuses it. Delete that folder to start afresh.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import statistics
import string
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, get_args

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from retrieval.engine import Engine
from retrieval.errors import IndexMismatchError, SettingsError
from retrieval.ingest.collection import iter_files
from retrieval.models.embedder import Embedder
from retrieval.models.reader import Reader
from retrieval.settings import Settings
from retrieval.types import Answer, Mode
from tools.datasets import Split, split_of, validation_articles

EVAL_K = 5
"""Passages asked for per question; hit@1, hit@3 and hit@5 are read from the same answer."""
MODES: tuple[str, ...] = get_args(Mode)
BOLD_TARGET = 0.85
FOUND_TARGET = 0.9
"""The precision the calibrated bold and "not found" thresholds are chosen to reach."""
FOUND_COST = 0.03
"""At most this share of right first answers may be lost to "not found"."""

_WS = re.compile(r"\s+")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


@dataclass(frozen=True)
class EvalQuestion:
    """One line of a question file; no answers means the collection cannot answer it."""

    id: str
    question: str
    answers: tuple[str, ...]
    article_id: str | None = None
    asked_at: datetime | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class Outcome:
    """What one ask gave for one question (``--outcomes`` writes one a line).

    Attributes:
        rank: 1-based rank of the first shown passage holding an answer, or None.
        found: the engine said it found an answer.
        bold: the bolded phrase, or None.
        bold_holds: the bold holds an answer string.
        bold_f1: token F1 of the bold against its best answer (0 without a bold).
        bold_confidence: the reader's confidence in the answer sentence's best phrase.
        confidence: what "found" was decided on.
        reader_evidence, retrieval_evidence: what that confidence combines.
        ms: ask latency in milliseconds.
    """

    id: str
    answerable: bool
    rank: int | None
    found: bool
    bold: str | None
    bold_holds: bool
    bold_f1: float
    bold_confidence: float | None
    confidence: float
    reader_evidence: float | None
    retrieval_evidence: float | None
    ms: float


@dataclass(frozen=True)
class Metrics:
    """The figures ``citebot eval`` prints; None where a figure is undefined."""

    hit_at_1: float | None
    hit_at_3: float | None
    hit_at_5: float | None
    mrr: float | None
    highlight_precision: float | None
    highlight_recall: float | None
    highlight_f1: float | None
    abstain_precision: float | None
    abstain_recall: float | None
    p50_ms: float
    p95_ms: float
    questions: int
    answerable: int
    bolds: int

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object."""
        figures = asdict(self)
        for name in ("hit_at_1", "hit_at_3", "hit_at_5"):
            figures[name.replace("_at_", "@")] = figures.pop(name)
        return figures


def fold(text: str) -> str:
    """Lower case, runs of white space folded to one space: how answers are compared."""
    return _WS.sub(" ", text).strip().lower()


def tokens(text: str) -> list[str]:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, split."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return _ARTICLES.sub(" ", text).split()


def token_f1(prediction: str, answer: str) -> float:
    """SQuAD's token F1 of a prediction against one answer."""
    predicted, gold = tokens(prediction), tokens(answer)
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def load_questions(path: Path, split: Split | None = None) -> list[EvalQuestion]:
    """Questions from a JSON Lines file (see ../shared/eval/README.md), of one split or all.

    Raises:
        SettingsError: a line is not a question object.
    """
    questions: list[EvalQuestion] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            asked = data.get("asked_at")
            questions.append(
                EvalQuestion(
                    str(data["id"]),
                    str(data["question"]),
                    tuple(str(a) for a in data["answers"]),
                    data.get("article_id"),
                    _asked_at(asked) if asked else None,
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            raise SettingsError(f"{path}:{number}: not a question line ({error})") from None
    if split is None:
        return questions
    validation = validation_articles(q.article_id for q in questions if q.article_id)
    return [q for q in questions if split_of(str(q.article_id), validation) == split]


def _asked_at(value: str) -> datetime:
    when = (
        datetime.fromisoformat(value)
        if "T" in value
        else datetime.combine(date.fromisoformat(value), datetime.min.time())
    )
    return when if when.tzinfo else when.replace(tzinfo=UTC)


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
    sentence = answer.sentence if answer.found else None
    bold = sentence.highlighted_text if sentence else None
    holds = bold is not None and any(a in fold(bold) for a in answers)
    f1 = max((token_f1(bold, a) for a in question.answers), default=0.0) if bold else 0.0
    return Outcome(
        question.id,
        question.answerable,
        rank,
        answer.found,
        bold,
        holds,
        round(f1, 4),
        None if sentence is None else sentence.highlight_confidence,
        round(answer.confidence, 4),
        _rounded(answer.evidence.reader if answer.evidence else None),
        _rounded(answer.evidence.retrieval if answer.evidence else None),
        round(ms, 2),
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def summarize(outcomes: Sequence[Outcome]) -> Metrics:
    """Every figure of the module docstring, from the outcomes."""
    answerable = [o for o in outcomes if o.answerable]
    abstained = [o for o in outcomes if not o.found]
    unanswerable = [o for o in outcomes if not o.answerable]
    bolds = [o for o in outcomes if o.bold is not None]
    right_abstentions = sum(1 for o in abstained if not o.answerable)

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
        share(sum(o.bold_holds for o in bolds), len(bolds)),
        share(sum(o.bold_holds for o in answerable), len(answerable)),
        share(sum(o.bold_f1 for o in bolds), len(bolds)),
        share(right_abstentions, len(abstained)),
        share(right_abstentions, len(unanswerable)),
        round(_percentile(latencies, 50), 1),
        round(_percentile(latencies, 95), 1),
        len(outcomes),
        len(answerable),
        len(bolds),
    )


def read_outcomes(path: Path) -> list[Outcome]:
    """Outcomes written by ``citebot eval --outcomes``."""
    return [Outcome(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]


def calibration(sets: Mapping[str, Sequence[Outcome]]) -> dict[str, Any]:
    """The "found" and bold thresholds, from outcomes asked with both thresholds at 0 on
    the tuning sets (SQuAD's validation part, the news tuning half).

    * found: the highest threshold whose abstentions keep :data:`FOUND_TARGET` precision
      on the sets with unanswerable questions, while abstaining on at most
      :data:`FOUND_COST` of the questions answered at rank 1 in every set;
    * bold: the lowest threshold whose bolds (on answers found at that threshold) hold
      an answer in at least :data:`BOLD_TARGET` of cases in every set.
    """
    everything = [o for outcomes in sets.values() for o in outcomes]
    unanswerable = [o for o in everything if not o.answerable]
    found = 0.0
    if unanswerable:
        passing = [t for t in _STEPS if _abstains_well(sets, t)]
        found = max(passing, default=0.0)
    bold = next(
        (
            t
            for t in _STEPS
            if all(
                (_bold_precision(outcomes, t, found) or 1.0) >= BOLD_TARGET
                for outcomes in sets.values()
            )
        ),
        None,
    )
    figures = {
        name: summarize(_decided(outcomes, bold if bold is not None else 1.0, found)).to_json()
        for name, outcomes in sets.items()
    }
    return {"found_threshold": found, "bold_threshold": bold, "figures_at_thresholds": figures}


_STEPS = [step / 200 for step in range(200)]


def _abstains_well(sets: Mapping[str, Sequence[Outcome]], threshold: float) -> bool:
    judged = [outcomes for outcomes in sets.values() if any(not o.answerable for o in outcomes)]
    abstained = [o for outcomes in judged for o in outcomes if _abstains(o, threshold)]
    right = sum(not o.answerable for o in abstained)
    if abstained and right / len(abstained) < FOUND_TARGET:
        return False
    for outcomes in sets.values():
        first = [o for o in outcomes if o.answerable and o.rank == 1]
        if first and sum(_abstains(o, threshold) for o in first) > FOUND_COST * len(first):
            return False
    return True


def _abstains(outcome: Outcome, threshold: float) -> bool:
    """Whether the engine says "not found" at this threshold: below it, or whatever the
    threshold (a question about a year nothing indexed is from is never found)."""
    return not outcome.found or outcome.confidence < threshold


def _bold_precision(outcomes: Sequence[Outcome], bold: float, found: float) -> float | None:
    shown = [o for o in _decided(outcomes, bold, found) if o.bold is not None]
    return sum(o.bold_holds for o in shown) / len(shown) if shown else None


def _decided(outcomes: Sequence[Outcome], bold: float, found: float) -> list[Outcome]:
    """The outcomes as the engine would give them with these thresholds."""
    decided = []
    for o in outcomes:
        is_found = not _abstains(o, found)
        shows_bold = is_found and o.bold_confidence is not None and o.bold_confidence >= bold
        decided.append(
            replace(
                o,
                found=is_found,
                bold=o.bold if shows_bold else None,
                bold_holds=o.bold_holds and shows_bold,
                bold_f1=o.bold_f1 if shows_bold else 0.0,
            )
        )
    return decided


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
        answer = await engine.ask(question.question, EVAL_K, asked_at=question.asked_at)
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
    reader: Reader | None = None,
) -> list[Outcome]:
    """Index ``articles`` (if any) into the eval folder, ask every question.

    Args:
        settings: validated settings; without articles, their configured index is used.
        questions: the question set.
        articles: files or folders of articles; empty to use the configured index as is.
        mode: hybrid, dense or bm25.
        console: where progress bars go (none when None).
        embedder, reader: the models; by default the ones the settings name.

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
        async with await Engine.open(settings, embedder, reader) as engine:
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
            # the first ask loads the models: keep it out of the latency figures
            await engine.ask("warm up", EVAL_K)
            task = bar.add_task("asking", total=len(questions))
            return await ask_all(engine, questions, lambda: bar.advance(task))


async def evaluate_command(
    settings: Settings,
    questions: Path,
    articles: list[Path],
    mode: str,
    split: Split | None,
    calibrate: bool,
    outcomes_path: Path | None,
    as_json: bool,
    out: Console,
) -> None:
    """The ``citebot eval`` command: the metrics as a table or one JSON object."""
    loaded = load_questions(questions, split)
    if calibrate:  # the outcomes say what every threshold would give
        settings = settings.model_copy(update={"min_confidence": 0.0, "bold_threshold": 0.0})
    outcomes = await evaluate(settings, loaded, articles, mode, Console(stderr=True))
    if outcomes_path is not None:
        outcomes_path.write_text(
            "".join(json.dumps(asdict(o)) + "\n" for o in outcomes), encoding="utf-8"
        )
    metrics = summarize(outcomes)
    if as_json:
        out.print_json(json.dumps(metrics.to_json()))
        return
    unanswerable = metrics.questions - metrics.answerable
    part = f", {split} part" if split else ""
    out.print(
        f"{escape(questions.name)}{part}: {metrics.questions} questions "
        f"({metrics.answerable} answerable, {unanswerable} unanswerable), mode {mode}"
    )
    for name, value in metrics.to_json().items():
        if name in ("questions", "answerable", "bolds"):
            continue
        shown = (
            "n/a" if value is None else (f"{value:.1f}" if name.endswith("_ms") else f"{value:.3f}")
        )
        out.print(f"  {name:<20} {shown}")
