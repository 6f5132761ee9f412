"""JSON Lines: one article an object with id, title, text and optional metadata."""

from __future__ import annotations

import json

from retrieval.ingest.fields import clean_field, paragraphs, parse_date
from retrieval.ingest.skips import SkipReport
from retrieval.types import Article


def parse_jsonl(text: str, source: str) -> tuple[list[Article], SkipReport]:
    """Articles from JSON Lines; a bad line is skipped and reported as ``source:LINE``.

    Each article's source is ``source#id`` (or ``source#LINE`` without an id), so that
    an article keeps its identity when lines move. When two lines come to the same
    source, the later line is indexed and the earlier one reported.
    """
    kept: dict[str, tuple[int, bool, Article]] = {}
    skipped = SkipReport()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        record = _read_line(line)
        if isinstance(record, str):
            skipped.add(where, record)
            continue
        body = paragraphs(_field(record, "text") or "")
        if not body:
            skipped.add(where, "no text")
            continue
        given = clean_field(_field(record, "id"))
        key = given or str(number)
        article = Article(
            source=f"{source}#{key}",
            title=clean_field(_field(record, "title")) or key,
            text=body,
            publisher=clean_field(_field(record, "publisher")),
            author=clean_field(_field(record, "author")),
            url=clean_field(_field(record, "url")),
            published_at=parse_date(_field(record, "published_at"), where),
            summary_only=record.get("summary_only") is True,
        )
        if key in kept:
            earlier, earlier_given, _ = kept.pop(key)
            numbered = "" if earlier_given and given else " (a line without id goes by its number)"
            skipped.add(
                f"{source}:{earlier}",
                f"id {key} repeated on line {number}{numbered}; the later line is indexed",
            )
        kept[key] = (number, given is not None, article)
    return [article for _, _, article in kept.values()], skipped


def _read_line(line: str) -> dict[str, object] | str:
    """The line's JSON object, or why it is not one."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return f"invalid JSON ({error.msg})"
    except ValueError:  # Python reads no integer of more than 4,300 digits
        return "invalid JSON (a number too long)"
    except RecursionError:
        return "invalid JSON (nested too deep)"
    return record if isinstance(record, dict) else "not a JSON object"


def _field(record: dict[str, object], name: str) -> str | None:
    """A field's text: a string or number; a list or an object there is not text (its
    Python repr would be indexed as if it were)."""
    value = record.get(name)
    return str(value) if isinstance(value, str | int | float) else None
