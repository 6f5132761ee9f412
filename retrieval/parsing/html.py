"""HTML pages: main text and metadata extracted with trafilatura."""

from __future__ import annotations

import trafilatura

from retrieval.errors import ArticleError
from retrieval.parsing.fields import clean_field, join_paragraphs, parse_date
from retrieval.types import Article


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
    body = join_paragraphs(str(fields.get("text") or "").split("\n"))
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
