"""Start-up to the first answer and peak memory, in a fresh Python process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def measure(data_dir: Path, collection: Path, encoder: str, questions: list[str]) -> dict[str, Any]:
    """Spawn :mod:`tools.benchmark.probe`; blocking (run it in a thread).

    ``startup_s`` runs from spawning the process to its first answer, so interpreter
    start, imports, model loading and index loading all count. The page cache is warm
    (the index was just built or used): this is a restart, not a cold boot.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(questions, handle)
        questions_file = handle.name
    try:
        env = dict(os.environ)
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        command = [
            sys.executable,
            "-m",
            "tools.benchmark.probe",
            str(data_dir),
            str(collection),
            encoder,
            questions_file,
        ]
        started = time.perf_counter()
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        ) as child:
            assert child.stdout is not None
            first = child.stdout.readline()
            startup = time.perf_counter() - started
            if not first:
                raise RuntimeError(f"probe failed: {child.stderr.read() if child.stderr else ''}")
            last = child.stdout.readline()
            child.wait(timeout=600)
        result: dict[str, Any] = json.loads(first) | json.loads(last)
        result["startup_s"] = round(startup, 2)
        # interpreter start and imports: what is left of start-up
        result["imports_s"] = round(startup - result["open_s"] - result["first_ask_s"], 2)
        result["questions"] = len(questions)
        return result
    finally:
        Path(questions_file).unlink(missing_ok=True)
