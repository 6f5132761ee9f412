"""HTML pages: main text and metadata extracted with trafilatura."""

from __future__ import annotations

import logging

import trafilatura

from retrieval.errors import ArticleError
from retrieval.ingest.fields import clean_field, paragraphs, parse_date
from retrieval.types import Article


class _AtDebug(logging.Filter):
    """Passes a record on at DEBUG level, and only where DEBUG is on for its logger.

    trafilatura logs ERROR lines for a page with no text ("empty HTML tree"); the skip
    report already says so, and at the CLI's level they would be noise. The logger let
    the record through at ERROR, so relabelling alone would still print it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def _log_library_at_debug(package: str) -> None:
    """Filters sit on the logger that emits, not its parents: one on each of the package's."""
    at_debug = _AtDebug()
    for name in list(logging.root.manager.loggerDict):
        if name == package or name.startswith(f"{package}."):
            logging.getLogger(name).addFilter(at_debug)


_log_library_at_debug("trafilatura")


def parse_html(html: str, source: str) -> Article:
    """The page's main text (boilerplate removed) with title, author, date, site and URL.

    Raises:
        ArticleError: no main text could be found.
    """
    document = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, include_tables=False, favor_precision=True
    )
    fields = (
        {} if document is None else document if isinstance(document, dict) else document.as_dict()
    )
    body = paragraphs(str(fields.get("text") or ""))
    if not body:
        raise ArticleError(source, "no article text found in the HTML")
    return Article(
        source=source,
        title=clean_field(fields.get("title")) or source.rsplit("/", 1)[-1],
        text=body,
        publisher=clean_field(fields.get("sitename")),
        author=clean_field(fields.get("author")),
        url=clean_field(fields.get("url")),
        published_at=parse_date(fields.get("date"), source),
    )
