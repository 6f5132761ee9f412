"""all-MiniLM-L6-v2 as an int8 ONNX Runtime model: the fast CPU encoder.

The first use exports the packaged transformers model to ONNX, quantizes its weights
to int8 and caches the result in ``cache_dir``; later runs load the cached file.

Quantization settings (mean cosine to the fp32 sentence-transformers vectors on
2,000 Reuters paragraphs; see ``bench/bench_encoder.py``):

* signed int8 weights (``QInt8``), **per channel**: per-tensor weights lose too much
  (0.957, or 0.854 with reduce_range); unsigned weights are no more accurate but run
  the slower u8u8 kernels (about 0.6x the speed);
* ``reduce_range=True`` (7-bit weights): CPUs without VNNI accumulate u8×s8 products in
  saturating 16-bit lanes, which full-range weights can overflow. It costs about 0.001
  of cosine on a VNNI CPU and keeps the cached file accurate on any x86 CPU;
* only ``MatMul`` weights are quantized (the embedding tables stay fp32), and the first
  layer's feed-forward output projection stays fp32: its input, the GELU output, has
  outliers that a per-tensor uint8 activation scale resolves poorly. Quantizing every
  weight gives 0.9907; these two exceptions give 0.9932 for about 7 % of the speed.

Activations are quantized with one scale per batch, so a text's vector shifts
slightly with its batch-mates (cosine >= 0.98 to the same text embedded alone).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.models import onnx_build
from retrieval.models.embedder import ModelShape, ProgressCallback

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

EXCLUDED_MATMUL = "/model/encoder/layer.0/output/dense/MatMul"
"""The one weight matrix left in fp32 (see the module docstring)."""

BUILD_SETTINGS: dict[str, Any] = {**onnx_build.INT8_BUILD, "exclude": [EXCLUDED_MATMUL]}
"""Everything that shapes the cached file besides the weights; part of its name."""

SMALL_CALL = 4
"""Calls with at most this many texts (questions) run on the single-thread session."""

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OnnxEmbedder(ModelShape):
    """int8 ONNX Runtime encoder, interchangeable with :class:`SentenceTransformerEmbedder`.

    ``model_id`` is the same as the fp32 embedder's, so an index built by one is
    served by the other without a rebuild. That is sound because the vectors agree
    to a mean cosine similarity of at least 0.99 with the fp32 ones (0.993 on Reuters
    paragraphs, 0.994 on SQuAD paragraphs, 0.995 on SQuAD questions; the bound is
    tested in ``tests/retrieval/test_onnx_embedder.py``): ranking with either is, for
    retrieval purposes, the same model.

    Texts are sorted by token length and batched with their neighbours, so a batch
    is padded only to its own longest text; results come back in input order. The
    model is built or loaded on first use; ``embed`` is safe to call from several
    threads (ONNX Runtime sessions run concurrently; initialization is locked).
    """

    def __init__(
        self,
        model_dir: Path,
        cache_dir: Path,
        *,
        batch_size: int = 64,
        threads: int | None = None,
    ) -> None:
        super().__init__(model_dir)
        self._cache_dir = cache_dir
        self._batch_size = batch_size
        self._threads = threads or os.cpu_count() or 1
        self._tokenizer = _inference_tokenizer(model_dir, self._max_tokens)
        self._sessions: dict[int, onnxruntime.InferenceSession] = {}
        self._input_names: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def model_file(self) -> Path:
        """Where the quantized model for these weights and settings is cached."""
        digest = onnx_build.digest_files(
            [_weights_file(self._model_dir), self._model_dir / "config.json"],
            json.dumps(BUILD_SETTINGS, sort_keys=True).encode(),
        )
        return self._cache_dir / f"{self.model_id}-int8-{digest}.onnx"

    def _loaded(self, threads: int) -> onnxruntime.InferenceSession:
        """The session running on ``threads`` threads (built on first use).

        A few short questions run faster on one thread without spinning (no fork/join,
        no core stolen from the other work); indexing batches use every core.
        """
        with self._lock:
            if threads not in self._sessions:
                path = self.model_file()
                if not path.exists():
                    _build(self._model_dir, path)
                session = onnx_build.open_session(path, threads)
                self._input_names = frozenset(i.name for i in session.get_inputs())
                self._sessions[threads] = session
            return self._sessions[threads]

    def embed(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        if not texts:
            return out
        session = self._loaded(1 if len(texts) <= SMALL_CALL else self._threads)
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(texts), self._batch_size):
            rows = order[start : start + self._batch_size]
            # Padding ids are never seen: the attention mask hides them from the model
            # and from the pooling.
            ids = np.zeros((len(rows), int(lengths[rows].max())), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, index in enumerate(rows):
                tokens = encodings[index].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            (hidden,) = session.run(
                ["last_hidden_state"], {k: v for k, v in feed.items() if k in self._input_names}
            )
            out[rows] = _mean_pool_normalized(hidden, mask)
            if progress is not None:
                progress(len(rows))
        return out


def _inference_tokenizer(model_dir: Path, max_tokens: int) -> Tokenizer:
    """The fast tokenizer, truncating at ``max_tokens`` as a guard; padding is done per batch."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    return tokenizer


def _mean_pool_normalized(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling over real tokens, then L2 normalization."""
    weights = mask.astype(np.float32)
    summed = np.einsum("bld,bl->bd", hidden, weights)
    pooled = summed / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _weights_file(model_dir: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).exists():
            return model_dir / name
    raise FileNotFoundError(f"{model_dir}: no model.safetensors or pytorch_model.bin")


def _build(model_dir: Path, target: Path) -> None:
    """Export, quantize, and move the result into place atomically."""
    log.info("building the int8 ONNX encoder %s (once; takes a few seconds)", target.name)

    def build(fp32: Path, int8: Path) -> None:
        _export(model_dir, fp32)
        onnx_build.quantize(fp32, int8, BUILD_SETTINGS)

    onnx_build.build_once(target, build)


def _export(model_dir: Path, target: Path) -> None:
    """The transformers model to ONNX, dynamic in batch and sequence, returning token vectors."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    # Eager attention exports as plain MatMul/Softmax, which quantizes and optimizes
    # predictably; the SDPA path adds NaN guards that ONNX Runtime cannot fuse.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.eval()

    class TokenVectors(torch.nn.Module):
        """Keyword call and a single tensor output, which the TorchScript exporter needs."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.model = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            return self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state

    onnx_build.export(
        TokenVectors(model),
        target,
        list(_INPUTS),
        {"last_hidden_state": onnx_build.BATCH_BY_SEQUENCE},
    )
