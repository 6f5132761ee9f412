"""Plain-text and JSON shapes of answers and summaries, shared by the CLI and the bot."""

from __future__ import annotations

from typing import Any

from retrieval.feeds.refresh import RefreshReport, shown_url
from retrieval.feeds.registry import FeedRecord
from retrieval.types import SKIPPED_LISTED, Answer, Citation, IndexSummary


def citation_line(citation: Citation) -> str:
    """'Title — publisher, author, 2 Nov 2019 <url>', leaving out what is unknown."""
    details = citation.details
    line = citation.title
    if details:
        line += " — " + ", ".join(details)
    if citation.url:
        line += f" <{citation.url}>"
    return line


def citation_to_json(citation: Citation) -> dict[str, Any]:
    return {
        "title": citation.title,
        "publisher": citation.publisher,
        "author": citation.author,
        "published_at": citation.published_at.isoformat() if citation.published_at else None,
        "url": citation.url,
        "summary_only": citation.summary_only,
    }


def answer_to_json(answer: Answer) -> dict[str, Any]:
    """The ``citebot ask --json`` object."""
    sentence = answer.sentence
    return {
        "question": answer.question,
        "found": answer.found,
        "confidence": round(answer.confidence, 4),
        "evidence": None
        if answer.evidence is None
        else {
            "reader": None if answer.evidence.reader is None else round(answer.evidence.reader, 4),
            "retrieval": round(answer.evidence.retrieval, 4),
        },
        "answer": None
        if sentence is None
        else {
            "sentence": sentence.text,
            "highlight": sentence.highlighted_text,
            "highlight_confidence": None
            if sentence.highlight_confidence is None
            else round(sentence.highlight_confidence, 4),
            "passage": sentence.passage_index + 1,
        },
        "conflicts": [
            {
                "figure": report.figure,
                "passage": report.passage_index + 1,
                "citation": citation_to_json(report.citation),
            }
            for report in answer.conflicts
        ],
        "passages": [
            {
                "rank": rank,
                "text": passage.text,
                "score": round(passage.score, 6),
                "article_id": passage.article_id,
                "citation": citation_to_json(passage.citation),
            }
            for rank, passage in enumerate(answer.passages, start=1)
        ],
    }


def summary_lines(summary: IndexSummary) -> list[str]:
    """The end-of-index summary, a line each: at most ``SKIPPED_LISTED`` skipped inputs
    named, then how many more there are."""
    lines = [
        f"new {summary.new}, updated {summary.updated}, unchanged {summary.unchanged}, "
        f"removed {summary.removed}, skipped {summary.skipped_total}",
        f"passages {summary.passages}, {summary.seconds:.1f} s",
    ]
    listed = summary.skipped[:SKIPPED_LISTED]
    lines += [f"skipped {item.source}: {item.reason}" for item in listed]
    if summary.skipped_total > len(listed):
        lines.append(f"… and {summary.skipped_total - len(listed):,} more")
    return lines


def refresh_lines(report: RefreshReport) -> list[str]:
    """A feed refresh, a line each: counts, the stories added and updated, the failures
    (by feed and URL; at most ``SKIPPED_LISTED``, then how many more)."""
    lines = [
        f"added {len(report.added)}, updated {len(report.updated)}, "
        f"failed {len(report.failed)}, kept once {report.duplicates}, "
        f"unchanged feeds {report.unchanged}, kept as feed summaries {report.summaries}"
    ]
    lines += [f"added: {title}" for title in report.added[:SKIPPED_LISTED]]
    lines += [f"updated: {title}" for title in report.updated[:SKIPPED_LISTED]]
    listed = report.failed[:SKIPPED_LISTED]
    lines += [
        f"failed {shown_url(failure.url)}"
        + ("" if failure.url == failure.feed else f" (feed {shown_url(failure.feed)})")
        + f": {failure.reason}"
        for failure in listed
    ]
    if len(report.failed) > len(listed):
        lines.append(f"… and {len(report.failed) - len(listed):,} more failures")
    return lines


def feed_lines(feeds: list[FeedRecord]) -> list[str]:
    """The followed feeds, a line each: URL, title, stories kept, and the last poll."""
    if not feeds:
        return ["no feeds followed"]
    lines = []
    for feed in feeds:
        polled = feed.polled_at.strftime("%Y-%m-%d %H:%M UTC") if feed.polled_at else "never"
        state = f"failed: {feed.error}" if feed.error else "ok"
        title = f" ({feed.title})" if feed.title else ""
        lines.append(
            f"{shown_url(feed.url)}{title}: {feed.items} stories, polled {polled}, {state}"
        )
    return lines
