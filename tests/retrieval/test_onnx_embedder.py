"""The int8 ONNX encoder: close to fp32, order-preserving, cached once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.models import onnx_embedder
from retrieval.models.embedder import packaged_model_path
from retrieval.models.encoders import make_embedder
from retrieval.models.fp32_embedder import SentenceTransformerEmbedder
from retrieval.models.onnx_embedder import OnnxEmbedder

SENTENCES = [
    "How many soldiers were killed in the attack in Mali?",
    "The central bank left interest rates unchanged on Thursday.",
    "Heavy rain flooded the valley, and thousands of people left their homes overnight.",
    "Shares of the carmaker fell 4% after it cut its forecast for the year.",
    "Scientists found water ice in craters near the moon's south pole.",
    "Bahia cocoa arrivals for the week totalled 155,221 bags of 60 kilos.",
    "The minister said talks would resume next month in Geneva.",
    "A 12-year-old won the national spelling bee with the word 'feuilleton'.",
]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("encoders")


@pytest.fixture(scope="session")
def onnx(cache_dir: Path) -> OnnxEmbedder:
    """The int8 encoder, exported and quantized once for the session."""
    embedder = OnnxEmbedder(packaged_model_path(), cache_dir)
    embedder.embed(["warm up"])
    return embedder


@pytest.fixture(scope="session")
def fp32() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(packaged_model_path())


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum(axis=1).mean())


def test_factory_builds_each_kind_lazily(tmp_path: Path) -> None:
    """Both kinds construct without loading a model or writing to the cache."""
    assert isinstance(make_embedder("onnx-int8", packaged_model_path(), tmp_path), OnnxEmbedder)
    plain = make_embedder("sentence-transformers", packaged_model_path(), tmp_path)
    assert isinstance(plain, SentenceTransformerEmbedder)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.model
def test_vectors_are_unit_float32_rows(onnx: OnnxEmbedder) -> None:
    """embed returns float32 (n, 384) unit vectors, and (0, 384) for no texts."""
    vectors = onnx.embed(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx.embed([]).shape == (0, 384)


@pytest.mark.model
def test_same_model_id_and_shape_as_fp32(
    onnx: OnnxEmbedder, fp32: SentenceTransformerEmbedder
) -> None:
    """The int8 encoder claims the fp32 model's id, so an index built by either serves both."""
    assert onnx.model_id == fp32.model_id == "all-MiniLM-L6-v2"
    assert (onnx.dimension, onnx.max_tokens) == (fp32.dimension, fp32.max_tokens)
    assert onnx.count_tokens(SENTENCES[0]) == fp32.count_tokens(SENTENCES[0])


@pytest.mark.model
def test_close_to_fp32_on_sentences(onnx: OnnxEmbedder, fp32: SentenceTransformerEmbedder) -> None:
    """Mean cosine to the fp32 vectors is at least 0.99 on hand-written sentences."""
    assert mean_cosine(onnx.embed(SENTENCES), fp32.embed(SENTENCES)) >= 0.99


@pytest.mark.model
def test_close_to_fp32_on_seed_paragraphs(
    onnx: OnnxEmbedder, fp32: SentenceTransformerEmbedder, seed_file: Path
) -> None:
    """Mean cosine to the fp32 vectors is at least 0.99 on a real article's paragraphs."""
    lines = seed_file.read_text(encoding="utf-8").splitlines()
    paragraphs = [line.strip() for line in lines if len(line.split()) >= 5]
    assert len(paragraphs) >= 10
    cosines = (onnx.embed(paragraphs) * fp32.embed(paragraphs)).sum(axis=1)
    assert cosines.mean() >= 0.99
    assert cosines.min() >= 0.97


MIXED_LENGTHS = [
    SENTENCES[2] * 3,
    "Rates.",
    SENTENCES[0],
    " ".join(SENTENCES),
    "Mali",
    SENTENCES[5] + " " + SENTENCES[3],
    SENTENCES[7],
]


@pytest.mark.model
def test_length_sorting_restores_input_order(cache_dir: Path) -> None:
    """With one text a batch, sorted processing gives exactly each text's lone vector in place."""
    embedder = OnnxEmbedder(packaged_model_path(), cache_dir, batch_size=1)
    alone = np.vstack([embedder.embed([text]) for text in MIXED_LENGTHS])
    np.testing.assert_allclose(embedder.embed(MIXED_LENGTHS), alone, atol=1e-6)


@pytest.mark.model
def test_length_batches_keep_input_order(cache_dir: Path) -> None:
    """Texts of mixed lengths batched together come back in input order, with progress."""
    embedder = OnnxEmbedder(packaged_model_path(), cache_dir, batch_size=2)
    finished: list[int] = []
    together = embedder.embed(MIXED_LENGTHS, progress=finished.append)
    alone = np.vstack([embedder.embed([text]) for text in MIXED_LENGTHS])
    assert finished == [2, 2, 2, 1]
    # int8 activations are scaled per batch, so a batch-mate shifts a vector slightly
    # (cosine ~0.99 to the lone vector); a shuffled row would match another text instead.
    similarity = together @ alone.T
    assert (similarity.argmax(axis=1) == np.arange(len(MIXED_LENGTHS))).all()
    assert np.diag(similarity).min() >= 0.98


@pytest.mark.model
def test_long_text_is_truncated_like_fp32(
    onnx: OnnxEmbedder, fp32: SentenceTransformerEmbedder
) -> None:
    """A text beyond max_tokens is cut at the same place as the fp32 model cuts it."""
    long_text = " ".join(SENTENCES * 12)
    assert onnx.count_tokens(long_text) > onnx.max_tokens
    assert mean_cosine(onnx.embed([long_text]), fp32.embed([long_text])) >= 0.99


@pytest.mark.model
def test_cached_model_is_reused(
    onnx: OnnxEmbedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second embedder loads the cached file without exporting or rewriting it."""
    path = onnx.model_file()
    assert sorted(cache_dir.iterdir()) == [path]  # no temporary leftovers beside it
    assert path.name.startswith("all-MiniLM-L6-v2-int8-")
    before = path.stat().st_mtime_ns

    def no_build(model_dir: Path, target: Path) -> None:
        raise AssertionError("the cached model was rebuilt")

    monkeypatch.setattr(onnx_embedder, "_build", no_build)
    again = OnnxEmbedder(packaged_model_path(), cache_dir)
    np.testing.assert_allclose(again.embed(SENTENCES), onnx.embed(SENTENCES), atol=1e-6)
    assert path.stat().st_mtime_ns == before


def test_cache_name_changes_with_build_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changing a quantization setting names a different cache file instead of reusing one."""
    embedder = OnnxEmbedder(packaged_model_path(), tmp_path)
    first = embedder.model_file()
    monkeypatch.setitem(onnx_embedder.BUILD_SETTINGS, "reduce_range", False)
    assert embedder.model_file() != first
