"""The ``citebot train-reader`` command: public data in, shipped weights and a report out."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from retrieval.errors import SettingsError
from retrieval.index.datafolder import DataFolder
from retrieval.models.reader import WEIGHTS
from retrieval.settings import Settings
from tools.datasets import SHARED_EVAL, read_jsonl
from tools.training.train import Sources, TrainConfig, train

NEWS_QUESTIONS = sorted(
    (Path(__file__).resolve().parents[2] / "bench").glob("news.*.questions.jsonl")
)
DEFAULT_REPORT = Path(__file__).resolve().parents[2] / "bench" / "reader-training.json"


def default_sources(eval_dir: Path = SHARED_EVAL) -> Sources:
    """SQuAD's dev half and Reuters from ../shared/eval; the news set's articles excluded.

    Raises:
        SettingsError: the SQuAD files are not there.
    """
    squad = (
        eval_dir / "squad-dev-half.articles.jsonl",
        eval_dir / "squad-dev-half.questions.jsonl",
    )
    missing = [str(path) for path in squad if not path.is_file()]
    if missing:
        raise SettingsError(f"train-reader: {', '.join(missing)} not found (--data)")
    reuters = eval_dir / "reuters21578.articles.jsonl"
    asked = {
        str(question["article_id"])
        for path in NEWS_QUESTIONS
        for question in read_jsonl(path)
        if question.get("article_id")
    }
    return Sources(*squad, reuters if reuters.is_file() else None, frozenset(asked))


def train_command(
    settings: Settings,
    config: TrainConfig,
    eval_dir: Path,
    weights: Path,
    report: Path,
    console: Console,
) -> None:
    """Train with progress bars, then print where the weights and the report went."""
    sources = default_sources(eval_dir)
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        tasks: dict[str, object] = {}

        def step(phase: str, done: int, total: int, loss: float) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total, loss=0.0)
            bar.update(tasks[phase], completed=done, total=total, loss=loss)  # type: ignore[arg-type]

        cache = DataFolder(settings.data_dir).encoder_cache
        result = train(settings.model_path(), cache, sources, config, weights, report, step)
    figures = result["validation"]
    console.print(
        f"trained in {time.perf_counter() - started:.0f} s; validation: first passage holds "
        f"an answer {figures['reader_top1']} (retrieval alone {figures['retrieval_top1']}), "
        f"its best span {figures['contains']}"
    )
    console.print(f"weights: {weights}\nreport:  {report}")


__all__ = ["DEFAULT_REPORT", "SHARED_EVAL", "WEIGHTS", "TrainConfig", "train_command"]
