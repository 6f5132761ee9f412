"""FAISS vector index keyed by passage id, saved as one file.

Both kinds do inner-product search over unit vectors (cosine similarity):

``flat``
    Exact, ``IndexIDMap2(IndexFlatIP)``. ``build`` picks it up to ``EXACT_MAX`` passages.
``ivf_pq_refine``
    Inverted lists (nlist = power of two nearest 4·sqrt(n)) of 4-bit fast-scan PQ codes
    (d/4 bytes) probed 256 at a time; the best 16·k candidates are re-ranked on 8-bit
    scalar-quantized copies (``IndexRefine``). ``build`` picks it past ``EXACT_MAX``.

``citebot bench`` measures both (latency, recall@10 against exact search, bytes per
passage); bench/RESULTS.md holds the figures, and why other FAISS kinds were left out.

FAISS cannot remove from ``IndexRefine``, so that kind sits in an ``IndexIDMap`` whose
entry for a removed passage is relabelled ``-1`` (a tombstone): searches fetch extra
hits and drop tombstones, so a removal takes effect at once. Tombstones are saved with
the id map; past ``TOMBSTONE_LIMIT`` of the entries ``needs_rebuild()`` asks for a
rebuild from the stored vectors, as it does when the collection crosses ``EXACT_MAX``
or outgrows its IVF lists.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, get_args

import faiss
import numpy as np

IndexKind = Literal["flat", "ivf_pq_refine"]
KINDS: tuple[IndexKind, ...] = get_args(IndexKind)

EXACT_MAX = 40_000
"""Largest collection searched exactly: exact single-query search costs tens of
nanoseconds a passage, so past this size ``ivf_pq_refine`` answers far faster at a
recall@10 of about 0.99 (bench/RESULTS.md)."""

TOMBSTONE_LIMIT = 0.1
"""Fraction of removed-but-still-stored entries past which ``needs_rebuild()`` is true."""

_TOMBSTONE = -1
_MISSING_SCORE = -np.finfo(np.float32).max
"""FAISS's inner-product score for a missing hit."""
_TRAIN_POINTS_PER_LIST = 32
"""k-means sample per inverted list; more costs build time for little recall."""
_KMEANS_ITERATIONS = 10
_MIN_TRAIN = 256
"""Tiny collections are tiled up to this many rows so PQ/SQ training has enough points."""
_REFINE_NPROBE = 256
"""Lists probed: fast-scan PQ codes are cheap to scan; the 16·k re-ranked candidates
recover the precision PQ loses."""
_REFINE_K_FACTOR = 16
_PARALLEL_MIN = 100_000


@contextmanager
def _omp_threads(threads: int) -> Iterator[None]:
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _build_threads(n: int) -> int:
    """OpenMP threads for building, adding or removing n vectors.

    One below ``_PARALLEL_MIN``: small jobs are all fork/join overhead, and OpenMP's
    spin-waiting makes two threads several times slower whenever the other core is
    busy (12k-vector builds: 0.1-0.9 s on one thread, 0.3-2.4 s on two).
    """
    return (os.cpu_count() or 1) if n >= _PARALLEL_MIN else 1


def _ideal_nlist(n: int) -> float:
    """4·sqrt(n) inverted lists, but no fewer than 39 vectors a list (FAISS's k-means minimum)."""
    return max(1.0, min(4 * math.sqrt(n), n / 39))


def _nlist(n: int) -> int:
    """The power of two nearest ``_ideal_nlist(n)`` that keeps >= 39 vectors a list."""
    nlist = 2 ** round(math.log2(_ideal_nlist(n)))
    while nlist > 1 and nlist * 39 > n:
        nlist //= 2
    return nlist


def _factory(kind: IndexKind, dimension: int, n: int) -> str:
    if kind == "flat":
        return "IDMap2,Flat"
    return f"IDMap,IVF{_nlist(n)},PQ{dimension // 4}x4fs,Refine(SQ8)"


def _core(index: faiss.Index) -> faiss.Index:
    """The index inside an id map (or the index itself)."""
    return faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index


