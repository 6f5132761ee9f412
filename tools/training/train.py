"""``citebot train-reader``: fine-tune the reader from public data, reproducibly.

Two phases on one network (all-MiniLM-L6-v2's weights, the word embeddings frozen):

1. **cloze**: one pass over cloze questions made from Reuters-21578 articles, which
   teaches span extraction on news text;
2. **squad**: epochs over the training part of SQuAD's dev half (positives and hard
   negatives), which teaches real questions and "no answer here".

Each phase has its own linear warm-up and decay; the heads learn at a higher rate than
the body (a fresh head at the body's rate barely moves in an epoch). Training runs in
bfloat16 autocast on the CPU (twice as fast there, fp32 master weights), with a fixed
seed. The weights and a JSON report (data, settings, loss curve, validation figures)
are written at the end.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from retrieval.models.embedder import TokenCounter
from retrieval.models.onnx_embedder import OnnxEmbedder
from retrieval.models.reader import EncodedPair, PairEncoder, batch_inputs, decode
from retrieval.models.reader_network import ReaderNetwork
from tools.datasets import read_jsonl, validation_articles
from tools.training.examples import (
    Example,
    PassageRetriever,
    Question,
    article_passages,
    cloze_examples,
    occurrences,
    squad_examples,
)

log = logging.getLogger(__name__)

Step = Callable[[str, int, int, float], None]
"""Called as step(phase, done, total, recent loss) after each optimizer step."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a training run (saved in the weights and the report)."""

    seed: int = 13
    cloze_articles: int = 12_000
    cloze_per_article: int = 1
    squad_epochs: int = 3
    hard_negatives: int = 2
    batch_size: int = 16
    body_lr: float = 1.5e-4
    head_lr: float = 1e-3
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_steps_per_phase: int | None = None
    """Only for quick checks: stop each phase after this many steps."""


@dataclass
class Sources:
    """Where the public data is."""

    squad_articles: Path
    squad_questions: Path
    reuters_articles: Path | None
    excluded_articles: frozenset[str] = field(default_factory=frozenset)
    """Article ids never used for cloze questions (the news question set's)."""


@dataclass
class Tensorized:
    """One example as model input and targets."""

    pair: EncodedPair
    starts: list[int]
    ends: list[int]
    relevant: bool


def tensorize(encoder: PairEncoder, example: Example) -> Tensorized:
    """Encode an example; answers cut off by truncation count as no answer in it."""
    (pair,) = encoder.encode(example.question, [example.passage])
    spans = [pair.token_span(a, b) for a, b in example.answers]
    kept = [span for span in spans if span is not None and _decodable(pair, *span)]
    if not kept:
        return Tensorized(pair, [0], [0], False)
    return Tensorized(pair, [a for a, _ in kept], [b for _, b in kept], True)


def _decodable(pair: EncodedPair, first: int, last: int) -> bool:
    """Whether the reader could answer with this span (word bounds, one sentence)."""
    return bool(
        pair.word_start[first]
        and pair.word_end[last]
        and pair.sentence[first] == pair.sentence[last]
    )


def batches(items: Sequence[Tensorized], size: int, rng: random.Random) -> list[list[Tensorized]]:
    """Shuffled batches of similar lengths (little padding), in a shuffled order."""
    order = list(range(len(items)))
    rng.shuffle(order)
    chunk = size * 50
    grouped: list[list[Tensorized]] = []
    for begin in range(0, len(order), chunk):
        window = sorted(order[begin : begin + chunk], key=lambda i: len(items[i].pair.ids))
        grouped += [[items[i] for i in window[j : j + size]] for j in range(0, len(window), size)]
    rng.shuffle(grouped)
    return grouped


def _allowed(pairs: Sequence[EncodedPair], length: int, which: str) -> torch.Tensor:
    mask = torch.zeros((len(pairs), length), dtype=torch.bool)
    for row, pair in enumerate(pairs):
        flags = pair.word_start if which == "start" else pair.word_end
        mask[row, : len(flags)] = torch.from_numpy(flags)
        mask[row, 0] = True  # "no answer here"
    return mask


def _marginal_nll(
    logits: torch.Tensor, allowed: torch.Tensor, gold: list[list[int]]
) -> torch.Tensor:
    """-log of the probability mass on the gold positions, over the allowed positions."""
    logits = logits.float().masked_fill(~allowed, -1e4)
    target = torch.zeros_like(allowed)
    for row, positions in enumerate(gold):
        target[row, positions] = True
    log_total = torch.logsumexp(logits, dim=-1)
    log_gold = torch.logsumexp(logits.masked_fill(~target, -1e4), dim=-1)
    return (log_total - log_gold).mean()


def loss_of(network: ReaderNetwork, batch: Sequence[Tensorized]) -> torch.Tensor:
    """Span loss (start and end, marginal over every answer occurrence) plus relevance BCE."""
    pairs = [item.pair for item in batch]
    inputs = {k: torch.from_numpy(v) for k, v in batch_inputs(pairs).items()}
    length = inputs["input_ids"].shape[1]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        start, end, relevance = network(**inputs)
    span = _marginal_nll(start, _allowed(pairs, length, "start"), [b.starts for b in batch])
    span = span + _marginal_nll(end, _allowed(pairs, length, "end"), [b.ends for b in batch])
    target = torch.tensor([float(b.relevant) for b in batch])
    return span / 2 + torch.nn.functional.binary_cross_entropy_with_logits(
        relevance.float(), target
    )


def _optimizer(network: ReaderNetwork, config: TrainConfig) -> torch.optim.Optimizer:
    heads = [
        p for n, p in network.named_parameters() if not n.startswith("body.") and p.requires_grad
    ]
    body = [p for n, p in network.named_parameters() if n.startswith("body.") and p.requires_grad]
    return torch.optim.AdamW(
        [{"params": body, "lr": config.body_lr}, {"params": heads, "lr": config.head_lr}],
        weight_decay=config.weight_decay,
    )


