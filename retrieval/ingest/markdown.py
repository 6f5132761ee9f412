"""The seed article format, and plain text / Markdown files."""

from __future__ import annotations

import re

from retrieval.errors import ArticleError
from retrieval.ingest.fields import clean_field, join_paragraphs, parse_date
from retrieval.types import Article

_TITLE = re.compile(r"^#\s+(?P<title>.+?)\s*#*\s*$")
_HEADER = re.compile(r"^(?P<key>Published at|Author|Original)\s*:\s*(?P<value>.*)$", re.IGNORECASE)
_BOLD = re.compile(r"^\*\*(?P<inner>.*)\*\*$")
_LINK = re.compile(r"^\[(?P<label>[^\]]*)\]\((?P<url>[^)\s]*)\)$")


def looks_like_seed_format(text: str) -> bool:
    """True when the text opens with a ``# Title`` and has at least one seed header line."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines or not _TITLE.match(lines[0].strip()):
        return False
    return any(_HEADER.match(line.strip()) for line in lines[1:6])


def parse_seed_format(text: str, source: str) -> Article:
    """Parse the seed format: title, header lines, an indented standfirst, one paragraph a line.

    Raises:
        ArticleError: there is no body text.
    """
    lines = text.split("\n")
    first = next(i for i, line in enumerate(lines) if line.strip())
    title_match = _TITLE.match(lines[first].strip())
    assert title_match is not None  # guaranteed by looks_like_seed_format
    fields: dict[str, str | None] = {}
    body_start = len(lines)
    for index in range(first + 1, len(lines)):
        stripped = lines[index].strip()
        if not stripped:
            continue
        header = _HEADER.match(stripped)
        if header is None:
            body_start = index
            break
        fields[header.group("key").lower()] = _unbold(header.group("value"))
    publisher, url = _parse_original(fields.get("original"))
    body = join_paragraphs(lines[body_start:])
    if not body:
        raise ArticleError(source, "no article text after the header")
    return Article(
        source=source,
        title=title_match.group("title"),
        text=body,
        publisher=publisher,
        author=clean_field(fields.get("author")),
        url=url,
        published_at=parse_date(fields.get("published at"), source),
    )


def parse_plain(text: str, source: str, *, fallback_title: str) -> Article:
    """Plain text or Markdown: a ``# Title`` first line (or a short first line) is the title.

    Raises:
        ArticleError: there is no text.
    """
    lines = [line for line in text.split("\n")]
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ArticleError(source, "empty file")
    head = lines[first].strip()
    title_match = _TITLE.match(head)
    if title_match:
        title, rest = title_match.group("title"), lines[first + 1 :]
    elif len(head) <= 120 and len(lines) > first + 1 and not head.endswith("."):
        title, rest = head, lines[first + 1 :]
    else:
        title, rest = fallback_title, lines[first:]
    body = join_paragraphs(rest)
    if not body:
        raise ArticleError(source, "no article text after the title")
    return Article(source=source, title=title, text=body)


def _unbold(value: str) -> str | None:
    stripped = value.strip()
    match = _BOLD.match(stripped)
    return clean_field(match.group("inner") if match else stripped)


def _parse_original(value: str | None) -> tuple[str | None, str | None]:
    """``[publisher](url)`` → (publisher, url); a bare URL gives no publisher."""
    if not value:
        return None, None
    match = _LINK.match(value)
    if match:
        return clean_field(match.group("label")), clean_field(match.group("url"))
    if value.startswith(("http://", "https://")):
        return None, value
    return clean_field(value), None
