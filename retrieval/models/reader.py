"""The learned reader: question and passage read together, answer spans and relevance out.

For each passage the reader gives a relevance logit (used to re-rank), the probability
that the passage holds no answer, and its best answer spans as character offsets into
the passage's exact text, so a bolded phrase is always a quote.

A span never crosses a sentence boundary, never starts or ends inside a word, and never
touches an excluded stretch of the passage (boilerplate that must not be quoted). Its
probability is a softmax over every allowed span of the passage and "no answer here"
(the [CLS] position), as in SQuAD 2.0 readers.

The network (:mod:`retrieval.models.reader_network`) is trained by ``citebot
train-reader``; the shipped weights are turned into an int8 ONNX Runtime model on first
use and cached beside the encoder.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from bm25s.stopwords import STOPWORDS_EN_PLUS

from retrieval.models import onnx_build
from retrieval.text.sentences import sentence_spans

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Encoding, Tokenizer

log = logging.getLogger(__name__)

WEIGHTS = Path(__file__).parent / "reader.safetensors"
"""The shipped reader weights (made by ``citebot train-reader``)."""

MAX_TOKENS = 192
"""Longest reader input: [CLS] question [SEP] title, passage [SEP]. Passages are at most
128 model tokens with their title, so only an unusually long question is truncated."""
MAX_SPAN_TOKENS = 30
SPANS_KEPT = 3
"""Non-overlapping spans kept per passage, best first."""
PHRASE_COVER = 0.9
"""The bold phrase holds the best spans until their probability adds up to this: a
phrase the reader is that sure holds the answer, a few words longer than its single best
guess (see bench/RESULTS.md), and never longer than a span may be."""
MAX_PHRASE_TOKENS = MAX_SPAN_TOKENS
PHRASE_CANDIDATES = 64
"""Best-scoring spans considered for the phrase."""

BUILD_SETTINGS: dict[str, Any] = {
    **onnx_build.INT8_BUILD,
    "exclude": ["/body/encoder/layer.0/output/dense/MatMul"],
    "max_tokens": MAX_TOKENS,
}
"""What shapes the cached ONNX file besides the weights (the encoder's recipe)."""

INPUTS = ("input_ids", "attention_mask", "token_type_ids")

_FIGURE_END = re.compile(r"\d%?$")
_YEAR = re.compile(r"(?:1[89]|20)\d\d")
_STOP_WORDS = frozenset(STOPWORDS_EN_PLUS)
_NEXT_WORD = re.compile(r"[ \t]+([a-z][a-z-]*)\b")
OUTPUTS = ("start", "end", "relevance")


@dataclass(frozen=True)
class ReaderPassage:
    """A passage to read: its title, its exact text, and stretches never to quote.

    Attributes:
        excluded: (start, end) character ranges of ``text`` no span may touch.
    """

    title: str
    text: str
    excluded: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Span:
    """An answer span: character offsets into the passage text, its logit and probability."""

    start: int
    end: int
    score: float
    probability: float


@dataclass(frozen=True)
class Reading:
    """What the reader makes of one passage for one question.

    Attributes:
        relevance: how likely the passage answers the question, as a logit.
        no_answer: the probability that the passage holds no answer.
        spans: the best non-overlapping answer spans, best first (at most SPANS_KEPT).
        phrase: the phrase to bold (see :data:`PHRASE_COVER`), or None.
    """

    relevance: float
    no_answer: float
    spans: tuple[Span, ...]
    phrase: Span | None = None

    @property
    def best(self) -> Span | None:
        return self.spans[0] if self.spans else None


class Reader(Protocol):
    """Reads passages for a question (the real one, or a fake in tests)."""

    def read(self, question: str, passages: Sequence[ReaderPassage]) -> list[Reading]:
        """One reading per passage, in order."""
        ...


@dataclass(frozen=True)
class EncodedPair:
    """One tokenized (question, passage) pair and where each token lies in the passage.

    Attributes:
        ids, type_ids: the model input.
        offsets: per token, (start, end) in the passage text, or None outside it.
        sentence: per token, the index of its passage sentence, -1 outside the passage.
        word_start, word_end: per token, whether a span may start / end there.
        text: the passage text.
    """

    ids: list[int]
    type_ids: list[int]
    offsets: list[tuple[int, int] | None]
    sentence: np.ndarray
    word_start: np.ndarray
    word_end: np.ndarray
    text: str

    def token_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The (first, last) tokens covering characters [start, end), or None if cut off."""
        first = last = None
        for index, offset in enumerate(self.offsets):
            if offset is None:
                continue
            if first is None and offset[1] > start:
                first = index
            if offset[0] < end:
                last = index
        if first is None or last is None or last < first:
            return None
        if self.offsets[first][0] > start or self.offsets[last][1] < end:  # type: ignore[index]
            return None  # the answer runs past the truncated passage
        return first, last


class PairEncoder:
    """The model's own tokenizer, encoding (question, title + passage) pairs."""

    def __init__(self, model_dir: Path, max_tokens: int = MAX_TOKENS) -> None:
        from tokenizers import Tokenizer

        self._tokenizer: Tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_tokens, strategy="longest_first")
        self._tokenizer.no_padding()

    def encode(self, question: str, passages: Sequence[ReaderPassage]) -> list[EncodedPair]:
        """Each passage paired with the question."""
        contexts = [f"{p.title}\n{p.text}" for p in passages]
        encodings = self._tokenizer.encode_batch([(question, c) for c in contexts])
        return [
            _located(encoding, passage, len(passage.title) + 1)
            for encoding, passage in zip(encodings, passages, strict=True)
        ]


