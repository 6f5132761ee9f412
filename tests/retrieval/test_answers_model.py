"""Answers with the real embedding model (run alone with ``pytest -m model``)."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest

from retrieval.engine import Engine
from retrieval.settings import load_settings
from tests.conftest import copy_samples

pytestmark = pytest.mark.model


async def test_seed_answers_how_many_soldiers(seed_file: Path, tmp_path: Path) -> None:
    """The seed article answers the Mali question with the "53 soldiers" passage first."""
    collection = tmp_path / "collection"
    collection.mkdir()
    shutil.copy(seed_file, collection / seed_file.name)
    settings = load_settings(collection=collection, data_dir=tmp_path / "data")
    async with await Engine.open(settings) as engine:
        await engine.reindex()
        answer = await engine.ask("How many soldiers were killed in the attack in Mali?")
    assert answer.found
    assert "53 soldiers" in answer.passages[0].text
    assert answer.sentence is not None
    assert "53 soldiers" in answer.sentence.text
    # the reader bolds a phrase only when sure enough; when it does, it holds the toll
    assert answer.sentence.highlight_confidence is not None
    assert answer.sentence.highlight is None or "53" in (answer.sentence.highlighted_text or "")
    citation = answer.passages[0].citation
    assert citation.title == "Jihadists kill scores of soldiers in Mali attack"
    assert (citation.publisher, citation.author) == ("the Guardian", "Jason Burke")
    assert citation.published_at is not None and citation.published_at.year == 2019


async def test_samples_cite_the_right_article(tmp_path: Path) -> None:
    """Questions over the shipped samples are answered from the article that holds the fact."""
    collection = tmp_path / "collection"
    collection.mkdir()
    copy_samples(collection)
    settings = load_settings(collection=collection, data_dir=tmp_path / "data")
    async with await Engine.open(settings) as engine:
        await engine.reindex()
        comet = await engine.ask("Who discovered the comet from her back garden?")
        mayor = await engine.ask("By how many votes did Farah Siddiqui win the mayoral race?")
    assert "Fenwick" in comet.passages[0].citation.title
    assert mayor.sentence is not None and "4,118" in mayor.sentence.text


async def test_the_demo_question_quotes_a_toll_never_a_missing_count(tmp_path: Path) -> None:
    """`citebot demo`'s question over the samples: the answer sentence states a number
    killed and no source is listed as giving the six still missing as its toll."""
    collection = tmp_path / "collection"
    collection.mkdir()
    copy_samples(collection)
    settings = load_settings(collection=collection, data_dir=tmp_path / "data")
    async with await Engine.open(settings) as engine:
        await engine.reindex()
        answer = await engine.ask("How many people were killed in the Astel valley floods?")
    assert answer.sentence is not None and "killed" in answer.sentence.text
    assert "missing" not in answer.sentence.text
    assert all("six" not in report.figure.lower() for report in answer.conflicts)


async def test_warm_up_loads_the_models_and_keeps_them_out_of_full_collections(
    tmp_path: Path,
) -> None:
    """After warm_up (as `citebot run` does at start) the first question needs no model
    load, and a full garbage collection walks only what came after: not the models'
    libraries, whose walk would hold the event loop."""
    collection = tmp_path / "articles"
    collection.mkdir()
    copy_samples(collection, ["001_astel-floods-carrow-bridge"])
    settings = load_settings(collection=collection, data_dir=tmp_path / "data")
    async with await Engine.open(settings) as engine:
        await engine.reindex()
        await engine.warm_up()
        assert len(gc.get_objects()) < 50_000
        answer = await engine.ask("Which bridge was closed by the floods?")
        assert answer.passages
