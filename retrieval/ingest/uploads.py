"""Saving uploaded article files into the collection under safe names."""

from __future__ import annotations

import tempfile
import unicodedata
from itertools import groupby
from pathlib import Path

from retrieval.errors import ArticleError
from retrieval.ingest.collection import parse_file
from retrieval.types import IngestReport, SkippedFile

UPLOAD_FOLDER = "uploads"
STEM_MAX = 100
SUFFIX_MAX = 16
NAME_MAX_BYTES = 200
"""File systems allow 255 bytes a name; room is left for the "-2" of a repeated name."""
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"{port}{n}" for port in ("COM", "LPT") for n in range(1, 10))}
)


def safe_filename(name: str) -> str:
    """A plain file name: no folders, no dots in front, only letters (with their marks)
    and digits of any script and ``-_.``; any other run of characters becomes ``_``.

    NFKC folds look-alike forms (full-width letters, ligatures) so the suffix checked is
    the real one. The stem is cut to ``STEM_MAX`` characters, the suffix to ``SUFFIX_MAX``
    and the whole to ``NAME_MAX_BYTES`` in UTF-8; Windows device names get a ``_``.
    """
    base = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    runs = groupby(base, key=lambda char: char in "._-" or unicodedata.category(char)[0] in "LNM")
    base = "".join("".join(chars) if kept else "_" for kept, chars in runs)
    base = base.lstrip("._-").rstrip(".")  # "a.TXT." would keep an upper-case suffix
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = suffix[:SUFFIX_MAX].lower()
    stem = stem[:STEM_MAX] or "article"
    device, inner_dot, rest = stem.partition(".")
    if device.upper() in _WINDOWS_DEVICES:
        stem = f"{device}_{inner_dot}{rest}"
    room = NAME_MAX_BYTES - len(suffix.encode()) - 1
    stem = stem.encode()[:room].decode(errors="ignore")
    return f"{stem}.{suffix}" if suffix else stem


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
        return skipped.listed[0].reason if skipped.listed else "no articles in the file"
    return None


def _unused(path: Path) -> Path:
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate
