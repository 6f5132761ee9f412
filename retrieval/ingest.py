"""Saving uploaded article files into the collection under safe names."""

from __future__ import annotations

import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.errors import ArticleError
from retrieval.parsing import parse_file
from retrieval.types import IndexSummary, SkippedFile

UPLOAD_FOLDER = "uploads"


@dataclass
class IngestReport:
    """What happened to uploaded files: saved (by their new names), rejected, then indexed."""

    saved: list[str] = field(default_factory=list)
    rejected: list[SkippedFile] = field(default_factory=list)
    summary: IndexSummary | None = None


def safe_filename(name: str) -> str:
    """A plain file name: no folders, no dots in front, only letters, digits, ``-_.``."""
    base = unicodedata.normalize("NFKD", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = base.encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip("._-")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem[:80] or "article"
    return f"{stem}.{suffix.lower()}" if suffix else stem


def save_uploads(
    files: list[tuple[str, bytes]],
    collection: Path,
    *,
    max_bytes: int,
    extensions: list[str],
) -> IngestReport:
    """Check each upload (type, size, that it parses) and save the good ones.

    Files go to ``<collection>/uploads/`` under safe names, never replacing an existing
    file. A file that would be skipped by the indexer is rejected here with the reason.
    """
    report = IngestReport()
    folder = (collection if collection.is_dir() else collection.parent) / UPLOAD_FOLDER
    for original, data in files:
        name = safe_filename(original)
        suffix = Path(name).suffix.lower()
        if suffix not in extensions:
            allowed = ", ".join(extensions)
            report.rejected.append(
                SkippedFile(original, f"type {suffix or '(none)'} not allowed ({allowed})")
            )
            continue
        if len(data) > max_bytes:
            report.rejected.append(SkippedFile(original, f"larger than {max_bytes} bytes"))
            continue
        problem = _parse_problem(name, data)
        if problem:
            report.rejected.append(SkippedFile(original, problem))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = _unused(folder / name)
        target.write_bytes(data)
        report.saved.append(target.relative_to(folder.parent).as_posix())
    return report


def _parse_problem(name: str, data: bytes) -> str | None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / name
        path.write_bytes(data)
        try:
            articles, skipped = parse_file(path, name)
        except ArticleError as error:
            return error.reason
    if not articles:
        return skipped[0].reason if skipped else "no articles in the file"
    return None


def _unused(path: Path) -> Path:
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate
