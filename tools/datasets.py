"""The public question sets the tools read, and their fixed splits by article.

SQuAD's dev half (../shared/eval) is split by article into a training part and a
validation part, so that no article is read both to train the reader and to calibrate
or measure it. The split is a seeded shuffle of the article ids, fixed here forever:
changing it would mix the parts of earlier runs.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

Split = Literal["train", "validation"]

SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
"""The public evaluation data beside the repository (../shared/eval), read in place."""

SPLIT_SEED = 0
VALIDATION_SHARE = 0.25
"""The validation part takes whole articles until it holds a quarter of the questions."""


def read_jsonl(path: Path) -> list[dict[str, object]]:
    """Every non-blank line of a JSON Lines file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def validation_articles(article_of_question: Iterable[str]) -> frozenset[str]:
    """The article ids of the validation part, given each question's article id."""
    counts = Counter(article_of_question)
    order = sorted(counts)
    random.Random(SPLIT_SEED).shuffle(order)
    total, chosen, held = sum(counts.values()), [], 0
    for article in order:
        if held >= VALIDATION_SHARE * total:
            break
        chosen.append(article)
        held += counts[article]
    return frozenset(chosen)


def split_of(article_id: str, validation: frozenset[str]) -> Split:
    return "validation" if article_id in validation else "train"