def _kind_of(index: faiss.Index) -> IndexKind:
    core = _core(index)
    if isinstance(core, faiss.IndexFlat):
        return "flat"
    if isinstance(core, faiss.IndexRefine):
        return "ivf_pq_refine"
    raise ValueError(f"unsupported FAISS index {type(core).__name__}")


class VectorIndex:
    """Inner-product search over unit vectors (cosine similarity), keyed by passage id.

    Ids are non-negative int64 passage ids. ``add`` expects new ids: to replace a
    passage's vector, ``remove`` it first. Concurrent searches are safe; mutations
    (``add``/``remove``) must not run concurrently with searches.

    ``search_threads`` is the OpenMP threads one search uses: 1, since on two cores a
    single query is never faster on two and much slower when the other core is busy
    (waking a parked OpenMP worker costs milliseconds). OpenMP's thread count belongs
    to the calling thread, so each search sets it, in the thread that runs it.
    """

    def __init__(
        self, index: faiss.Index, *, exact_max: int = EXACT_MAX, search_threads: int = 1
    ) -> None:
        self._index = index
        self.kind = _kind_of(index)
        self._exact_max = exact_max
        self.search_threads = search_threads
        self._dead = int(np.count_nonzero(self._id_map() == _TOMBSTONE)) if self._tombstoned else 0

    @classmethod
    def empty(cls, dimension: int, *, exact_max: int = EXACT_MAX) -> VectorIndex:
        """A new, empty exact index."""
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)), exact_max=exact_max)

    @staticmethod
    def preferred_kind(n: int, exact_max: int = EXACT_MAX) -> IndexKind:
        """The kind ``build`` picks for n passages."""
        return "flat" if n <= exact_max else "ivf_pq_refine"

    @classmethod
    def build(
        cls,
        ids: np.ndarray,
        vectors: np.ndarray,
        kind: IndexKind | None = None,
        *,
        exact_max: int = EXACT_MAX,
    ) -> VectorIndex:
        """An index over (ids, vectors), of ``kind`` or, if None, the one fit for the size.

        Approximate kinds are trained on a sample of ``vectors``, so they need at least
        one vector; search parameters are set here and saved with the index.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dimension = vectors.shape
        kind = kind or cls.preferred_kind(n, exact_max)
        index = faiss.index_factory(
            dimension, _factory(kind, dimension, n), faiss.METRIC_INNER_PRODUCT
        )
        core = _core(index)
        with _omp_threads(_build_threads(n)):
            if not index.is_trained:
                if n == 0:
                    raise ValueError(f"cannot train a {kind} index on no vectors")
                index.train(_prepare_training(core, vectors))
            if isinstance(core, faiss.IndexRefine):
                core.k_factor = _REFINE_K_FACTOR
                ivf = faiss.extract_index_ivf(core)
                ivf.nprobe = min(ivf.nlist, _REFINE_NPROBE)
            if n:
                index.add_with_ids(vectors, _checked_ids(ids, n))
        return cls(index, exact_max=exact_max)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def params(self) -> dict[str, int]:
        """Search parameters in force (nlist, nprobe, k_factor), for reports."""
        core = _core(self._index)
        if not isinstance(core, faiss.IndexRefine):
            return {}
        ivf = faiss.extract_index_ivf(core)
        return {"nlist": int(ivf.nlist), "nprobe": int(ivf.nprobe), "k_factor": int(core.k_factor)}

    def __len__(self) -> int:
        """Live passages (tombstones not counted)."""
        return int(self._index.ntotal) - self._dead

    def needs_rebuild(self) -> bool:
        """True when ``build`` over the current passages would serve searches better.

        That is: the size crossed ``exact_max`` (upwards, or below half of it for an
        approximate index, so sizes near the threshold do not flip-flop), an IVF index's
        lists average over twice or under half the length a fresh build would give them
        (latency grows with list length; too short lists cost recall), or tombstones
        exceed ``TOMBSTONE_LIMIT`` of the entries.
        """
        live = len(self)
        if self.kind == "flat":
            return live > self._exact_max
        if live < self._exact_max // 2 or self._dead > TOMBSTONE_LIMIT * self._index.ntotal:
            return True
        ratio = _ideal_nlist(live) / self.params["nlist"]
        return not 0.5 <= ratio <= 2

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors (n, d) float32 under new int64 ids."""
        if len(ids) == 0:
            return
        with _omp_threads(_build_threads(len(ids))):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), _checked_ids(ids, len(vectors))
            )

    def remove(self, ids: np.ndarray) -> None:
        """Forget these ids at once; unknown ids are ignored."""
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[ids >= 0]
        if len(ids) == 0:
            return
        if not self._tombstoned:
            with _omp_threads(_build_threads(int(self._index.ntotal))):
                self._index.remove_ids(faiss.IDSelectorBatch(ids))
            return
        id_map = self._id_map()
        hit = np.isin(id_map, ids)
        id_map[hit] = _TOMBSTONE
        self._dead += int(np.count_nonzero(hit))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (len(queries), min(k, len(self)) or 1); missing hits have id -1."""
        k = max(1, min(k, len(self)))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        with _omp_threads(self.search_threads):
            if self._dead:
                return self._search_live(queries, k)
            return self._index.search(queries, k)

    def save(self, path: Path) -> None:
        """Write one file; kind, search parameters and tombstones are part of it."""
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, *, exact_max: int = EXACT_MAX) -> VectorIndex:
        """Read a file written by ``save``; the kind is recognised from its structure."""
        return cls(faiss.read_index(str(path)), exact_max=exact_max)

    @property
    def _tombstoned(self) -> bool:
        return self.kind == "ivf_pq_refine"

    def _id_map(self) -> np.ndarray:
        """A writable view of the id map (valid until the next add)."""
        assert isinstance(self._index, faiss.IndexIDMap)
        return faiss.rev_swig_ptr(self._index.id_map.data(), self._index.id_map.size())

    def _search_live(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Search past tombstones: they come back with id -1, so fetch more and drop them.

        Fetching 2k and doubling until every row has k live hits keeps the plain search
        path: an ``IDSelector`` that skipped tombstones made ``ivf_pq_refine`` at 1M 60%
        slower (p50 0.94 -> 1.52 ms) as soon as one passage had been removed.
        """
        fetch, total = k, int(self._index.ntotal)
        while True:
            fetch = min(2 * fetch, total)
            scores, ids = self._index.search(queries, fetch)
            live = ids >= 0
            if fetch == total or (live.sum(axis=1) >= k).all():
                break
        first_live = np.argsort(~live, axis=1, kind="stable")[:, :k]
        scores = np.take_along_axis(scores, first_live, axis=1)
        ids = np.take_along_axis(ids, first_live, axis=1)
        scores[ids < 0] = _MISSING_SCORE
        return scores, ids


