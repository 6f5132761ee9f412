"""The ``citebot`` command line as a person or a script uses it (real model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import FIXTURES, copy_samples
from tools.cli import app

pytestmark = pytest.mark.model


def invoke(environment: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=environment)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    """Samples plus the broken fixtures, indexed once: (environment, index output)."""
    root = tmp_path_factory.mktemp("cli")
    collection = root / "collection"
    collection.mkdir()
    copy_samples(collection)
    for name in ("empty.txt", "feed.jsonl", "page.html"):
        shutil.copy(FIXTURES / "articles" / name, collection / name)
    environment = {"CITEBOT_COLLECTION": str(collection), "CITEBOT_DATA_DIR": str(root / "data")}
    code, out, err = invoke(environment, "index")
    assert code == 0, err
    return environment, out


@pytest.fixture
def environment(indexed: tuple[dict[str, str], str]) -> dict[str, str]:
    return indexed[0]


def test_ask_before_index_is_one_line_error(tmp_path: Path) -> None:
    """Asking before indexing exits non-zero with one line saying what to do, no traceback."""
    environment = {"CITEBOT_DATA_DIR": str(tmp_path / "data")}
    code, _, err = invoke(environment, "ask", "anything?")
    assert code == 1
    assert err.strip().splitlines() == [
        "citebot: nothing is indexed yet: run `citebot index` first"
    ]


def test_index_summary_names_skipped_files(indexed: tuple[dict[str, str], str]) -> None:
    """``citebot index`` ends with counts and each skipped file with its reason."""
    environment, out = indexed
    assert "new 19, updated 0, unchanged 0, removed 0, skipped 3" in out
    assert "skipped empty.txt: empty file" in out
    assert "skipped feed.jsonl:2: invalid JSON" in out
    assert "skipped feed.jsonl#w-3: duplicate of feed.jsonl#w-1" in out
    code, out, _ = invoke(environment, "index")
    assert code == 0
    assert "new 0, updated 0, unchanged 19, removed 0" in out


def test_ask_json_for_scripts(environment: dict[str, str]) -> None:
    """``--json`` prints one object with the answer and ranked, cited passages."""
    code, out, err = invoke(
        environment, "ask", "How many drivers voted in favour of the strike?", "--json", "-k", "2"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["question"] == "How many drivers voted in favour of the strike?"
    assert "187" in data["answer"]["highlight"]
    assert len(data["passages"]) == 2
    first = data["passages"][0]
    assert {"text", "score", "article_id", "citation"} <= set(first)
    assert first["citation"] == {
        "title": "Tram drivers vote to strike over rosters",
        "publisher": "Harbour Gazette",
        "author": "Ines Okafor",
        "published_at": "2024-12-03T00:00:00+00:00",
        "url": "https://harbourgazette.example/tram-strike",
        "summary_only": False,
    }


def test_ask_prints_answer_quotes_and_citations(environment: dict[str, str]) -> None:
    """The terminal answer has the sentence, numbered quotes and numbered citations."""
    code, out, _ = invoke(environment, "ask", "Who discovered the comet?")
    assert code == 0
    assert "[1] “" in out
    assert (
        "[1] Retired teacher discovers comet from her back garden in Fenwick — The Meridian" in out
    )


def test_stats(environment: dict[str, str]) -> None:
    """``citebot stats`` shows articles, passages and the model."""
    code, out, _ = invoke(environment, "stats")
    assert code == 0
    assert "articles   19" in out
    assert "all-MiniLM-L6-v2 (384 dimensions)" in out


def test_invalid_setting_stops_at_start(environment: dict[str, str]) -> None:
    """An invalid setting stops the program naming the setting and the reason."""
    code, _, err = invoke({**environment, "CITEBOT_TOP_K": "0"}, "stats")
    assert code == 2
    assert "'top_k'" in err and "CITEBOT_TOP_K" in err and "greater than or equal to 1" in err


def test_an_emptied_folder_removes_nothing_unless_allowed(tmp_path: Path) -> None:
    """Reindexing a folder that lost most of its files is refused with the count; with
    --allow-removal it goes ahead."""
    collection = tmp_path / "collection"
    collection.mkdir()
    copy_samples(collection, ["001_astel-floods-carrow-bridge", "002_astel-flood-death-toll-rises"])
    environment = {"CITEBOT_COLLECTION": str(collection), "CITEBOT_DATA_DIR": str(tmp_path / "d")}
    assert invoke(environment, "index")[0] == 0
    for article in collection.iterdir():
        article.unlink()
    code, _, err = invoke(environment, "index")
    assert code == 1 and "would remove 2 of the 2 indexed articles" in err
    code, out, err = invoke(environment, "index", "--allow-removal")
    assert code == 0, err
    assert "removed 2" in out
