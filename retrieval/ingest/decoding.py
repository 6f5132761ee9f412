"""Read article bytes as text whatever their encoding, or say why not."""

from __future__ import annotations

from pathlib import Path

from charset_normalizer import from_bytes

from retrieval.errors import ArticleError
from retrieval.ingest.fields import normalize_text

MAX_FILE_BYTES = 50 * 1024 * 1024


def read_text(path: Path, source: str) -> str:
    """The file's text: UTF-8 (with or without BOM) or the encoding detected from its bytes.

    Line endings become ``\\n`` and the text is NFC-normalized so offsets are stable.

    Raises:
        ArticleError: unreadable, empty, binary, or in no recognisable encoding.
    """
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ArticleError(source, f"file too large ({size} bytes)")
        data = path.read_bytes()
    except OSError as error:
        raise ArticleError(source, f"cannot read file: {error.strerror or error}") from error
    return decode_bytes(data, source)


def decode_bytes(data: bytes, source: str) -> str:
    """Decode article bytes; see :func:`read_text`."""
    if not data.strip():
        raise ArticleError(source, "empty file")
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ArticleError(source, "binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = _decode_legacy(data, source)
    return normalize_text(text)


def _decode_legacy(data: bytes, source: str) -> str:
    """Detect a legacy encoding; among equally good guesses prefer Windows-1252.

    Short Western European texts decode cleanly as several code pages; cp1252 is by far
    the most common of them in news archives, so it wins ties.
    """
    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise ArticleError(source, "text encoding not recognised")
    for match in matches:
        tied = match.chaos <= best.chaos and match.coherence >= best.coherence
        if tied and match.encoding == "cp1252":
            return str(match)
    return str(best)
