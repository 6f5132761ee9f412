"""Turn article files into :class:`~retrieval.types.Article` objects.

Formats: the seed Markdown format (``# Title`` / ``Published at:`` / ``Author:`` /
``Original:``), JSON Lines (one article an object), plain ``.txt``/``.md`` and
``.html``. A file that cannot be read or parsed raises :class:`ArticleError`;
:func:`read_collection` reports it and goes on with the rest. What is skipped is kept in
a :class:`SkipReport`: a few named, all counted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.errors import ArticleError
from retrieval.ingest.decoding import read_text
from retrieval.ingest.html import parse_html
from retrieval.ingest.jsonl import parse_jsonl
from retrieval.ingest.markdown import looks_like_seed_format, parse_plain, parse_seed_format
from retrieval.ingest.skips import SkipReport
from retrieval.types import Article

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".jsonl", ".html", ".htm"})


@dataclass
class Collection:
    """Everything read from a collection folder: articles (each source once), and what was
    skipped with reasons."""

    articles: list[Article] = field(default_factory=list)
    skipped: SkipReport = field(default_factory=SkipReport)
    failed_files: set[str] = field(default_factory=set)
    """Sources of files that could not be parsed at all (their old articles are kept)."""


def parse_file(path: Path, source: str) -> tuple[list[Article], SkipReport]:
    """Parse one file; ``source`` is its stable name (the path relative to the collection).

    Raises:
        ArticleError: the whole file cannot be read or parsed, a parser's own failure
            included (its traceback is logged at debug level).
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ArticleError(source, f"unsupported file type {suffix or '(none)'}")
    try:
        return parse_text(read_text(path, source), source, suffix, fallback_title=path.stem)
    except ArticleError:
        raise
    except Exception as error:
        log.debug("parsing %s failed", source, exc_info=True)
        raise ArticleError(source, f"could not be parsed ({type(error).__name__})") from error


def parse_text(
    text: str, source: str, suffix: str, *, fallback_title: str
) -> tuple[list[Article], SkipReport]:
    """Parse decoded text (see :func:`read_text`) in the format its file suffix names.

    Raises:
        ArticleError: the text holds no article.
    """
    if suffix == ".jsonl":
        return parse_jsonl(text, source)
    if suffix in {".html", ".htm"}:
        return [parse_html(text, source)], SkipReport()
    if looks_like_seed_format(text):
        return [parse_seed_format(text, source)], SkipReport()
    return [parse_plain(text, source, fallback_title=fallback_title)], SkipReport()


def iter_files(root: Path) -> Iterator[Path]:
    """Article files under ``root`` (or ``root`` itself), in a stable order; hidden ones skipped."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file():
            yield path


def source_name(path: Path, root: Path) -> str:
    """The stable name of a file inside a collection: its POSIX path relative to ``root``."""
    if root.is_file():
        return path.name
    return path.relative_to(root).as_posix()


def read_collection(root: Path) -> Collection:
    """Parse every article file under ``root``; bad files are reported, never fatal.

    Two files can give articles the same source (``a.jsonl`` with id ``b.txt``, and a file
    ``a.jsonl#b.txt``); the later file's is kept and the earlier one reported.

    Raises:
        ArticleError: ``root`` itself does not exist.
    """
    if not root.exists():
        raise ArticleError(str(root), "no such file or folder")
    collection = Collection()
    found: dict[str, tuple[str, Article]] = {}
    for path in iter_files(root):
        source = source_name(path, root)
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            log.debug("ignoring %s: not an article file type", source)
            continue
        readable = source.encode(errors="surrogateescape").decode(errors="replace")
        if readable != source:  # the store, the CLI and Discord all need UTF-8 names
            collection.skipped.add(readable, "the file name is not UTF-8; rename the file")
            continue
        try:
            articles, skipped = parse_file(path, source)
        except ArticleError as error:
            log.warning("skipped %s", error)
            collection.skipped.add(error.path, error.reason)
            collection.failed_files.add(source)
            continue
        collection.skipped.extend(skipped)
        for article in articles:
            if article.source in found:
                earlier, _ = found.pop(article.source)
                collection.skipped.add(
                    article.source, f"in {earlier} and again in {source}; the later is indexed"
                )
            found[article.source] = (source, article)
    collection.articles = [article for _, article in found.values()]
    return collection