def _located(encoding: Encoding, passage: ReaderPassage, prefix: int) -> EncodedPair:
    """Token positions in the passage text, their sentences and word boundaries."""
    sentences = sentence_spans(passage.text)
    starts = [start for start, _ in sentences]
    count = len(encoding.ids)
    offsets: list[tuple[int, int] | None] = [None] * count
    sentence = np.full(count, -1, dtype=np.int32)
    words = encoding.word_ids
    for index, (sequence, (start, end)) in enumerate(
        zip(encoding.sequence_ids, encoding.offsets, strict=True)
    ):
        if sequence != 1 or start < prefix or end <= start:
            continue
        start, end = start - prefix, end - prefix
        if any(start < stop and end > begin for begin, stop in passage.excluded):
            continue
        number = bisect.bisect_right(starts, start) - 1
        if number < 0 or start >= sentences[number][1]:
            continue  # white space between sentences
        offsets[index] = (start, end)
        sentence[index] = number
    inside = sentence >= 0
    word = np.asarray([-1 if w is None else w for w in words], dtype=np.int64)
    previous = np.concatenate([[-2], word[:-1]])
    following = np.concatenate([word[1:], [-2]])
    return EncodedPair(
        list(encoding.ids),
        list(encoding.type_ids),
        offsets,
        sentence,
        inside & (word != previous),
        inside & (word != following),
        passage.text,
    )


def decode(start_logits: np.ndarray, end_logits: np.ndarray, pair: EncodedPair) -> Reading:
    """The reading of one pair from its logits (unpadded length); relevance left at 0."""
    null = float(start_logits[0] + end_logits[0])
    starts = np.flatnonzero(pair.word_start)
    ends = np.flatnonzero(pair.word_end)
    if len(starts) == 0 or len(ends) == 0:
        return Reading(0.0, 1.0, (), None)
    scores = start_logits[starts][:, None] + end_logits[ends][None, :]
    width = ends[None, :] - starts[:, None]
    valid = (width >= 0) & (width < MAX_SPAN_TOKENS)
    valid &= pair.sentence[starts][:, None] == pair.sentence[ends][None, :]
    scores = np.where(valid, scores, -np.inf)
    top = max(null, float(scores.max()))
    probabilities = np.exp(scores - top)
    total = np.exp(null - top) + float(probabilities.sum())
    probabilities /= total
    candidates = [
        (
            int(starts[row]),
            int(ends[column]),
            float(scores[row, column]),
            float(probabilities[row, column]),
        )
        for row, column in (divmod(int(flat), scores.shape[1]) for flat in _best(scores))
        if np.isfinite(scores[row, column])
    ]
    spans: list[Span] = []
    taken: list[tuple[int, int]] = []
    for first, last, score, probability in candidates:
        if len(spans) == SPANS_KEPT:
            break
        if any(first <= b and last >= a for a, b in taken):
            continue
        taken.append((first, last))
        spans.append(_span(pair, first, last, score, probability))
    return Reading(0.0, float(np.exp(null - top) / total), tuple(spans), _phrase(pair, candidates))


def _best(scores: np.ndarray) -> np.ndarray:
    """Flat indexes of the PHRASE_CANDIDATES best scores, best first."""
    count = min(PHRASE_CANDIDATES, scores.size)
    flat = np.argpartition(scores, scores.size - count, axis=None)[-count:]
    return flat[np.argsort(scores.flat[flat])[::-1]]


