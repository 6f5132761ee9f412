"""A deterministic stand-in for the embedding model, for tests where the model is not the point."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence

import numpy as np

from retrieval.models.reader import ReaderPassage, Reading, Span

PROGRESS_STEPS = 5
"""Progress reports of a slow embedding call (see ``HashingEmbedder.delay``)."""


class HashingEmbedder:
    """Bag-of-words vectors from hashed lower-case words: fast, deterministic, no model.

    Texts sharing words get similar vectors, which is enough to test indexing and
    answering logic. ``delay`` makes every call slow, to test timeouts and progress.
    """

    def __init__(self, dimension: int = 64, max_tokens: int = 128, delay: float = 0.0) -> None:
        self._dimension = dimension
        self._max_tokens = max_tokens
        self.delay = delay
        self.embedded: list[str] = []
        self.calls = 0

    @property
    def model_id(self) -> str:
        return f"hashing-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text)) + 2

    def embed(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        self.calls += 1
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self._dimension
                vectors[row, bucket] += 1.0 if digest[4] % 2 else -1.0
        # One call for all rows: a numpy call per row releases and retakes the GIL so often
        # that the event loop's thread can wait ~100 ms to get it back.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        empty = norms[:, 0] == 0
        vectors[~empty] /= norms[~empty]
        vectors[empty] = 1.0 / np.sqrt(self._dimension)
        self.embedded.extend(texts)
        # a slow call reports progress in steps, as the real model does batch by batch
        steps = PROGRESS_STEPS if self.delay and len(texts) >= PROGRESS_STEPS else 1
        for step in np.array_split(np.arange(len(texts)), steps):
            time.sleep(self.delay / steps)
            if progress is not None:
                progress(len(step))
        return vectors


class ScriptedReader:
    """A stand-in for the reader: relevance from shared words, spans from a script.

    Every occurrence in a passage of a phrase of ``spans`` is an answer span with the
    phrase's probability, the likeliest also the phrase to bold; the passage's relevance
    logit is the number of question words it holds, less two. Enough to test what is done with a reading, with no model.
    """

    def __init__(self, spans: dict[str, float]) -> None:
        self._spans = spans
        self.read_passages: list[int] = []

    def read(self, question: str, passages: Sequence[ReaderPassage]) -> list[Reading]:
        self.read_passages.append(len(passages))
        words = set(re.findall(r"\w+", question.lower()))
        readings = []
        for passage in passages:
            held = words & set(re.findall(r"\w+", passage.text.lower()))
            found = sorted(
                (
                    Span(start, start + len(phrase), probability, probability)
                    for phrase, probability in self._spans.items()
                    for start in _starts(passage.text, phrase)
                    if not any(start < b and start + len(phrase) > a for a, b in passage.excluded)
                ),
                key=lambda span: -span.probability,
            )
            no_answer = 1.0 - found[0].probability if found else 1.0
            best = found[0] if found else None
            readings.append(Reading(float(len(held) - 2), no_answer, tuple(found[:3]), best))
        return readings


def _starts(text: str, phrase: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(phrase), text)]
