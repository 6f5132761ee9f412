"""The ``citebot`` command line: index, ask, stats, eval, bench, train-reader, forget, run.

Domain errors become a one-line message and exit code 1; invalid settings exit 2.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from retrieval.engine import Engine
from retrieval.errors import CitebotError, SettingsError
from retrieval.index.collection import SHARED
from retrieval.settings import Settings, load_settings
from retrieval.types import Answer, Mode
from tools.datasets import Split
from tools.render_text import answer_to_json, feed_lines, refresh_lines, summary_lines

T = TypeVar("T")

app = typer.Typer(
    help="Answer questions about news articles with quoted, cited passages.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
feeds_app = typer.Typer(
    help="Follow RSS and Atom feeds: each refresh indexes what is new or edited.",
    no_args_is_help=True,
)
app.add_typer(feeds_app, name="feeds")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SAMPLE_QUESTION = "How many people were killed in the Astel valley floods?"
SHARDS_HINT = "'--shards'"


@app.callback()
def configure(
    context: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
    collection: Annotated[
        str,
        typer.Option(help='The collection to work on ("shared", or a server\'s "server-ID").'),
    ] = SHARED,
) -> None:
    """Answer questions about news articles with quoted, cited passages."""
    context.obj = collection
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on itself
    # The model ships with the package: never reach for the network, stay quiet.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run(work: Callable[[Settings], Coroutine[Any, Any, T]], **overrides: object) -> T:
    """Load settings and run ``work``, turning expected errors into a one-line message."""
    try:
        settings = load_settings(**overrides)
        return asyncio.run(work(settings))
    except SettingsError as error:
        err.print(f"[red]citebot: invalid settings:[/] {escape(str(error))}")
        raise typer.Exit(2) from None
    except CitebotError as error:
        err.print(f"[red]citebot:[/] {escape(str(error))}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("citebot: interrupted; the previous index is still served")
        raise typer.Exit(130) from None


async def _index(
    engine: Engine,
    path: Path | None,
    rebuild: bool,
    allow_removal: bool = False,
    collection: str = SHARED,
) -> None:
    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        summary = await engine.reindex(
            path,
            collection=collection,
            rebuild=rebuild,
            allow_removal=allow_removal,
            progress=progress,
        )
    for line in summary_lines(summary):
        out.print(escape(line))


@app.command()
def index(
    context: typer.Context,
    path: Annotated[
        Path | None, typer.Argument(help="Folder or file of articles (default: the collection).")
    ] = None,
    rebuild: Annotated[bool, typer.Option(help="Re-embed everything from scratch.")] = False,
    allow_removal: Annotated[
        bool, typer.Option(help="Go ahead although more than half the articles would go.")
    ] = False,
    url: Annotated[
        str | None,
        typer.Option(help="Fetch the web page at this URL and index it as an article."),
    ] = None,
) -> None:
    """Index the collection incrementally and print a summary."""

    if url is not None and (path is not None or rebuild or allow_removal):
        raise typer.BadParameter("fetches one page: give it alone", param_hint="'--url'")

    async def work(settings: Settings) -> None:
        async with await Engine.open(settings) as engine:
            if url is None:
                await _index(engine, path, rebuild, allow_removal, context.obj)
                return
            article, summary = await engine.add_link(url, collection=context.obj)
            out.print(f"added: {escape(article.title)}")
            for line in summary_lines(summary):
                out.print(escape(line))

    run(work)


async def _print_refresh(engine: Engine, collection: str, only: str | None = None) -> None:
    report = await engine.refresh_feeds(collection=collection, only=only)
    for line in refresh_lines(report):
        out.print(escape(line))
    if report.summary is not None:
        for line in summary_lines(report.summary):
            out.print(escape(line))


@feeds_app.command("add")
def feeds_add(
    context: typer.Context,
    url: Annotated[str, typer.Argument(help="The feed's URL (RSS or Atom).")],
) -> None:
    """Follow a feed, and index its stories now."""

    async def work(settings: Settings) -> None:
        async with await Engine.open(settings) as engine:
            if not await engine.add_feed(url, collection=context.obj):
                out.print("already followed; refreshing it")
            await _print_refresh(engine, context.obj, only=url)

    run(work)


@feeds_app.command("remove")
def feeds_remove(
    context: typer.Context,
    url: Annotated[str, typer.Argument(help="The feed's URL, as `citebot feeds list` shows it.")],
) -> None:
    """Stop following a feed; its stories stay indexed."""

    async def work(settings: Settings) -> bool:
        async with await Engine.open(settings) as engine:
            return await engine.remove_feed(url, collection=context.obj)

    if not run(work):
        err.print(f"citebot: {escape(url)} is not followed (see `citebot feeds list`)")
        raise typer.Exit(1)
    out.print(f"no longer following {escape(url)}; its stories stay indexed")


@feeds_app.command("list")
def feeds_list(context: typer.Context) -> None:
    """The feeds followed, with the last poll of each."""

    async def work(settings: Settings) -> None:
        async with await Engine.open(settings) as engine:
            for line in feed_lines(await engine.feeds(context.obj)):
                out.print(escape(line))

    run(work)


@feeds_app.command("refresh")
def feeds_refresh(context: typer.Context) -> None:
    """Poll every feed now and index what is new or edited."""

    async def work(settings: Settings) -> None:
        async with await Engine.open(settings) as engine:
            await _print_refresh(engine, context.obj)

    run(work)


@app.command()
def ask(
    context: typer.Context,
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    k: Annotated[int | None, typer.Option("-k", min=1, max=10, help="Passages to show.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"],
            help='When the question is asked, for "this week" or "recently" (default: now).',
        ),
    ] = None,
) -> None:
    """Answer a question from the indexed articles."""
    asked_at = as_of.replace(tzinfo=UTC) if as_of and as_of.tzinfo is None else as_of

    async def work(settings: Settings) -> Answer:
        async with await Engine.open(settings) as engine:
            return await engine.ask(question, k, collection=context.obj, asked_at=asked_at)

    answer = run(work)
    if as_json:
        out.print_json(json.dumps(answer_to_json(answer)))
    else:
        print_answer(answer)


@app.command()
def stats(context: typer.Context) -> None:
    """Show what is indexed."""

    async def work(settings: Settings) -> None:
        async with await Engine.open(settings) as engine:
            info = await engine.stats(context.obj)
        built = info.built_at.strftime("%Y-%m-%d %H:%M UTC") if info.built_at else "unknown"
        out.print(f"articles   {info.articles}")
        out.print(f"passages   {info.passages}")
        out.print(f"model      {info.model} ({info.dimension} dimensions)")
        out.print(f"index      {info.index_kind}")
        out.print(f"built      {built}")
        out.print(f"data       {settings.data_dir}")

    run(work)


@app.command()
def forget(
    user_id: Annotated[int, typer.Argument(help="The person's Discord user id.")],
) -> None:
    """Delete what citebot keeps about one person: their votes and the answers they got."""
    from retrieval.index.datafolder import DataFolder
    from retrieval.store.activity import ActivityLog

    async def work(settings: Settings) -> int:
        path = DataFolder(settings.data_dir).activity_db
        log = await ActivityLog.open(path, settings.log_retention_days)
        try:
            return await log.forget(str(user_id))
        finally:
            await log.close()

    deleted = run(work)
    out.print(f"Forgot user {user_id}: {deleted} rows deleted.")


@app.command()
def demo(
    question: Annotated[str, typer.Argument(help="The question to ask.")] = SAMPLE_QUESTION,
) -> None:
    """Index the shipped sample articles and answer a sample question."""

    async def work(settings: Settings) -> Answer:
        async with await Engine.open(settings) as engine:
            await _index(engine, None, rebuild=False)
            out.print(f"\n[bold]Q:[/] {escape(question)}\n")
            return await engine.ask(question)

    print_answer(run(work))


@app.command("eval")
def evaluate(
    questions: Annotated[Path, typer.Argument(help="Questions, JSON Lines.", exists=True)],
    articles: Annotated[
        list[Path] | None,
        typer.Option("--articles", help="Articles to index first (file or folder; repeatable)."),
    ] = None,
    mode: Annotated[Mode, typer.Option(help="Retrieval mode.")] = "hybrid",
    split: Annotated[
        Split | None, typer.Option(help="Only one part of the split by article.")
    ] = None,
    calibrate: Annotated[
        bool, typer.Option(help="Ask with both thresholds at 0, for `citebot calibrate`.")
    ] = False,
    outcomes: Annotated[
        Path | None, typer.Option(help="Write each question's outcome here (JSON Lines).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Measure answer quality and latency on a question set."""
    from tools.evaluation import evaluate_command

    run(
        lambda settings: evaluate_command(
            settings,
            questions,
            articles or [],
            mode,
            split,
            calibrate,
            outcomes,
            as_json,
            out,
        )
    )