def _phrase(pair: EncodedPair, candidates: list[tuple[int, int, float, float]]) -> Span | None:
    """The shortest stretch of the best span's sentence that holds the best spans until
    their probabilities add up to :data:`PHRASE_COVER`; its probability is that sum (the
    chance, as far as the reader can tell, that the answer lies inside it)."""
    if not candidates:
        return None
    first, last, score, covered = candidates[0]
    sentence = pair.sentence[first]
    for start, end, _, probability in candidates[1:]:
        if covered >= PHRASE_COVER:
            break
        if pair.sentence[start] != sentence:
            continue
        widened = min(first, start), max(last, end)
        if widened[1] - widened[0] >= MAX_PHRASE_TOKENS:
            continue
        first, last = widened
        covered += probability
    return _with_what_it_counts(pair.text, _span(pair, first, last, score, min(1.0, covered)))


def _with_what_it_counts(text: str, phrase: Span) -> Span:
    """A phrase ending in a figure takes the one or two lower-case words right after it
    that are not English stop words (bm25s's longer list: "87" -> "87 people", "2,300"
    -> "2,300 properties", not "87 from"): a figure
    is read with what it counts. A bare year, a capitalised word (a name, a month) or
    punctuation ends the phrase where it is."""
    if not _FIGURE_END.search(text, phrase.start, phrase.end) or _YEAR.fullmatch(
        text, phrase.start, phrase.end
    ):
        return phrase
    end = phrase.end
    for _ in range(2):
        word = _NEXT_WORD.match(text, end)
        if word is None or word.group(1) in _STOP_WORDS:
            break
        end = word.end()
    return replace(phrase, end=end)


def _span(pair: EncodedPair, first: int, last: int, score: float, probability: float) -> Span:
    begin, finish = pair.offsets[first], pair.offsets[last]
    assert begin is not None and finish is not None
    return Span(begin[0], finish[1], score, probability)


def batch_inputs(pairs: Sequence[EncodedPair]) -> dict[str, np.ndarray]:
    """The pairs padded to the longest, as the network's three int64 inputs."""
    length = max(len(pair.ids) for pair in pairs)
    ids = np.zeros((len(pairs), length), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, pair in enumerate(pairs):
        ids[row, : len(pair.ids)] = pair.ids
        types[row, : len(pair.ids)] = pair.type_ids
        mask[row, : len(pair.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


class OnnxReader:
    """The trained reader on int8 ONNX Runtime; built from the shipped weights on first use.

    ``read`` is safe to call from several threads (initialization is locked).
    """

    def __init__(
        self,
        model_dir: Path,
        cache_dir: Path,
        *,
        weights: Path = WEIGHTS,
        threads: int | None = None,
    ) -> None:
        self._model_dir = model_dir
        self._cache_dir = cache_dir
        self._weights = weights
        self._threads = threads or os.cpu_count() or 1
        self._encoder = PairEncoder(model_dir)
        self._session: onnxruntime.InferenceSession | None = None
        self._lock = threading.Lock()

    def model_file(self) -> Path:
        """Where the int8 model for these weights and settings is cached."""
        digest = onnx_build.digest_files(
            [self._weights, self._model_dir / "model.safetensors"],
            json.dumps(BUILD_SETTINGS, sort_keys=True).encode(),
        )
        return self._cache_dir / f"reader-int8-{digest}.onnx"

    def _loaded(self) -> onnxruntime.InferenceSession:
        with self._lock:
            if self._session is None:
                path = self.model_file()
                if not path.exists():
                    _build(self._model_dir, self._weights, path)
                self._session = onnx_build.open_session(path, self._threads)
            return self._session

    def read(self, question: str, passages: Sequence[ReaderPassage]) -> list[Reading]:
        if not passages:
            return []
        session = self._loaded()
        pairs = self._encoder.encode(question, passages)
        start, end, relevance = session.run(list(OUTPUTS), batch_inputs(pairs))
        return [
            replace(
                decode(start[row, : len(pair.ids)], end[row, : len(pair.ids)], pair),
                relevance=float(relevance[row]),
            )
            for row, pair in enumerate(pairs)
        ]


def _build(model_dir: Path, weights: Path, target: Path) -> None:
    """Load the trained network, export it to ONNX, quantize it, cache it atomically."""
    log.info("building the int8 ONNX reader %s (once; takes a few seconds)", target.name)
    from transformers.utils import logging as transformers_logging

    from retrieval.models.reader_network import ReaderNetwork

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()  # the unused pooler is not news
    network = ReaderNetwork.load(model_dir, weights)

    def build(fp32: Path, int8: Path) -> None:
        outputs = {
            "start": onnx_build.BATCH_BY_SEQUENCE,
            "end": onnx_build.BATCH_BY_SEQUENCE,
            "relevance": {0: "batch"},
        }
        onnx_build.export(network, fp32, list(INPUTS), outputs)
        onnx_build.quantize(fp32, int8, BUILD_SETTINGS)

    onnx_build.build_once(target, build)
