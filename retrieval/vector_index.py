"""FAISS vector index keyed by passage id, saved as one file.

Every kind does inner-product search over unit vectors (cosine similarity):

``flat``
    Exact, ``IndexIDMap2(IndexFlatIP)``. ``build`` picks it up to ``EXACT_MAX`` passages.
``ivf_pq_refine``
    Inverted lists (nlist = power of two nearest 4·sqrt(n)) of 4-bit fast-scan PQ codes
    (d/4 bytes) probed 256 at a time; the best 16·k candidates are re-ranked on 8-bit
    scalar-quantized copies (``IndexRefine``). ``build`` picks it past ``EXACT_MAX``.
``ivf_sq8``
    The same lists holding 8-bit codes only (``IndexIVFScalarQuantizer``), 128 probes.
    Smaller and with native removal, but twice as slow at 1M, right at the 2 ms budget.
``hnsw_sq8``
    ``IndexHNSWSQ``, M=16 (M=32 would exceed 600 B/passage), efSearch 256. Fine on real
    news (recall 0.96-0.98 on 47k Reuters passages) but it degrades fastest of all on
    harder data: 0.70 at 1M synthetic passages. For comparison only.

Measured with ``bench/bench_index.py`` on the 2-core AMD EPYC (load average 1.5-4.5
from other jobs), synthetic MiniLM-like vectors, one query at a time, k=10:

=====  =============  ======  ==============  =======  =======
n      kind           p50 ms  recall@10       B/psg    build s
=====  =============  ======  ==============  =======  =======
40k    flat           2.25    1               1544     0.0
40k    ivf_pq_refine  0.22    0.992           507      3.8
100k   flat           8.8     1               1544     0.1
100k   ivf_pq_refine  0.29    0.989           472      2.5
100k   ivf_sq8        0.70    0.990           408      2.2
100k   hnsw_sq8       0.35    0.948           536      3.8
1M     flat           65      1               1544     0.9
1M     ivf_pq_refine  0.93    0.978           457      145
1M     ivf_sq8        1.86    0.971           398      105
1M     hnsw_sq8       0.59    0.704           536      110
=====  =============  ======  ==============  =======  =======

The synthetic vectors are harder than real news (see the bench), so these recalls are
lower bounds; on 47k real Reuters-21578 passages (all-MiniLM-L6-v2, 1000 held-out
passages / 1000 headlines as queries) recall@10 is 0.988 / 0.974 for ``ivf_pq_refine``,
0.985 / 0.961 for ``ivf_sq8`` and 0.983 / 0.964 for ``hnsw_sq8``.

FAISS cannot remove from ``IndexRefine`` or HNSW, so those kinds sit in an
``IndexIDMap`` whose entry for a removed passage is relabelled ``-1`` (a tombstone):
searches fetch extra hits and drop tombstones, so a removal takes effect at once
(removing 1% of 1M passages: 5 ms; p50 then 1.12 ms instead of 0.93). Tombstones are
saved with the id map; past ``TOMBSTONE_LIMIT`` of the entries ``needs_rebuild()``
asks for a rebuild from the stored vectors, as it does when the collection crosses
``EXACT_MAX`` or outgrows its IVF lists.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

KINDS = ("flat", "ivf_sq8", "ivf_pq_refine", "hnsw_sq8")

EXACT_MAX = 40_000
"""Largest collection searched exactly. Exact single-query search costs 55-90 ns a
passage on the 2-core machine (p50 1.2-2.2 ms at 25k, 2.25 ms at 40k, 2.8-3.7 ms at
50k depending on the machine's load), so past 40k it leaves the 2 ms budget, while
``ivf_pq_refine`` answers in ~0.2 ms with recall@10 0.99 from that size on."""

APPROXIMATE_KIND = "ivf_pq_refine"
"""The kind ``build`` picks past ``EXACT_MAX``: the only one with a wide margin on both
1M targets (p50 0.93 ms against 2, recall 0.978 against 0.95) within 600 B/passage."""

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
_IVF_NPROBE = 128
"""Lists ``ivf_sq8`` probes. The probes needed for a given recall hardly depend on nlist
(on real Reuters passages, recall@10 0.95 for headline queries took ~110 probes with
1024 lists and ~120 with 2048), so a constant, with lists growing with n, keeps recall
flat while the work grows like sqrt(n)."""
_REFINE_NPROBE = 256
"""Fast-scan PQ codes cost a fraction of SQ8 ones to scan, so ``ivf_pq_refine`` affords
twice the probes; the 16·k re-ranked candidates recover the precision PQ loses."""
_REFINE_K_FACTOR = 16
_HNSW_M = 16
_HNSW_EF_SEARCH = 256

_PARALLEL_MIN = 100_000
_search_threads = 1


def set_search_threads(threads: int = 1) -> None:
    """Set the OpenMP threads one search uses (default 1; the engine need not call this).

    Measured on the 2-core machine, one query on 2 threads is never faster and often far
    slower than on one (exact search at 40k: 32 ms against 2.25; ``ivf_pq_refine`` at
    1M: 8 ms against 0.93 — waking a parked OpenMP worker costs ~8 ms on this VM), and
    worse still when the other core is busy, so 1 is the default.

    OpenMP's thread count belongs to the calling thread: ``faiss.omp_set_num_threads``
    in the main thread would not reach searches made from worker threads (e.g.
    ``asyncio.to_thread``), so every search applies this value itself, in the thread
    that runs it, and puts the previous value back.
    """
    global _search_threads
    _search_threads = max(1, threads)


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


def _factory(kind: str, dimension: int, n: int) -> str:
    if kind == "flat":
        return "IDMap2,Flat"
    if kind == "ivf_sq8":
        return f"IVF{_nlist(n)},SQ8"
    if kind == "ivf_pq_refine":
        return f"IDMap,IVF{_nlist(n)},PQ{dimension // 4}x4fs,Refine(SQ8)"
    if kind == "hnsw_sq8":
        return f"IDMap,HNSW{_HNSW_M}_SQ8"
    raise ValueError(f"unknown index kind {kind!r}; expected one of {KINDS}")


def _core(index: faiss.Index) -> faiss.Index:
    """The index inside an id map (or the index itself)."""
    return faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index


def _kind_of(index: faiss.Index) -> str:
    core = _core(index)
    for cls, kind in (
        (faiss.IndexFlat, "flat"),
        (faiss.IndexIVFScalarQuantizer, "ivf_sq8"),
        (faiss.IndexRefine, "ivf_pq_refine"),
        (faiss.IndexHNSW, "hnsw_sq8"),
    ):
        if isinstance(core, cls):
            return kind
    raise ValueError(f"unsupported FAISS index {type(core).__name__}")


class VectorIndex:
    """Inner-product search over unit vectors (cosine similarity), keyed by passage id.

    Ids are non-negative int64 passage ids. ``add`` expects new ids: to replace a
    passage's vector, ``remove`` it first. Concurrent searches are safe; mutations
    (``add``/``remove``) must not run concurrently with searches.
    """

    def __init__(self, index: faiss.Index, *, exact_max: int = EXACT_MAX) -> None:
        self._index = index
        self.kind = _kind_of(index)
        self._exact_max = exact_max
        self._dead = int(np.count_nonzero(self._id_map() == _TOMBSTONE)) if self._tombstoned else 0

    @classmethod
    def empty(cls, dimension: int, *, exact_max: int = EXACT_MAX) -> VectorIndex:
        """A new, empty exact index."""
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)), exact_max=exact_max)

    @staticmethod
    def preferred_kind(n: int, exact_max: int = EXACT_MAX) -> str:
        """The kind ``build`` picks for n passages."""
        return "flat" if n <= exact_max else APPROXIMATE_KIND

    @classmethod
    def build(
        cls,
        ids: np.ndarray,
        vectors: np.ndarray,
        kind: str | None = None,
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
            if isinstance(core, faiss.IndexHNSW):
                core.hnsw.efSearch = _HNSW_EF_SEARCH
            elif isinstance(core, faiss.IndexRefine):
                core.k_factor = _REFINE_K_FACTOR
                ivf = faiss.extract_index_ivf(core)
                ivf.nprobe = min(ivf.nlist, _REFINE_NPROBE)
            elif isinstance(core, faiss.IndexIVF):
                core.nprobe = min(core.nlist, _IVF_NPROBE)
            if n:
                index.add_with_ids(vectors, _checked_ids(ids, n))
        return cls(index, exact_max=exact_max)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def params(self) -> dict[str, int]:
        """Search parameters in force (nlist/nprobe, k_factor, efSearch), for reports."""
        core = _core(self._index)
        if isinstance(core, faiss.IndexHNSW):
            return {"efSearch": core.hnsw.efSearch}
        if not isinstance(core, faiss.IndexIVF | faiss.IndexRefine):
            return {}
        ivf = faiss.extract_index_ivf(core)
        params = {"nlist": int(ivf.nlist), "nprobe": int(ivf.nprobe)}
        if isinstance(core, faiss.IndexRefine):
            params["k_factor"] = int(core.k_factor)
        return params

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
        if self.kind == "hnsw_sq8":
            return False
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
        with _omp_threads(_search_threads):
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
        return self.kind in ("ivf_pq_refine", "hnsw_sq8")

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
