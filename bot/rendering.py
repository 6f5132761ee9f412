"""Pure rendering: engine results in, Discord embeds and plain text out.

Nothing here talks to Discord. Every function returns something that fits Discord's
documented limits, whatever the articles contain: quoted text is escaped (Markdown and
mentions) and cut at a sentence or word boundary with an ellipsis.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import discord

from retrieval.errors import CitebotError, EngineBusyError, IndexBusyError, NotIndexedError
from retrieval.feeds.refresh import RefreshReport, shown_url
from retrieval.feeds.registry import FeedRecord
from retrieval.types import (
    SKIPPED_LISTED,
    Answer,
    AnswerSentence,
    Citation,
    IndexStats,
    IndexSummary,
    IngestReport,
    SkippedFile,
)

# Discord's limits that the renderers below have to respect (the others are never near).
CONTENT_MAX = 2000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_VALUE_MAX = 1024
EMBED_TOTAL_MAX = 6000
BUTTON_LABEL_MAX = 80
BUTTON_URL_MAX = 512
EMBED_URL_MAX = 2048
"""Longest URL Discord takes in an embed; Markdown links in field text also have to fit 1024."""
LINK_BUTTONS_MAX = 20
"""Link buttons per message: 25 components at most, and three controls share them."""

PAGE_SIZE = 3
SOURCES_ASKED = 10
"""Passages asked of the engine once per question, then shown top_k (3) at a time."""
NO_PINGS = discord.AllowedMentions.none()
ELLIPSIS = "…"
NOT_FOUND = "Not found in the indexed articles"

SENTENCE_SHARE = 1200
"""Characters of the description given to the answer sentence."""

FOUND_COLOUR = discord.Colour.blue()
NOT_FOUND_COLOUR = discord.Colour.light_grey()
CONFLICT_COLOUR = discord.Colour.orange()

_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s")
_SPACE = re.compile(r"\s")
_ANGLE_MENTION = re.compile(r"<([@#])")


def shorten(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else cut with "…" at a boundary.

    Cuts after the last sentence that fits when that keeps at least half the room,
    otherwise at the last word that fits. Only a single word longer than the whole
    room is cut inside the word.
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[: max(0, limit)]
    room = limit - len(ELLIPSIS)
    window = text[: room + 1]  # one more, so a space right after the room counts as a boundary
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(window)]
    if sentence_ends and sentence_ends[-1] >= room // 2:
        kept = text[: sentence_ends[-1]].rstrip()
        return kept + (" " if len(kept) < room else "") + ELLIPSIS
    spaces = [m.start() for m in _SPACE.finditer(window)]
    if spaces and spaces[-1] > 0:
        return _trim_end(text[: spaces[-1]]) + ELLIPSIS
    return text[:room] + ELLIPSIS


def shorten_left(text: str, limit: int) -> str:
    """Like :func:`shorten` but keeps the end of ``text``: "…" then the last words that fit."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[: max(0, limit)]
    room = limit - len(ELLIPSIS)
    window = text[-room - 1 :]
    space = _SPACE.search(window)
    if space is not None and space.end() < len(window):
        return ELLIPSIS + window[space.end() :].lstrip()
    return ELLIPSIS + text[-room:]


def _trim_end(text: str) -> str:
    """Without the spaces and dangling punctuation a cut leaves at the end."""
    return text.rstrip().rstrip(",;:–—-").rstrip()


def escape(text: str) -> str:
    """Quoted text safe to show: no Markdown takes effect and no mention can form."""
    text = discord.utils.escape_markdown(text)
    text = discord.utils.escape_mentions(text)
    # Angle-bracket mentions (<@123>, <@&1>, <#1>) of any length are shown as typed.
    return _ANGLE_MENTION.sub("<\u200b\\1", text)


def fit(text: str, limit: int, cut: Callable[[str, int], str] = shorten) -> str:
    """``text`` escaped, first cut (by ``cut``) so that the escaped form fits in ``limit``."""
    room = limit
    while True:
        if room <= 0:
            return ""
        escaped = escape(cut(text, room))
        if len(escaped) <= limit:
            return escaped
        room -= len(escaped) - limit


def safe_url(url: str | None, limit: int = EMBED_URL_MAX) -> str | None:
    """The http(s) URL percent-encoded, as it is sent, if that fits in ``limit``; else None.

    The length is measured after encoding: a non-ASCII character becomes up to 12 (a
    200-character Cyrillic path is some 1,200), and Discord refuses the whole message
    when one URL is too long.
    """
    if not url or not url.startswith(("http://", "https://")):
        return None
    encoded = quote(url, safe=":/?#[]@!$&'*+,;=%~-._")
    return encoded if len(encoded) <= limit else None


