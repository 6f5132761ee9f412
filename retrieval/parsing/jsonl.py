"""JSON Lines: one article an object with id, title, text and optional metadata."""

from __future__ import annotations

import json

from retrieval.parsing.fields import clean_field, join_paragraphs, parse_date
from retrieval.types import Article, SkippedFile


def parse_jsonl(text: str, source: str) -> tuple[list[Article], list[SkippedFile]]:
    """Articles from JSON Lines; a bad line is skipped and reported as ``source:LINE``.

    Each article's source is ``source#id`` (or ``source#LINE`` without an id), so that
    an article keeps its identity when lines move.
    """
    articles: list[Article] = []
    skipped: list[SkippedFile] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            skipped.append(SkippedFile(where, f"invalid JSON ({error.msg})"))
            continue
        if not isinstance(record, dict):
            skipped.append(SkippedFile(where, "not a JSON object"))
            continue
        body = join_paragraphs(str(record.get("text") or "").split("\n"))
        if not body:
            skipped.append(SkippedFile(where, "no text"))
            continue
        key = clean_field(record.get("id")) or str(number)
        articles.append(
            Article(
                source=f"{source}#{key}",
                title=clean_field(record.get("title")) or key,
                text=body,
                publisher=clean_field(record.get("publisher")),
                author=clean_field(record.get("author")),
                url=clean_field(record.get("url")),
                published_at=parse_date(record.get("published_at"), where),
            )
        )
    return articles, skipped
