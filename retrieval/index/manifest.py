"""What an index version holds: its files, and the manifest that says how it was built.

A version whose manifest names another model, dimension or layout format is refused
with the command that rebuilds it, rather than read wrongly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from retrieval.errors import IndexMismatchError
from retrieval.index.datafolder import MANIFEST_FILE
from retrieval.models.embedder import Embedder

STORE_FILE = "store.sqlite"
VECTORS_FILE = "vectors.faiss"
LEXICAL_FOLDER = "lexical"

FORMAT = 3
"""The layout of a generation: 2 added the sentence keys that find boilerplate, 3 the
articles' summary_only flag. An index of another format is refused with the command that
rebuilds it."""


@dataclass(frozen=True)
class Manifest:
    """What a generation was built with; an index built otherwise is refused or rebuilt."""

    model_id: str
    dimension: int
    passage_tokens: int
    index_kind: str
    built_at: datetime
    format: int = FORMAT

    @classmethod
    def read(cls, generation: Path) -> Manifest:
        data = json.loads((generation / MANIFEST_FILE).read_text(encoding="utf-8"))
        data["built_at"] = datetime.fromisoformat(data["built_at"])
        data.setdefault("format", 1)  # citebot before the format was recorded
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

    def write(self, generation: Path) -> None:
        data = {**self.__dict__, "built_at": self.built_at.isoformat()}
        (generation / MANIFEST_FILE).write_text(json.dumps(data, indent=2), encoding="utf-8")


def check_compatible(manifest: Manifest, embedder: Embedder) -> None:
    """Raise IndexMismatchError when the index was built with another model or dimension,
    or by a citebot that laid it out otherwise."""
    if manifest.format != FORMAT:
        raise IndexMismatchError(
            f"the index was built by another version of citebot (format {manifest.format}, "
            f"this one reads format {FORMAT}); rebuild it with: citebot index --rebuild"
        )
    if manifest.model_id != embedder.model_id or manifest.dimension != embedder.dimension:
        raise IndexMismatchError(
            f"the index was built with {manifest.model_id} ({manifest.dimension} dimensions) "
            f"but the settings use {embedder.model_id} ({embedder.dimension} dimensions); "
            "rebuild it with: citebot index --rebuild"
        )
