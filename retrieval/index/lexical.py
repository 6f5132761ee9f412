"""BM25 over passages (bm25s), keyed by passage id like the vector index."""

from __future__ import annotations

import json
from pathlib import Path

import bm25s
import numpy as np

from retrieval.text.terms import tokenize


class LexicalIndex:
    """BM25 scores for passages. bm25s has no incremental update, so a change rebuilds it."""

    def __init__(self, retriever: bm25s.BM25 | None, passage_ids: np.ndarray) -> None:
        self._retriever = retriever
        self._ids = passage_ids

    @classmethod
    def build(cls, passage_ids: np.ndarray, texts: list[str]) -> LexicalIndex:
        if len(texts) == 0:
            return cls(None, np.empty(0, dtype=np.int64))
        retriever = bm25s.BM25()
        retriever.index(tokenize(texts), show_progress=False)
        return cls(retriever, np.asarray(passage_ids, dtype=np.int64))

    def __len__(self) -> int:
        return len(self._ids)

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, passage ids) of the best ``k`` passages with a non-zero score."""
        empty = (np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64))
        if self._retriever is None:
            return empty
        terms = tokenize([query])[0]
        if not terms:
            return empty
        scores = self._retriever.get_scores(terms)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return scores[top].astype(np.float32), self._ids[top]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "passage_ids.npy", self._ids)
        if self._retriever is not None:
            self._retriever.save(str(folder), show_progress=False)
        (folder / "lexical.json").write_text(json.dumps({"empty": self._retriever is None}))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        ids = np.load(folder / "passage_ids.npy")
        if json.loads((folder / "lexical.json").read_text())["empty"]:
            return cls(None, ids)
        retriever = bm25s.BM25.load(str(folder), mmap=False, show_progress=False, verbosity=0)
        return cls(retriever, ids)
