"""Choosing the encoder named by the ``encoder`` setting."""

from __future__ import annotations

import logging
from pathlib import Path

from retrieval.embedding import Embedder, SentenceTransformerEmbedder
from retrieval.errors import SettingsError
from retrieval.onnx_embedder import OnnxEmbedder

log = logging.getLogger(__name__)

ENCODERS = ("onnx-int8", "sentence-transformers")
"""Known values of the ``encoder`` setting; the first is the default."""

DEFAULT_ENCODER = ENCODERS[0]


def make_embedder(kind: str, model_dir: Path, cache_dir: Path) -> Embedder:
    """The embedder for an ``encoder`` setting.

    Args:
        kind: ``"onnx-int8"`` (int8 ONNX Runtime, the fast default) or
            ``"sentence-transformers"`` (the plain fp32 model). Both give the same
            ``model_id``, so switching does not force a reindex.
        model_dir: the sentence-transformers model directory.
        cache_dir: where the int8 encoder caches its quantized model file.

    Raises:
        SettingsError: ``kind`` is not one of :data:`ENCODERS`.
    """
    log.debug("encoder %s for %s", kind, model_dir)
    if kind == "onnx-int8":
        return OnnxEmbedder(model_dir, cache_dir)
    if kind == "sentence-transformers":
        return SentenceTransformerEmbedder(model_dir)
    raise SettingsError(f"encoder: unknown encoder {kind!r}; expected one of {', '.join(ENCODERS)}")
