"""Run in a fresh process: open the engine, answer once, then answer more; report.

    python -m tools.benchmark.probe DATA_DIR COLLECTION ENCODER QUESTIONS_JSON

Prints one JSON line right after the first answer (the parent times start-up to it:
interpreter, imports, model and index loading, first question), then, after the
remaining questions, a second line with the peak resident memory (VmHWM).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path


async def main(data_dir: Path, collection: Path, encoder: str, questions: list[str]) -> None:
    from retrieval.engine import Engine
    from retrieval.settings import load_settings

    imported = time.perf_counter()  # tools.benchmark (and so the engine) is imported
    settings = load_settings(collection=collection, data_dir=data_dir, encoder=encoder)
    engine = await Engine.open(settings)
    opened = time.perf_counter()
    await engine.ask(questions[0])
    answered = time.perf_counter()
    print(
        json.dumps(
            {
                "open_s": round(opened - imported, 3),
                "first_ask_s": round(answered - opened, 3),
            }
        ),
        flush=True,
    )
    for question in questions[1:]:
        await engine.ask(question)
    await engine.close()
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)


def current_rss_mb() -> float:
    """This process's resident memory now (VmRSS, MB; Linux)."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS in /proc/self/status")


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB).

    /proc's VmHWM belongs to the process's own memory map, so unlike ``ru_maxrss``
    (which survives exec, and so can report the spawning parent's peak) it counts this
    process only; ``ru_maxrss`` is the fallback off Linux.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if __name__ == "__main__":
    data, collection, encoder, questions_file = sys.argv[1:5]
    asked = json.loads(Path(questions_file).read_text(encoding="utf-8"))
    asyncio.run(main(Path(data), Path(collection), encoder, asked))
