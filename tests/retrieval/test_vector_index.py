from pathlib import Path

import faiss
import numpy as np
import pytest

from retrieval.index.vectors import KINDS, TOMBSTONE_LIMIT, IndexKind, VectorIndex

APPROXIMATE_KIND = "ivf_pq_refine"


def unit(rows: list[list[float]]) -> np.ndarray:
    x = np.asarray(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def clustered(n: int, dimension: int = 32, clusters: int = 60, seed: int = 0) -> np.ndarray:
    """Unit vectors around random centres, so IVF lists mean something."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dimension))
    x = centres[rng.integers(0, clusters, n)] + 0.8 * rng.standard_normal((n, dimension))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray]:
    vectors = clustered(1200)
    return np.arange(len(vectors), dtype=np.int64) * 10 + 3, vectors


def test_exact_search_ranks_the_nearest_id_first() -> None:
    index = VectorIndex.empty(4)
    index.add(
        np.array([11, 22, 33]),
        unit([[1, 0, 0, 0], [0, 1, 0, 0], [0.6, 0.8, 0, 0]]),
    )
    scores, ids = index.search(unit([[0.1, 1, 0, 0]]), 2)
    assert ids.tolist() == [[22, 33]]
    assert scores[0, 0] == pytest.approx(0.995, abs=1e-3)
    assert index.kind == "flat" and len(index) == 3


def test_k_beyond_the_collection_and_empty_index() -> None:
    index = VectorIndex.build(np.array([5, 6]), unit([[1, 0, 0, 0], [0, 1, 0, 0]]))
    assert index.search(unit([[1, 0, 0, 0]]), 10)[1].tolist() == [[5, 6]]
    assert VectorIndex.empty(4).search(unit([[1, 0, 0, 0]]), 10)[1].tolist() == [[-1]]


@pytest.mark.parametrize("kind", KINDS)
def test_remove_hides_an_id_at_once_and_it_can_come_back(
    kind: IndexKind, corpus: tuple[np.ndarray, np.ndarray]
) -> None:
    ids, vectors = corpus
    index = VectorIndex.build(ids, vectors, kind)
    target, query = ids[7], vectors[7:8]
    assert index.search(query, 5)[1][0, 0] == target

    index.remove(np.array([target, 999_999]))
    found = index.search(query, 50)[1]
    assert target not in found and len(index) == len(ids) - 1
    assert (found >= 0).all()

    index.add(np.array([target]), query)
    assert index.search(query, 5)[1][0, 0] == target
    assert len(index) == len(ids)


@pytest.mark.parametrize("kind", KINDS)
def test_removing_a_whole_neighbourhood_still_yields_k_live_hits(
    kind: IndexKind, corpus: tuple[np.ndarray, np.ndarray]
) -> None:
    ids, vectors = corpus
    index = VectorIndex.build(ids, vectors, kind)
    query = vectors[7:8]
    nearest = index.search(query, 40)[1][0]
    index.remove(nearest)
    scores, found = index.search(query, 10)
    assert found.shape == (1, 10) and (found >= 0).all()
    assert not np.isin(found, nearest).any()
    assert (np.diff(scores[0]) <= 1e-6).all()


@pytest.mark.parametrize("kind", KINDS)
def test_save_and_load_keep_kind_parameters_results_and_removals(
    kind: IndexKind, corpus: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    ids, vectors = corpus
    index = VectorIndex.build(ids, vectors, kind)
    index.remove(ids[:3])
    before = index.search(vectors[:20], 10)

    index.save(tmp_path / "vectors.faiss")
    loaded = VectorIndex.load(tmp_path / "vectors.faiss")

    assert (loaded.kind, loaded.params, len(loaded)) == (kind, index.params, len(index))
    after = loaded.search(vectors[:20], 10)
    np.testing.assert_array_equal(after[1], before[1])
    np.testing.assert_allclose(after[0], before[0])
    assert not np.isin(ids[:3], after[1]).any()


def test_build_picks_flat_up_to_the_threshold_then_the_approximate_kind() -> None:
    vectors = clustered(400, dimension=8)
    ids = np.arange(400)
    assert APPROXIMATE_KIND != "flat"
    assert VectorIndex.preferred_kind(100, exact_max=100) == "flat"
    assert VectorIndex.preferred_kind(101, exact_max=100) == APPROXIMATE_KIND
    assert VectorIndex.build(ids[:100], vectors[:100], exact_max=100).kind == "flat"
    assert VectorIndex.build(ids, vectors, exact_max=100).kind == APPROXIMATE_KIND


def test_needs_rebuild_when_crossing_the_threshold_either_way() -> None:
    vectors = clustered(400, dimension=8)
    ids = np.arange(400)
    flat = VectorIndex.empty(8, exact_max=100)
    flat.add(ids[:100], vectors[:100])
    assert not flat.needs_rebuild()
    flat.add(ids[100:101], vectors[100:101])
    assert flat.needs_rebuild()

    # an approximate index shrunk below half the threshold is better searched exactly
    assert not VectorIndex.build(
        ids[:60], vectors[:60], "ivf_pq_refine", exact_max=100
    ).needs_rebuild()
    assert VectorIndex.build(ids[:49], vectors[:49], "ivf_pq_refine", exact_max=100).needs_rebuild()


def test_needs_rebuild_when_an_ivf_outgrows_its_lists() -> None:
    vectors = clustered(6000, dimension=8)
    ids = np.arange(6000)
    index = VectorIndex.build(ids[:1000], vectors[:1000], "ivf_pq_refine", exact_max=10)
    index.add(ids[1000:], vectors[1000:])
    assert index.needs_rebuild()
    assert not VectorIndex.build(ids, vectors, "ivf_pq_refine", exact_max=10).needs_rebuild()


def test_needs_rebuild_when_tombstones_pile_up(corpus: tuple[np.ndarray, np.ndarray]) -> None:
    ids, vectors = corpus
    index = VectorIndex.build(ids, vectors, "ivf_pq_refine", exact_max=10)
    limit = int(TOMBSTONE_LIMIT * len(ids))
    index.remove(ids[:limit])
    assert not index.needs_rebuild()
    index.remove(ids[limit : limit + 1])
    assert index.needs_rebuild()


@pytest.fixture(scope="module")
def recall_set() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """24k clustered vectors (enough for IVF lists that are not all probed), 200 queries."""
    data = clustered(24_200, dimension=64, clusters=300, seed=1)
    ids = np.arange(24_000, dtype=np.int64)
    truth = VectorIndex.build(ids, data[:24_000], "flat").search(data[24_000:], 10)[1]
    return data[:24_000], data[24_000:], truth


def test_approximate_recall_against_exact(
    recall_set: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    vectors, queries, truth = recall_set
    index = VectorIndex.build(np.arange(len(vectors)), vectors, exact_max=10_000)
    assert index.kind == APPROXIMATE_KIND
    assert index.params["nprobe"] < index.params["nlist"]  # a real partition
    assert recall_at_10(index.search(queries, 10)[1], truth) >= 0.95


def test_rejects_negative_ids_and_untrainable_input() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        VectorIndex.empty(4).add(np.array([-3]), unit([[1, 0, 0, 0]]))
    with pytest.raises(ValueError, match="no vectors"):
        VectorIndex.build(
            np.array([], dtype=np.int64), np.zeros((0, 8), np.float32), "ivf_pq_refine"
        )
    with pytest.raises(ValueError, match="unsupported FAISS index"):
        VectorIndex(faiss.IndexLSH(4, 8))
