"""Choosing the encoder named by the ``encoder`` setting."""

from __future__ import annotations

from pathlib import Path

from retrieval.models.embedder import Embedder
from retrieval.models.fp32_embedder import SentenceTransformerEmbedder
from retrieval.models.onnx_embedder import OnnxEmbedder
from retrieval.types import EncoderKind


def make_embedder(kind: EncoderKind, model_dir: Path, cache_dir: Path) -> Embedder:
    """The embedder for an ``encoder`` setting.

    Args:
        kind: ``"onnx-int8"`` (int8 ONNX Runtime, the fast default) or
            ``"sentence-transformers"`` (the plain fp32 model). Both give the same
            ``model_id``, so switching does not force a reindex.
        model_dir: the sentence-transformers model directory.
        cache_dir: where the int8 encoder caches its quantized model file.
    """
    if kind == "onnx-int8":
        return OnnxEmbedder(model_dir, cache_dir)
    return SentenceTransformerEmbedder(model_dir)
