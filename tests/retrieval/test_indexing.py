"""Incremental reindexing: what changes is redone, what does not is left alone, nothing is lost."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from retrieval.engine import Engine
from retrieval.errors import IndexMismatchError, NotIndexedError, RemovalRefusedError
from retrieval.settings import Settings
from tests.conftest import FIXTURES, copy_samples
from tests.fakes import HashingEmbedder, ScriptedReader
from tools.render_text import summary_lines

FLOOD_DAY_ONE = "001_astel-floods-carrow-bridge"
COMET = "008_halvorsen-comet-discovery"
MARATHON = "011_eastfield-marathon-record"


async def _sources(engine: Engine, question: str) -> set[str]:
    answer = await engine.ask(question, k=10)
    return {p.citation.title for p in answer.passages}


async def test_first_index_then_unchanged(
    settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """A second run over the same files embeds nothing and reports them unchanged."""
    copy_samples(collection, [FLOOD_DAY_ONE, COMET, MARATHON])
    async with await Engine.open(settings, embedder) as engine:
        first = await engine.reindex()
        assert (first.new, first.updated, first.unchanged, first.removed) == (3, 0, 0, 0)
        assert first.passages > 3
        embedded = len(embedder.embedded)
        second = await engine.reindex()
    assert (second.new, second.updated, second.unchanged, second.removed) == (0, 0, 3, 0)
    assert len(embedder.embedded) == embedded
    assert second.passages == first.passages


async def test_add_change_delete(
    settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """Added files are indexed, changed ones replaced, deleted ones vanish from answers at once."""
    copy_samples(collection, [FLOOD_DAY_ONE, COMET])
    async with await Engine.open(settings, embedder) as engine:
        await engine.reindex()
        comet_title = "Retired teacher discovers comet from her back garden in Fenwick"
        assert comet_title in await _sources(engine, "Who discovered the comet?")

        copy_samples(collection, [MARATHON])
        embedder.embedded.clear()
        added = await engine.reindex()
        assert (added.new, added.unchanged) == (1, 2)
        assert all("Marathon" in text or "Wekesa" in text for text in embedder.embedded[:1])

        comet = collection / f"{COMET}.txt"
        comet.write_text(
            comet.read_text(encoding="utf-8").replace("comet", "asteroid"), encoding="utf-8"
        )
        changed = await engine.reindex()
        assert (changed.updated, changed.unchanged) == (1, 2)
        answer = await engine.ask("asteroid discovered back garden", k=10)
        assert all("comet" not in p.text for p in answer.passages)

        comet.unlink()
        removed = await engine.reindex()
        assert (removed.removed, removed.unchanged) == (1, 2)
        assert not any(
            "Fenwick" in title for title in await _sources(engine, "asteroid back garden Fenwick")
        )
        stats = await engine.stats()
    assert stats.articles == 2


async def test_duplicates_indexed_once(
    settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """The same article twice (same URL, or same text under another name) is indexed once."""
    [original] = copy_samples(collection, [FLOOD_DAY_ONE])
    shutil.copy(original, collection / "copy-of-flood.txt")
    shutil.copy(FIXTURES / "articles" / "feed.jsonl", collection / "feed.jsonl")
    async with await Engine.open(settings, embedder) as engine:
        summary = await engine.reindex()
        answer = await engine.ask("River Astel floods Carrow Bridge", k=10)
    reasons = {s.source: s.reason for s in summary.skipped}
    assert reasons["copy-of-flood.txt"] == f"duplicate of {FLOOD_DAY_ONE}.txt"
    assert reasons["feed.jsonl#w-3"] == "duplicate of feed.jsonl#w-1"  # same URL
    assert summary.new == 3  # the flood once, w-1 and w-4
    assert len({p.article_id for p in answer.passages if "Astel" in p.citation.title}) == 1


async def test_bad_file_reported_and_old_copy_kept(
    settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """A file that turns unreadable is reported by name; what it had indexed stays served."""
    copy_samples(collection, [FLOOD_DAY_ONE, COMET])
    async with await Engine.open(settings, embedder) as engine:
        await engine.reindex()
        (collection / f"{COMET}.txt").write_bytes(b"")
        (collection / "broken.jsonl").write_text('{"id": 1, "text": \n', encoding="utf-8")
        summary = await engine.reindex()
        stats = await engine.stats()
        sources = await _sources(engine, "comet back garden Fenwick")
    reasons = {s.source: s.reason for s in summary.skipped}
    assert reasons[f"{COMET}.txt"] == "empty file"
    assert "invalid JSON" in reasons["broken.jsonl:1"]
    assert summary.removed == 0
    assert stats.articles == 2
    assert "Retired teacher discovers comet from her back garden in Fenwick" in sources


class FailingEmbedder(HashingEmbedder):
    """The model dies part-way through a reindex (as on a crash or Ctrl-C)."""

    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    def embed(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        if self.fail and len(texts) > 1:
            raise RuntimeError("interrupted")
        return super().embed(texts, progress=progress)


async def test_interrupted_reindex_leaves_old_index_serving(
    settings: Settings, collection: Path
) -> None:
    """An interrupted reindex leaves the previous index whole, served now and after a restart."""
    embedder = FailingEmbedder()
    copy_samples(collection, [FLOOD_DAY_ONE, COMET])
    async with await Engine.open(settings, embedder) as engine:
        await engine.reindex()
        before = await engine.ask("How many people were killed in Carrow Bridge?")
        copy_samples(collection, [MARATHON])
        (collection / f"{COMET}.txt").unlink()
        embedder.fail = True
        with pytest.raises(RuntimeError, match="interrupted"):
            await engine.reindex()
        during = await engine.ask("How many people were killed in Carrow Bridge?")
        assert during.passages == before.passages
        assert (await engine.stats()).articles == 2
    embedder.fail = False
    async with await Engine.open(settings, embedder) as engine:
        assert (await engine.stats()).articles == 2
        assert "Fenwick" in " ".join(await _sources(engine, "comet back garden Fenwick"))
        summary = await engine.reindex()
        assert (summary.new, summary.removed, summary.unchanged) == (1, 1, 1)
    generations = list((settings.data_dir / "generations").iterdir())
    assert len(generations) == 1  # the interrupted run's leftovers are cleaned up


async def test_index_from_another_model_refused(
    settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """An index built with another model is refused with how to rebuild; rebuild works."""
    copy_samples(collection, [FLOOD_DAY_ONE])
    async with await Engine.open(settings, embedder) as engine:
        await engine.reindex()
    other = HashingEmbedder(dimension=32)
    with pytest.raises(IndexMismatchError, match="citebot index --rebuild"):
        await Engine.open(settings, other)


async def test_rebuild_with_another_model(
    settings: Settings, collection: Path, embedder: HashingEmbedder, tmp_path: Path
) -> None:
    """``rebuild`` re-embeds everything with the configured model."""
    copy_samples(collection, [FLOOD_DAY_ONE])
    async with await Engine.open(settings, embedder) as engine:
        await engine.reindex()
        summary = await engine.reindex(rebuild=True)
        assert summary.updated == 1


async def test_ask_before_indexing(settings: Settings, embedder: HashingEmbedder) -> None:
    """Asking before anything is indexed says how to index, instead of failing oddly."""
    async with await Engine.open(settings, embedder) as engine:
        with pytest.raises(NotIndexedError, match="citebot index"):
            await engine.ask("anything?")


async def test_a_line_a_publisher_repeats_is_never_quoted_as_the_answer(
    settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """A newsletter line in three articles of one publisher is found by counting, kept in
    the stored text, and never quoted; with two articles it is an ordinary sentence."""
    question = "At what time is the Harbour Gazette morning briefing sent?"
    reader = ScriptedReader({"6 am": 0.99, "20 minutes": 0.6})
    for path in sorted((FIXTURES / "boilerplate").glob("*.txt"))[:2]:
        shutil.copy(path, collection / path.name)
    async with await Engine.open(settings, embedder, reader) as engine:
        await engine.reindex()
        two = await engine.ask(question)
        shutil.copy(FIXTURES / "boilerplate" / "003.txt", collection / "003.txt")
        await engine.reindex()
        three = await engine.ask(question)
    assert two.sentence is not None and two.sentence.highlighted_text == "6 am"
    assert three.sentence is None or "briefing" not in three.sentence.text
    assert any("morning briefing" in p.text for p in three.passages)  # the text stays whole


async def test_removing_most_articles_is_refused_unless_allowed(
    settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """An emptied folder does not empty the index: refused with the count, unless allowed."""
    copied = copy_samples(collection)[:4]
    for path in copy_samples(collection)[4:]:
        path.unlink()
    async with await Engine.open(settings, embedder) as engine:
        await engine.reindex()
        for path in copied[1:]:
            path.unlink()
        with pytest.raises(RemovalRefusedError, match="remove 3 of the 4 indexed articles"):
            await engine.reindex()
        assert (await engine.stats()).articles == 4
        summary = await engine.reindex(allow_removal=True)
    assert summary.removed == 3


async def test_a_repeated_jsonl_id_never_blocks_indexing(
    settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """A feed with one id on two lines indexes the later line and reports the earlier;
    the next reindex, with a file added, indexes that file."""
    shutil.copy(FIXTURES / "hostile" / "repeated_ids.jsonl", collection / "feed.jsonl")
    async with await Engine.open(settings, embedder) as engine:
        first = await engine.reindex()
        copy_samples(collection, [COMET])
        second = await engine.reindex()
        stats = await engine.stats()
        titles = await _sources(engine, "comet back garden Fenwick ferry")
    assert first.new == 3
    assert {s.source for s in first.skipped} == {"feed.jsonl:1", "feed.jsonl:2"}
    assert (second.new, second.unchanged) == (1, 3)
    assert stats.articles == 4
    assert "Retired teacher discovers comet from her back garden in Fenwick" in titles
    assert "Ferry timetable" not in titles


async def test_a_million_junk_lines_give_a_short_report(
    settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """A file of a million junk lines does not stop the good files; the summary names 20
    skipped lines and counts the rest."""
    copy_samples(collection, [COMET])
    (collection / "junk.jsonl").write_text("".join(f"x{n}\n" for n in range(1_000_000)))
    async with await Engine.open(settings, embedder) as engine:
        summary = await engine.reindex()
    assert summary.new == 1
    assert (len(summary.skipped), summary.skipped_total) == (20, 1_000_000)
    lines = summary_lines(summary)
    assert "skipped 1000000" in lines[0]
    assert len([line for line in lines if line.startswith("skipped junk.jsonl:")]) == 20
    assert lines[-1] == "… and 999,980 more"
