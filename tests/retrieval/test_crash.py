"""A reindex killed with ``kill -9`` at random moments never loses the index (real model).

Twenty times: new articles are added, ``citebot index`` starts in its own process with
real work to do (reading, embedding, writing a new version), and is killed with SIGKILL
at a random moment. After every kill the previous (or the new, if it finished) version
answers, SQLite's integrity check passes on the served store and the activity log, and
at most one stale version is left on disk. Rerun with::

    .venv/bin/pytest tests/retrieval/test_crash.py -m model
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retrieval.engine import Engine
from retrieval.index.datafolder import DataFolder
from retrieval.index.manifest import STORE_FILE
from retrieval.settings import load_settings
from tests.conftest import SAMPLES, copy_samples

pytestmark = pytest.mark.model

KILLS = 20
ARTICLES_PER_ROUND = 40


def _batch(folder: Path, round_number: int) -> None:
    """Forty new articles (the samples' paragraphs under new titles), as one JSON Lines file."""
    texts = [path.read_text(encoding="utf-8").split("\n", 8)[-1] for path in SAMPLES.glob("*.txt")]
    rng = random.Random(round_number)
    with (folder / f"round-{round_number:02d}.jsonl").open("w", encoding="utf-8") as out:
        for number in range(ARTICLES_PER_ROUND):
            paragraphs = rng.sample(texts, 3)
            title = f"Round {round_number} report {number}"
            line = {
                "id": f"r{round_number}-{number}",
                "title": title,
                "text": "\n".join(paragraphs),
            }
            out.write(json.dumps(line) + "\n")


def _integrity(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


async def test_kill_9_during_reindex_never_loses_the_index(tmp_path: Path) -> None:
    """After each of twenty SIGKILLs the index answers, is intact, and leaves one stale
    version at most."""
    collection, data = tmp_path / "collection", tmp_path / "data"
    collection.mkdir()
    copy_samples(collection)
    environment = dict(
        os.environ,
        CITEBOT_COLLECTION=str(collection),
        CITEBOT_DATA_DIR=str(data),
        CITEBOT_READER="false",
        HF_HUB_OFFLINE="1",
    )
    command = [sys.executable, "-m", "tools.cli", "index"]
    subprocess.run(command, env=environment, check=True, capture_output=True)
    settings = load_settings(collection=collection, data_dir=data, reader=False)
    rng = random.Random(9)
    finished = killed = 0
    async with await Engine.open(settings) as engine:
        for round_number in range(KILLS):
            before = (await engine.stats()).articles
            _batch(collection, round_number)
            started = time.monotonic()
            child = subprocess.Popen(
                command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(0.3, 4.0))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                killed += 1
            child.wait()
            finished += child.returncode == 0
            await engine.follow_published()
            stats = await engine.stats()
            assert stats.articles in {before, before + ARTICLES_PER_ROUND}, round_number
            answer = await engine.ask("How many people were killed in the Astel valley floods?")
            assert answer.passages, round_number
            current = DataFolder(data).current()
            assert current is not None
            assert _integrity(current / STORE_FILE) == "ok"
            assert _integrity(data / "activity.sqlite") == "ok"
            generations = list((data / "generations").iterdir())
            assert len(generations) <= 2, (round_number, time.monotonic() - started)
    assert killed >= KILLS // 2  # most runs were really interrupted