def citation_details(citation: Citation) -> str:
    """'publisher, author, 2 Nov 2019', leaving out what is unknown."""
    return ", ".join(citation.details)


def citation_text(
    number: int, citation: Citation, limit: int = 400, link_limit: int | None = None
) -> str:
    """'[1] [Title](url) — publisher, author, 2 Nov 2019', escaped.

    The text fits in ``limit``, and the link's URL may take it up to ``link_limit``
    (default ``limit``); a URL that does not fit leaves the title unlinked.
    """
    head = f"[{number}] "
    room = limit - len(head)
    details = fit(citation_details(citation), min(200, room // 2 - 3))
    tail = f" — {details}" if details else ""
    title_room = room - len(tail)
    url = safe_url(citation.url)
    if url is not None:
        most = limit if link_limit is None else link_limit
        linked_room = min(title_room, most - len(head) - len(tail) - len(url) - 4)
        if linked_room >= 8:
            return f"{head}[{fit(citation.title, linked_room)}]({url}){tail}"
    return head + fit(citation.title, title_room) + tail


def bold_sentence(sentence: AnswerSentence, limit: int) -> str:
    """The sentence in bold, its answering phrase also underlined, within ``limit``.

    When the sentence is too long, the words nearest the phrase are kept.
    """
    phrase_text = sentence.highlighted_text
    if sentence.highlight is None or not phrase_text or not phrase_text.strip():
        return f"**{fit(sentence.text, limit - 4)}**"
    start, end = sentence.highlight
    before, after = sentence.text[:start], sentence.text[end:]
    phrase = fit(phrase_text, limit // 3)
    room = limit - len(phrase) - 10  # two pairs of ** and __, and two spaces
    after_part = fit(after, max(room // 2, room - len(escape(before))))
    before_part = fit(before, room - len(after_part), cut=shorten_left)
    gap_before = before[-1:].isspace() or phrase_text[:1].isspace()
    gap_after = after[:1].isspace() or phrase_text[-1:].isspace()
    space_before = " " if before_part and gap_before else ""
    space_after = " " if after_part and gap_after else ""
    return f"**{before_part}{space_before}__{phrase}__{space_after}{after_part}**"


@dataclass(frozen=True)
class LinkButton:
    """A link button: label and URL."""

    label: str
    url: str


@dataclass(frozen=True)
class AnswerPage:
    """One page of an answer: the embeds and the buttons to send with them.

    Attributes:
        embeds: what to show (one embed; a list because messages take a list).
        links: a link button per source on this page whose URL fits a button (512
            characters once encoded); a longer one can still be linked in the citation.
        page, pages: which page this is (from 0) and how many there are.
    """

    embeds: list[discord.Embed]
    links: list[LinkButton]
    page: int
    pages: int

    @property
    def more(self) -> bool:
        """Whether there are other pages to turn to."""
        return self.pages > 1


def _page_count(answer: Answer, page_size: int) -> int:
    """How many pages of ``page_size`` sources the answer has (at least one)."""
    return max(1, -(-len(answer.passages) // page_size))


def render_answer(answer: Answer, page: int = 0, page_size: int = PAGE_SIZE) -> AnswerPage:
    """The answer as an embed showing the sources of ``page``.

    The sentence (or "not found"), and any conflicting figures, head every page; the
    quoted passages of the page follow, each marked [n] with its citation.
    """
    pages = _page_count(answer, page_size)
    page %= pages
    first = page * page_size
    shown = list(enumerate(answer.passages))[first : first + page_size][:EMBED_FIELDS_MAX]

    if answer.found:
        title = fit(answer.question, EMBED_TITLE_MAX)
        colour = CONFLICT_COLOUR if answer.conflicts else FOUND_COLOUR
    else:
        title = NOT_FOUND
        colour = NOT_FOUND_COLOUR
    description = _description(answer)
    footer = _footer(answer, first, len(shown), pages)

    fixed = len(title) + len(description) + len(footer)
    names = [_field_name(answer, index) for index, _ in shown]
    fixed += sum(len(name) for name in names)
    per_field = (EMBED_TOTAL_MAX - fixed) // max(1, len(shown))
    field_room = max(1, min(EMBED_FIELD_VALUE_MAX, per_field))

    embed = discord.Embed(title=title, description=description, colour=colour)
    for name, (index, passage) in zip(names, shown, strict=True):
        citation = citation_text(
            index + 1,
            passage.citation,
            limit=min(400, field_room // 2),
            link_limit=field_room * 3 // 4,  # a long link is kept; the quote keeps a quarter
        )
        quote_room = field_room - len(citation) - 3
        quoted = f"“{fit(passage.text, max(1, quote_room))}”" if quote_room > 2 else ""
        embed.add_field(name=name, value=f"{quoted}\n{citation}".strip(), inline=False)
    embed.set_footer(text=footer)

    links = [
        LinkButton(_button_label(index, passage.citation), url)
        for index, passage in shown
        if (url := safe_url(passage.citation.url, BUTTON_URL_MAX)) is not None
    ][:LINK_BUTTONS_MAX]
    return AnswerPage([embed], links, page, pages)


def _description(answer: Answer) -> str:
    """The answer sentence (or the not-found notice) and any disagreement between sources."""
    parts: list[str] = []
    if not answer.found:
        parts.append(
            f"**{NOT_FOUND}.** The passages below are the closest ones; "
            "they do not answer the question."
        )
        parts.append(f"Question: {fit(answer.question, 300)}")
    elif answer.sentence is not None:
        number = answer.sentence.passage_index + 1
        parts.append(f"{bold_sentence(answer.sentence, SENTENCE_SHARE)} [{number}]")
    if answer.conflicts:
        lines = ["**The sources give different figures** (newest first):"]
        for report in answer.conflicts[:10]:
            source = report.citation.publisher or report.citation.title
            when = report.citation.published_day or "date unknown"
            lines.append(
                f"• **{fit(report.figure, 80)}** — {fit(source, 100)}, {when} "
                f"[{report.passage_index + 1}]"
            )
        parts.append("\n".join(lines))
    return shorten_lines("\n\n".join(parts), EMBED_DESCRIPTION_MAX)


def shorten_lines(text: str, limit: int) -> str:
    """Already-escaped text cut at a line end to fit ``limit`` (never inside markup)."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - len(ELLIPSIS))
    return text[: max(cut, 0)].rstrip() + ELLIPSIS


def _field_name(answer: Answer, index: int) -> str:
    label = "Closest source" if not answer.found else "Source"
    return f"[{index + 1}] {label}" + (
        " (the answer)"
        if answer.found and answer.sentence and answer.sentence.passage_index == index
        else ""
    )


def _footer(answer: Answer, first: int, count: int, pages: int) -> str:
    total = len(answer.passages)
    if total == 0:
        return "No sources."
    shown = f"Sources {first + 1}–{first + count} of {total}" if pages > 1 else f"{total} sources"
    return f"{shown} · confidence {answer.confidence:.2f}"


def _button_label(index: int, citation: Citation) -> str:
    name = citation.publisher or citation.title
    return shorten(f"[{index + 1}] {name}", BUTTON_LABEL_MAX)


def more_label(page: AnswerPage) -> str:
    """The paging button's label: where it goes next."""
    return "More sources" if page.page + 1 < page.pages else "Back to the first sources"


def explain(error: CitebotError) -> str:
    """An engine error as a sentence for the person who asked."""
    if isinstance(error, NotIndexedError):
        return "Nothing is indexed yet: an admin can run /reindex."
    if isinstance(error, IndexBusyError):
        return "A reindex is running; try again when it has finished."
    if isinstance(error, EngineBusyError):
        return "I am busy answering many questions right now: try again in a few seconds."
    return limit_content(f"Sorry, that did not work: {fit(str(error), 1500)}")


def render_progress(stage: str, done: int, total: int) -> str:
    """One line of reindex progress."""
    if total <= 0:
        return f"Reindexing… {stage}"
    percent = 100 * done // total
    return f"Reindexing… {stage}: {done}/{total} ({percent}%)"


def render_summary(summary: IndexSummary, title: str = "Reindex finished.") -> str:
    """The end-of-reindex summary: counts, then the first skipped files and why."""
    lines = [
        f"**{title}** New {summary.new}, updated {summary.updated}, "
        f"unchanged {summary.unchanged}, removed {summary.removed}, "
        f"skipped {summary.skipped_total}.",
        f"{summary.passages} passages indexed in {summary.seconds:.1f} s.",
    ]
    lines += _skipped_lines(summary.skipped, summary.skipped_more)
    return limit_content("\n".join(lines))


def render_ingest(report: IngestReport) -> str:
    """What /ingest added and skipped (and why), then the reindex summary."""
    lines: list[str] = []
    if report.saved:
        lines.append("**Added:** " + ", ".join(fit(name, 200) for name in report.saved))
    else:
        lines.append("**Nothing was added.**")
    lines += _skipped_lines(report.rejected)
    if report.summary is not None:
        lines.append(render_summary(report.summary, title="Index updated."))
    return limit_content("\n".join(lines))


def render_refresh(report: RefreshReport, title: str = "Feeds refreshed.") -> str:
    """A feed refresh: counts, the stories added and updated, then the failures by feed
    and URL (the first ``SKIPPED_LISTED`` of each, then how many more)."""
    lines = [
        f"**{title}** Added {len(report.added)}, updated {len(report.updated)}, "
        f"failed {len(report.failed)}."
    ]
    if report.summaries:
        lines.append(f"{report.summaries} kept as their feed's summary (pages unreadable).")
    for label, titles in (("Added", report.added), ("Updated", report.updated)):
        lines += [f"• {label}: {fit(t, 200)}" for t in titles[:SKIPPED_LISTED]]
        if len(titles) > SKIPPED_LISTED:
            lines.append(f"• … and {len(titles) - SKIPPED_LISTED:,} more")
    for failure in report.failed[:SKIPPED_LISTED]:
        where = code_text(shown_url(failure.url), 300)
        if failure.url != failure.feed:
            where += f" (feed {code_text(shown_url(failure.feed), 300)})"
        lines.append(f"• Failed {where}: {fit(failure.reason, 300)}")
    if len(report.failed) > SKIPPED_LISTED:
        lines.append(f"• … and {len(report.failed) - SKIPPED_LISTED:,} more failures")
    return limit_content("\n".join(lines))


def render_quiet_refresh(report_text: str, checked_at: datetime) -> str:
    """A report with a last line saying a later refresh found nothing new (the failures
    it lists, if any, stand); the report is cut to make room for that line."""
    checked = f"Checked again {discord.utils.format_dt(checked_at, 'R')}: nothing new since."
    return f"{shorten_lines(report_text, CONTENT_MAX - len(checked) - 1)}\n{checked}"


def render_feeds(feeds: Sequence[FeedRecord]) -> str:
    """The feeds a server follows, a line each, with the outcome of the last poll."""
    if not feeds:
        return "This server follows no feeds yet: an admin can add one with /feeds add."
    lines = ["**Feeds followed:**"]
    for feed in feeds:
        state = f"failed: {fit(feed.error, 200)}" if feed.error else "ok"
        polled = timestamp(feed.polled_at) if feed.polled_at else "not polled yet"
        title = f" {fit(feed.title, 100)}" if feed.title else ""
        lines.append(
            f"• {code_text(feed.url, 300)}{title}: {feed.items} stories, {polled}, {state}"
        )
    return limit_content("\n".join(lines))


def code_text(text: str, limit: int) -> str:
    """``text`` as inline code (a URL stays whole, unescaped and unembedded), cut to ``limit``."""
    plain = text.replace("`", "'")
    return f"`{shorten(plain, limit - 2)}`"


def _skipped_lines(skipped: Sequence[SkippedFile], more: int = 0) -> list[str]:
    """A line for each of the first ``SKIPPED_LISTED`` skipped inputs, then how many more."""
    listed = skipped[:SKIPPED_LISTED]
    lines = [f"• Skipped {fit(item.source, 200)}: {fit(item.reason, 300)}" for item in listed]
    rest = len(skipped) - len(listed) + more
    if rest:
        lines.append(f"• … and {rest:,} more")
    return lines


def limit_content(text: str) -> str:
    """Message content within Discord's 2,000 characters, cut at a line end."""
    return shorten_lines(text, CONTENT_MAX)


def render_stats(collections: Sequence[tuple[str, IndexStats]]) -> str:
    """What is indexed in each collection, and when it was last rebuilt (a Discord
    timestamp), under the collection's label."""
    blocks = [
        "\n".join(
            [
                f"**{fit(label, 100)}:** {stats.articles} articles, {stats.passages} passages",
                f"**Model:** {fit(stats.model, 200)} ({stats.dimension} dimensions)",
                f"**Last rebuilt:** {timestamp(stats.built_at)}",
            ]
        )
        for label, stats in collections
    ]
    return limit_content("\n\n".join(blocks))


def timestamp(when: datetime | None) -> str:
    """A Discord timestamp (shown in each reader's time zone), or 'unknown'."""
    if when is None:
        return "unknown"
    return f"{discord.utils.format_dt(when, 'f')} ({discord.utils.format_dt(when, 'R')})"


def retry_text(retry_after: float, now: datetime) -> str:
    """The rate-limit refusal: how many seconds, and the moment, to try again."""
    seconds = max(1, round(retry_after))
    again = discord.utils.format_dt(
        datetime.fromtimestamp(now.timestamp() + retry_after, tz=now.tzinfo), "R"
    )
    return f"You are asking too fast: try again in {seconds} s ({again})."