def run_phase(
    network: ReaderNetwork,
    name: str,
    epochs: list[list[list[Tensorized]]],
    config: TrainConfig,
    step: Step,
) -> list[float]:
    """Train on the given epochs of batches with a fresh optimizer and schedule.

    Returns the mean loss of every 25 steps."""
    steps = [batch for epoch in epochs for batch in epoch]
    if config.max_steps_per_phase is not None:
        steps = steps[: config.max_steps_per_phase]
    optimizer = _optimizer(network, config)
    warm = max(1, int(config.warmup * len(steps)))

    def factor(number: int) -> float:
        if number < warm:
            return (number + 1) / warm
        return max(0.0, (len(steps) - number) / max(1, len(steps) - warm))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    network.train()
    curve: list[float] = []
    recent: list[float] = []
    for number, batch in enumerate(steps):
        loss = loss_of(network, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        recent.append(float(loss.detach()))
        if len(recent) == 25 or number == len(steps) - 1:
            curve.append(round(sum(recent) / len(recent), 4))
            recent = []
        step(name, number + 1, len(steps), curve[-1] if curve else recent[-1])
    network.eval()
    return curve


def squad_data(
    sources: Sources, counter: TokenCounter
) -> tuple[list[Question], list[Question], dict[str, list[Any]]]:
    """(training questions, validation questions, passages by article)."""
    articles = read_jsonl(sources.squad_articles)
    passages = {
        str(a["id"]): article_passages(str(a["title"]), str(a["text"]), counter) for a in articles
    }
    questions = [
        Question(str(q["id"]), str(q["question"]), _strings(q["answers"]), str(q["article_id"]))
        for q in read_jsonl(sources.squad_questions)
    ]
    validation = validation_articles(q.article_id for q in questions)
    train = [q for q in questions if q.article_id not in validation]
    held = [q for q in questions if q.article_id in validation]
    return train, held, passages


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


VALIDATION_DEPTH = 5
"""Passages each validation question is read with: retrieval's best, as the engine does."""


def validate(
    network: ReaderNetwork,
    encoder: PairEncoder,
    questions: Sequence[Question],
    retriever: PassageRetriever,
) -> dict[str, Any]:
    """The reader alone on validation questions, each read with retrieval's first
    passages over all of SQuAD's half (training articles as distractors).

    ``retrieval_top1`` / ``reader_top1``: the first passage by retrieval / by the reader's
    relevance holds an answer; ``contains``: the best span of the reader's first passage
    holds one; ``precision_at``: that span's precision for the most confident shares.
    """
    contains: list[tuple[float, bool]] = []
    by_retrieval = by_reader = 0
    rankings = retriever.ranked([q.text for q in questions])
    with torch.no_grad():
        for question, ranked in zip(questions, rankings, strict=True):
            chosen = ranked[:VALIDATION_DEPTH]
            texts = [retriever.pool[i][1] for i in chosen]
            holds = [bool(occurrences(p.text, question.answers)) for p in texts]
            readings = _read(network, encoder.encode(question.text, texts))
            first = int(np.argmax([relevance for relevance, _, _ in readings]))
            by_retrieval += holds[0]
            by_reader += holds[first]
            spans = readings[first][2]
            best = spans[0] if spans else None
            hit = best is not None and any(
                a.lower() in texts[first].text[best.start : best.end].lower()
                for a in question.answers
            )
            contains.append((best.probability if best else 0.0, hit))
    contains.sort(key=lambda item: item[0], reverse=True)

    def precision(share: float) -> float:
        head = contains[: max(1, int(share * len(contains)))]
        return round(sum(hit for _, hit in head) / len(head), 4)

    counted = max(1, len(questions))
    return {
        "questions": len(questions),
        "retrieval_top1": round(by_retrieval / counted, 4),
        "reader_top1": round(by_reader / counted, 4),
        "contains": round(sum(hit for _, hit in contains) / counted, 4),
        "precision_at": {f"{s:.0%}": precision(s) for s in (0.3, 0.5, 0.65, 0.8, 1.0)},
    }


def _read(network: ReaderNetwork, pairs: Sequence[EncodedPair]) -> list[tuple[float, float, Any]]:
    """(relevance, no-answer probability, spans) per pair, with the torch network."""
    results = []
    for begin in range(0, len(pairs), 32):
        chunk = pairs[begin : begin + 32]
        inputs = {k: torch.from_numpy(v) for k, v in batch_inputs(chunk).items()}
        with torch.autocast("cpu", dtype=torch.bfloat16):
            start, end, relevance = network(**inputs)
        start, end = start.float().numpy(), end.float().numpy()
        for row, pair in enumerate(chunk):
            reading = decode(start[row, : len(pair.ids)], end[row, : len(pair.ids)], pair)
            results.append((float(relevance[row]), reading.no_answer, reading.spans))
    return results


def train(
    model_dir: Path,
    encoder_cache: Path,
    sources: Sources,
    config: TrainConfig,
    weights: Path,
    report_path: Path | None,
    step: Step,
) -> dict[str, Any]:
    """Build the data, train both phases, validate, save weights and report."""
    started = time.perf_counter()
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    torch.set_num_threads(os.cpu_count() or 1)
    rng = random.Random(config.seed)
    counter = TokenCounter(model_dir)
    encoder = PairEncoder(model_dir)

    train_questions, held_questions, passages = squad_data(sources, counter)
    squad = squad_examples(train_questions, passages, rng, hard_negatives=config.hard_negatives)
    cloze: list[Example] = []
    if sources.reuters_articles is not None and config.cloze_articles > 0:
        pool = [
            a
            for a in read_jsonl(sources.reuters_articles)
            if str(a["id"]) not in sources.excluded_articles
        ]
        drawn = rng.sample(pool, min(config.cloze_articles, len(pool)))
        cloze = cloze_examples(drawn, counter, rng, per_article=config.cloze_per_article)
    step("encoding", 0, 1, 0.0)
    cloze_items = [tensorize(encoder, e) for e in cloze]
    squad_items = [tensorize(encoder, e) for e in squad]
    step("encoding", 1, 1, 0.0)

    network = ReaderNetwork.from_encoder(model_dir)
    curves: dict[str, list[float]] = {}
    if cloze_items:
        curves["cloze"] = run_phase(
            network, "cloze", [batches(cloze_items, config.batch_size, rng)], config, step
        )
    squad_epochs = [
        batches(squad_items, config.batch_size, rng) for _ in range(config.squad_epochs)
    ]
    curves["squad"] = run_phase(network, "squad", squad_epochs, config, step)
    trained_s = time.perf_counter() - started

    step("validating", 0, 1, 0.0)
    # validated on what the engine would read: SQuAD's whole half is the corpus, the
    # training articles' passages every question's distractors
    retriever = PassageRetriever(passages, OnnxEmbedder(model_dir, encoder_cache))
    figures = validate(network, encoder, held_questions, retriever)
    step("validating", 1, 1, 0.0)
    report: dict[str, Any] = {
        "config": asdict(config),
        "data": {
            "squad_train_questions": len(train_questions),
            "squad_validation_questions": len(held_questions),
            "squad_examples": len(squad),
            "squad_positive_examples": sum(bool(e.answers) for e in squad),
            "cloze_examples": len(cloze),
            "cloze_positive_examples": sum(bool(e.answers) for e in cloze),
            "licences": {
                "squad": "SQuAD v1.1 dev, first half (../shared/eval): CC BY-SA 4.0",
                "reuters": "Reuters-21578 Distribution 1.0: free for research use",
            },
        },
        "loss_every_25_steps": curves,
        "validation": figures,
        "train_seconds": round(trained_s, 1),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    network.save(weights, {"config": asdict(config), "validation": figures})
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def mean_loss(network: ReaderNetwork, items: Sequence[Tensorized]) -> float:
    """Mean loss over ``items`` without training (for checks)."""
    with torch.no_grad():
        losses = [float(loss_of(network, items[i : i + 8])) for i in range(0, len(items), 8)]
    return sum(losses) / max(1, len(losses)) if losses else math.nan