@app.command()
def calibrate(
    outcomes: Annotated[
        list[Path],
        typer.Argument(
            help="Outcomes of `eval --calibrate --outcomes` on the tuning sets.", exists=True
        ),
    ],
) -> None:
    """Pick the "not found" and bold thresholds from outcomes on the tuning sets."""
    from tools.evaluation import calibration, read_outcomes

    sets = {path.stem: read_outcomes(path) for path in outcomes}
    out.print_json(json.dumps(calibration(sets)))


@app.command()
def bench(
    quick: Annotated[bool, typer.Option(help="Smaller sizes, for a first look.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    feeds_only: Annotated[
        bool, typer.Option("--feeds-only", help="Only the live-collection figures (~4 min).")
    ] = False,
) -> None:
    """Benchmark indexing and answering on this machine."""
    from tools.benchmark import bench_command

    run(lambda settings: bench_command(settings, quick, as_json, out, feeds_only))


@app.command("train-reader")
def train_reader(
    data: Annotated[
        Path | None, typer.Option(help="Folder of the public data (../shared/eval).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 13,
    cloze_articles: Annotated[
        int, typer.Option(help="Reuters articles made into cloze questions.")
    ] = 12_000,
    squad_epochs: Annotated[int, typer.Option(help="Passes over SQuAD's training part.")] = 3,
    max_steps: Annotated[
        int | None, typer.Option(help="Stop each phase early (quick checks).")
    ] = None,
    weights: Annotated[Path | None, typer.Option(help="Where to write the weights.")] = None,
    report: Annotated[Path | None, typer.Option(help="Where to write the training report.")] = None,
) -> None:
    """Fine-tune the reader on public data (about an hour on 2 cores) and save it."""
    from tools.training.command import (
        DEFAULT_REPORT,
        SHARED_EVAL,
        WEIGHTS,
        TrainConfig,
        train_command,
    )

    config = TrainConfig(
        seed=seed,
        cloze_articles=cloze_articles,
        squad_epochs=squad_epochs,
        max_steps_per_phase=max_steps,
    )
    run(
        lambda settings: asyncio.to_thread(
            train_command,
            settings,
            config,
            data or SHARED_EVAL,
            weights or WEIGHTS,
            report or DEFAULT_REPORT,
            out,
        )
    )


def print_answer(answer: Answer) -> None:
    """The answer sentence (its answering phrase in bold), quotes and numbered citations."""
    from tools.render_text import citation_line

    if not answer.found:
        out.print("[yellow]Not found in the indexed articles.[/] The closest sources:")
    elif answer.sentence is not None:
        sentence = answer.sentence
        if sentence.highlight:
            start, end = sentence.highlight
            text = (
                escape(sentence.text[:start])
                + f"[bold underline]{escape(sentence.text[start:end])}[/]"
                + escape(sentence.text[end:])
            )
        else:
            text = escape(sentence.text)
        out.print(f"[bold]{text}[/bold] [{sentence.passage_index + 1}]")
    if answer.conflicts:
        out.print("\n[yellow]The sources give different figures:[/]")
        for report in answer.conflicts:
            out.print(f"  {escape(report.figure)} [{report.passage_index + 1}]")
    out.print()
    for number, passage in enumerate(answer.passages, start=1):
        out.print(f"[{number}] “{escape(passage.text)}”\n")
    for number, passage in enumerate(answer.passages, start=1):
        out.print(f"[{number}] {escape(citation_line(passage.citation))}")


def shard_range(shards: str | None, shard_count: int | None) -> list[int] | None:
    """The shard ids of ``--shards A-B`` (or ``--shards A``), checked against ``--shard-count``.

    Raises:
        typer.BadParameter: not a range, a shard outside [0, count), or no ``--shard-count``.
    """
    if shards is None:
        return None
    if shard_count is None:
        raise typer.BadParameter("needs --shard-count too", param_hint=SHARDS_HINT)
    first, _, last = shards.partition("-")
    if not first.isdigit() or not (last or first).isdigit() or int(first) > int(last or first):
        raise typer.BadParameter(f"{shards!r} is not a range like 0-3", param_hint=SHARDS_HINT)
    low, high = int(first), int(last or first)
    if high >= shard_count:
        raise typer.BadParameter(
            f"{shards} is outside 0-{shard_count - 1} (--shard-count {shard_count})",
            param_hint=SHARDS_HINT,
        )
    return list(range(low, high + 1))


@app.command("run")
def run_bot(
    shard_count: Annotated[
        int | None,
        typer.Option(
            min=1, help="Total shards over every process (default: as many as Discord advises)."
        ),
    ] = None,
    shards: Annotated[
        str | None,
        typer.Option(help="The shards this process runs, e.g. 0-3 (needs --shard-count)."),
    ] = None,
) -> None:
    """Start the Discord bot (token from DISCORD_TOKEN or a .env file)."""
    from bot.app import start

    shard_ids = shard_range(shards, shard_count)
    # a server process says what it does: reindex summaries, versions served, refusals
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    run(functools.partial(start, shard_count=shard_count, shard_ids=shard_ids))


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
