"""FAISS vector index keyed by passage id, saved as one file."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


class VectorIndex:
    """Inner-product search over unit vectors (cosine similarity), keyed by passage id.

    Exact search (``IndexFlatIP`` behind an id map); ids are int64 passage ids.
    """

    def __init__(self, index: faiss.Index, kind: str = "flat") -> None:
        self._index = index
        self.kind = kind

    @classmethod
    def empty(cls, dimension: int) -> VectorIndex:
        """A new, empty exact index."""
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)), "flat")

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors (n, d) float32 under int64 ids."""
        if len(ids) == 0:
            return
        self._index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )

    def remove(self, ids: np.ndarray) -> None:
        """Forget these ids; unknown ids are ignored."""
        if len(ids) == 0:
            return
        self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (len(queries), k); missing hits have id -1."""
        k = max(1, min(k, len(self))) if len(self) else 1
        return self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str = "flat") -> VectorIndex:
        return cls(faiss.read_index(str(path)), kind)
