"""Plain-text and JSON shapes of answers and summaries, shared by the CLI and the bot."""

from __future__ import annotations

from typing import Any

from retrieval.types import SKIPPED_LISTED, Answer, Citation, IndexSummary


def citation_line(citation: Citation) -> str:
    """'Title — publisher, author, 2 Nov 2019 <url>', leaving out what is unknown."""
    details = [
        part for part in (citation.publisher, citation.author, citation.published_day) if part
    ]
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
