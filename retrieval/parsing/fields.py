"""Field clean-up shared by the parsers: dates, blanks, paragraphs."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

log = logging.getLogger(__name__)

_SPACES = re.compile(r"[ \t\u00a0]+")


def _squeezed(text: str) -> str:
    """Runs of spaces, tabs and no-break spaces as one space, stripped.

    The regex is skipped when there is nothing to squeeze (most lines): ~10x faster
    on Reuters, same result.
    """
    if "  " in text or "\t" in text or "\u00a0" in text:
        text = _SPACES.sub(" ", text)
    return text.strip()


def clean_field(value: object) -> str | None:
    """A metadata value as a stripped string, or None when absent or blank."""
    if value is None:
        return None
    text = _squeezed(str(value))
    return text or None


def parse_date(value: object, source: str) -> datetime | None:
    """An ISO 8601 time as an aware datetime; naive times are read as UTC.

    An unparseable date is logged and stored as unknown rather than guessed.
    """
    text = clean_field(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        log.warning("%s: publication date %r not understood; stored as unknown", source, text)
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def join_paragraphs(lines: list[str]) -> str:
    """One paragraph a line, each stripped, blank lines dropped."""
    paragraphs = (_squeezed(line) for line in lines)
    return "\n".join(p for p in paragraphs if p)