def _checked_ids(ids: np.ndarray, n: int) -> np.ndarray:
    ids = np.asarray(ids, dtype=np.int64)
    if ids.shape != (n,):
        raise ValueError(f"expected {n} ids, got shape {ids.shape}")
    if n and ids.min() < 0:
        raise ValueError("passage ids must be >= 0")
    return ids


def _prepare_training(core: faiss.Index, vectors: np.ndarray) -> np.ndarray:
    """Set up an IVF's k-means and return the training sample.

    IVF kinds train on a random sample of ``_TRAIN_POINTS_PER_LIST`` vectors a list;
    a tiny collection is tiled up to ``_MIN_TRAIN`` rows.
    """
    sample = vectors
    if isinstance(core, faiss.IndexIVF | faiss.IndexRefine):
        ivf = faiss.extract_index_ivf(core)
        ivf.cp.niter = _KMEANS_ITERATIONS
        ivf.cp.min_points_per_centroid = _TRAIN_POINTS_PER_LIST  # no "too few points" warning
        size = _TRAIN_POINTS_PER_LIST * ivf.nlist
        if len(vectors) > size:
            rows = np.random.default_rng(0).choice(len(vectors), size, replace=False)
            sample = vectors[np.sort(rows)]
    if len(sample) < _MIN_TRAIN:
        sample = np.resize(sample, (_MIN_TRAIN, sample.shape[1]))
    return sample
