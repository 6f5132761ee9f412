"""The rule-based baseline: the answers of citebot before the reader, scored like ``citebot eval``.

The last commit with the hand-written highlighter is 1b2a6c1. Check it out beside the
repository and run this script with that code first on the path, on a copy of an
index built by ``citebot eval`` (the old code reads the same store, without the
manifest's ``format`` key)::

    git worktree add ../baseline 1b2a6c1
    .venv/bin/python bench/baseline_rules.py bench/news.test.questions.jsonl \\
        --code ../baseline --data DATA_DIR --collection COLLECTION

It prints the figures of ``citebot eval --json`` for the old answers. The scoring is
copied here from ``tools/evaluation.py`` on purpose: the old code cannot import the
new tools, and the baseline must not move when they change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import string
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

_WS = re.compile(r"\s+")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def fold(text: str) -> str:
    return _WS.sub(" ", text).strip().lower()


def token_f1(prediction: str, answer: str) -> float:
    def tokens(text: str) -> list[str]:
        text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
        return _ARTICLES.sub(" ", text).split()

    predicted, gold = tokens(prediction), tokens(answer)
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def use_old_code(checkout: Path) -> None:
    """Import ``retrieval`` from the old checkout, not from the installed citebot (whose
    editable-install finder would otherwise win over ``sys.path``)."""
    sys.meta_path[:] = [f for f in sys.meta_path if "Editable" not in type(f).__name__]
    sys.path.insert(0, str(checkout.resolve()))


async def main(questions: Path, data: Path, collection: Path) -> dict[str, Any]:
    from retrieval.engine import Engine  # the old engine (see use_old_code)
    from retrieval.settings import load_settings

    settings = load_settings(collection=collection, data_dir=data)
    lines = [json.loads(line) for line in questions.read_text().splitlines() if line.strip()]
    rows = []
    async with await Engine.open(settings) as engine:
        await engine.ask("warm up", 5)
        for line in lines:
            started = time.perf_counter()
            answer = await engine.ask(line["question"], 5)
            ms = (time.perf_counter() - started) * 1000
            answers = [fold(a) for a in line["answers"]]
            rank = next(
                (
                    n
                    for n, p in enumerate(answer.passages, 1)
                    if any(a in fold(p.text) for a in answers)
                ),
                None,
            )
            bold = answer.sentence.highlighted_text if answer.found and answer.sentence else None
            holds = bold is not None and any(a in fold(bold) for a in answers)
            f1 = max((token_f1(bold, a) for a in line["answers"]), default=0.0) if bold else 0.0
            rows.append((bool(answers), rank, answer.found, bold, holds, f1, ms))
    answerable = [r for r in rows if r[0]]
    bolds = [r for r in rows if r[3] is not None]
    abstained = [r for r in rows if not r[2]]
    unanswerable = [r for r in rows if not r[0]]

    def share(count: float, total: int) -> float | None:
        return round(count / total, 4) if total else None

    latencies = sorted(r[6] for r in rows)
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "hit@1": share(sum(1 for r in answerable if r[1] == 1), len(answerable)),
        "hit@3": share(sum(1 for r in answerable if r[1] and r[1] <= 3), len(answerable)),
        "hit@5": share(sum(1 for r in answerable if r[1] and r[1] <= 5), len(answerable)),
        "mrr": share(sum(1 / r[1] for r in answerable if r[1]), len(answerable)),
        "highlight_precision": share(sum(r[4] for r in bolds), len(bolds)),
        "highlight_recall": share(sum(r[4] for r in answerable), len(answerable)),
        "highlight_f1": share(sum(r[5] for r in bolds), len(bolds)),
        "abstain_precision": share(sum(1 for r in abstained if not r[0]), len(abstained)),
        "abstain_recall": share(sum(1 for r in abstained if not r[0]), len(unanswerable)),
        "p50_ms": round(quantiles[49], 1),
        "p95_ms": round(quantiles[94], 1),
        "questions": len(rows),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--code", type=Path, required=True, help="the checkout of 1b2a6c1")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--collection", type=Path, required=True)
    args = parser.parse_args()
    use_old_code(args.code)
    print(json.dumps(asyncio.run(main(args.questions, args.data, args.collection)), indent=2))
