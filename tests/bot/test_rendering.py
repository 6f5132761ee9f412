"""Rendering answers and summaries for Discord: within every limit, escaped, cut cleanly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.rendering import (
    BUTTON_LABEL_MAX,
    BUTTON_URL_MAX,
    CONTENT_MAX,
    EMBED_URL_MAX,
    NOT_FOUND,
    bold_sentence,
    escape,
    explain,
    fit,
    render_answer,
    render_ingest,
    render_progress,
    render_quiet_refresh,
    render_refresh,
    render_stats,
    render_summary,
    retry_text,
    safe_url,
    shorten,
    shorten_left,
)
from retrieval.errors import CitebotError, IndexBusyError, NotIndexedError, SettingsError
from retrieval.feeds.refresh import FetchFailure, RefreshReport
from retrieval.types import (
    Answer,
    AnswerSentence,
    Citation,
    FigureReport,
    IndexStats,
    IndexSummary,
    IngestReport,
    ScoredPassage,
    SkippedFile,
)
from tests.bot.discord_checks import cut_problem, embed_problems, unescaped_markdown

# --- Answers built directly from the engine's plain data --------------------------------

FLOOD = Citation(
    "At least 12 dead as River Astel floods Carrow Bridge",
    "Harbour Gazette",
    "Maren Holt",
    datetime(2024, 3, 5, 7, 45, tzinfo=UTC),
    "https://harbourgazette.example/news/2024/03/05/astel-floods-carrow-bridge",
)
TOLL = Citation(
    "Astel valley flood death toll rises to 31 as search widens",
    "Northern Ledger",
    "Tomas Brennan",
    datetime(2024, 3, 7, 17, 40, tzinfo=UTC),
    "https://northernledger.example/2024/03/07/astel-valley-flood-death-toll",
)
HOSTILE = (
    "The message read: “@everyone the footbridge is CLOSED *again* | use the north_road "
    "detour | message <@123> or <@123456789012345678> __NOW__ for a seat”. Someone replied "
    "***stop pinging everyone*** and @here ||spoiler|| `code` ~~gone~~.\n> not a quote\n# not a heading"
)
SENTENCE = "The death toll from the floods in the Astel valley rose to 31 on Thursday."
LONG_TITLE = "A headline that goes on and on " * 12
LONG_WORD = "x" * 5000


def sentences(count: int, words: int = 18) -> str:
    """``count`` distinct sentences of ``words`` words."""
    return " ".join(
        " ".join(f"word{n}{w}" for w in range(words)).capitalize() + "." for n in range(count)
    )


def passage(text: str, citation: Citation = TOLL, index: int = 0) -> ScoredPassage:
    return ScoredPassage(index, index, text, 0, len(text), 1.0 / (index + 1), citation)


def answer(
    passages: list[ScoredPassage],
    sentence: AnswerSentence | None = None,
    *,
    found: bool = True,
    conflicts: tuple[FigureReport, ...] = (),
    question: str = "How many people died in the Astel flood?",
) -> Answer:
    if sentence is None and found:
        sentence = AnswerSentence(SENTENCE, 0, (59, 61))
    return Answer(question, sentence, tuple(passages), found, conflicts, 0.8)


@dataclass(frozen=True)
class Case:
    name: str
    answer: Answer
    page_size: int = 3


CASES = [
    Case("plain", answer([passage(SENTENCE), passage("Twelve were found.", FLOOD, 1)])),
    Case("huge passages", answer([passage(sentences(60), TOLL, i) for i in range(3)])),
    Case("ten passages, paged", answer([passage(sentences(12), TOLL, i) for i in range(10)])),
    Case(
        "ten passages on one page",
        answer([passage(sentences(12), TOLL, i) for i in range(10)]),
        page_size=10,
    ),
    Case(
        "long titles, publishers, authors and urls",
        answer(
            [
                passage(
                    sentences(5),
                    Citation(
                        LONG_TITLE,
                        "Publisher " * 40,
                        "Author " * 40,
                        datetime(2019, 11, 2, tzinfo=UTC),
                        "https://example.org/" + "a" * 400,
                    ),
                    i,
                )
                for i in range(3)
            ]
        ),
    ),
    Case("mentions and markdown in quotes", answer([passage(HOSTILE, FLOOD, i) for i in range(3)])),
    Case(
        "huge sentence with the highlight in the middle",
        answer(
            [passage(sentences(40) + " 31 dead. " + sentences(40))],
            AnswerSentence(sentences(40) + " 31 dead " + sentences(40), 0, (4011, 4013)),
        ),
    ),
    Case(
        "highlighted phrase with markdown",
        answer([passage(HOSTILE)], AnswerSentence(HOSTILE, 0, (43, 50))),
    ),
    Case("one giant word", answer([passage(LONG_WORD)], AnswerSentence(LONG_WORD, 0, (10, 20)))),
    Case("markdown in the question", answer([passage(SENTENCE)], question=HOSTILE * 3)),
    Case(
        "not found",
        answer([passage(sentences(3), FLOOD, 0), passage(sentences(3), TOLL, 1)], found=False),
    ),
    Case(
        "conflicting figures",
        answer(
            [passage(SENTENCE, TOLL, 0), passage("At least 12 people died.", FLOOD, 1)],
            conflicts=(FigureReport("31", 0, TOLL), FigureReport("12", 1, FLOOD)),
        ),
    ),
    Case(
        "many long conflicting figures",
        answer(
            [passage(sentences(30), TOLL, i) for i in range(10)],
            AnswerSentence(sentences(60), 0, (5, 40)),
            conflicts=tuple(FigureReport(HOSTILE, i, FLOOD) for i in range(10)),
        ),
        page_size=10,
    ),
    Case("no passages", answer([], None, found=False)),
]


def all_pages(case: Case) -> list:
    first = render_answer(case.answer, 0, case.page_size)
    return [render_answer(case.answer, n, case.page_size) for n in range(first.pages)]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_page_stays_within_discord_limits(case: Case) -> None:
    """Every page of every answer fits Discord's embed, field, total and button limits."""
    for page in all_pages(case):
        assert embed_problems(page.embeds) == []
        assert len(page.links) + 3 <= 25
        for button in page.links:
            assert 0 < len(button.label) <= BUTTON_LABEL_MAX
            assert button.url.startswith("https://")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_quotes_are_escaped_and_cut_at_a_boundary(case: Case) -> None:
    """Each quote is the passage, or cut at a sentence or word with "…"; nothing unescaped."""
    for page in all_pages(case):
        embed = page.embeds[0]
        for field in embed.fields:
            match = re.match(r"\[(\d+)\]", field.name or "")
            assert match, field.name
            source = case.answer.passages[int(match.group(1)) - 1]
            quote = (field.value or "").split("\n[", 1)[0]
            if not quote.startswith("“"):
                continue  # no room for a quote at all
            shown = quote.removeprefix("“").removesuffix("”")
            if case.name != "one giant word":
                assert cut_problem(source.text, shown) is None
            assert unescaped_markdown(shown) == []
        text = str(embed.to_dict())
        for ping in ("@everyone", "@here", "<@123>", "<@123456789012345678>"):
            assert ping not in text


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Short text.", 50, "Short text."),
        ("  padded  ", 50, "padded"),
        ("First sentence. Second sentence is longer.", 25, "First sentence. …"),
        ("The quick brown fox jumps", 12, "The quick…"),
        ("Alpha, beta gamma", 9, "Alpha…"),
        ("Line one\nline two", 12, "Line one…"),
        ("One. Two three four five six seven", 20, "One. Two three four…"),
        ("x" * 20, 10, "x" * 9 + "…"),
        ("hello world", 1, "…"),
        ("hello world", 0, ""),
        ("Fits exactly", 12, "Fits exactly"),
        ("It rose to 31. Then it fell.", 16, "It rose to 31. …"),
    ],
)
def test_shorten_cuts_at_sentence_or_word(text: str, limit: int, expected: str) -> None:
    """Shortening keeps whole sentences or words and marks the cut with an ellipsis."""
    result = shorten(text, limit)
    assert result == expected
    assert len(result) <= max(limit, 0)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("keep the last words", 50, "keep the last words"),
        ("keep the last words", 12, "…last words"),
        ("y" * 20, 5, "…yyyy"),
    ],
)
def test_shorten_left_keeps_the_end(text: str, limit: int, expected: str) -> None:
    """Shortening from the left keeps the last whole words after an ellipsis."""
    assert shorten_left(text, limit) == expected


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("**bold** _it_ |x| ~s~ `c`", r"\*\*bold\*\* \_it\_ \|x\| \~s\~ \`c\`"),
        ("@everyone and @here", "@\u200beveryone and @\u200bhere"),
        ("<@123> <@&456> <#789>", "<\u200b@123> <\u200b@&456> <\u200b#789>"),
        ("plain words", "plain words"),
    ],
)
def test_escape_neutralises_markdown_and_mentions(text: str, escaped: str) -> None:
    """Quoted text shows literally: Markdown characters escaped, mentions broken."""
    assert escape(text) == escaped


@pytest.mark.parametrize("limit", [1, 5, 10, 40, 100])
def test_fit_escaped_text_stays_within_the_limit(limit: int) -> None:
    """Escaping never pushes a fitted text over its limit."""
    assert len(fit("*_|" * 100 + " word", limit)) <= limit


def test_the_answer_sentence_is_bold_with_the_phrase_underlined() -> None:
    """The sentence shows in bold and the answering phrase in bold and underline."""
    page = render_answer(answer([passage(SENTENCE)]))
    description = page.embeds[0].description or ""
    assert (
        "**The death toll from the floods in the Astel valley rose to __31__ on Thursday.** [1]"
        in (description)
    )


@pytest.mark.parametrize(
    ("sentence", "limit"),
    [
        (AnswerSentence(SENTENCE, 0, None), 1200),
        (AnswerSentence(SENTENCE, 0, (0, 3)), 1200),
        (AnswerSentence(SENTENCE, 0, (len(SENTENCE) - 9, len(SENTENCE))), 1200),
        (AnswerSentence(sentences(50), 0, (2000, 2010)), 300),
        (AnswerSentence(sentences(50), 0, (2003, 2009)), 300),
    ],
)
def test_bold_sentence_keeps_the_phrase_within_the_limit(
    sentence: AnswerSentence, limit: int
) -> None:
    """However long the sentence, the highlighted phrase stays in view and the text fits."""
    shown = bold_sentence(sentence, limit)
    assert len(shown) <= limit
    assert shown.startswith("**") and shown.endswith("**")
    if sentence.highlight:
        assert f"__{escape((sentence.highlighted_text or '').strip())}__" in shown


def test_citations_show_linked_title_publisher_author_and_date() -> None:
    """Each source is cited as [n] [Title](url) — publisher, author, date, with a link button."""
    page = render_answer(answer([passage(SENTENCE, TOLL, 0), passage("Twelve.", FLOOD, 1)]))
    values = [field.value or "" for field in page.embeds[0].fields]
    assert values[0].endswith(
        "[1] [Astel valley flood death toll rises to 31 as search widens]"
        "(https://northernledger.example/2024/03/07/astel-valley-flood-death-toll)"
        " — Northern Ledger, Tomas Brennan, 7 Mar 2024"
    )
    assert "[2] [At least 12 dead as River Astel floods Carrow Bridge](" in values[1]
    assert "— Harbour Gazette, Maren Holt, 5 Mar 2024" in values[1]
    assert [(b.label, b.url) for b in page.links] == [
        ("[1] Northern Ledger", TOLL.url),
        ("[2] Harbour Gazette", FLOOD.url),
    ]


def test_citation_without_url_or_details_is_plain() -> None:
    """A source with no URL, publisher, author or date is cited by its title, without a button."""
    bare = Citation("Untitled *notes*", None, None, None, None)
    page = render_answer(answer([passage(SENTENCE, bare)]))
    assert (page.embeds[0].fields[0].value or "").endswith("[1] Untitled \\*notes\\*")
    assert page.links == []


SITE = "https://vestnik.example/"
FLOOD_WORD = "наводнение"
FLOOD_WORD_SENT = "%D0%BD%D0%B0%D0%B2%D0%BE%D0%B4%D0%BD%D0%B5%D0%BD%D0%B8%D0%B5"
"""A Cyrillic word of 10 characters, and the 60 it takes percent-encoded."""
CYRILLIC_200 = SITE + FLOOD_WORD * 20
"""A 200-character Cyrillic path: 224 characters as written, 1,224 percent-encoded."""
CYRILLIC_60 = SITE + FLOOD_WORD * 6
"""A 60-character Cyrillic path: 384 characters percent-encoded."""


def ascii_url(length: int) -> str:
    """An ASCII URL of exactly ``length`` characters."""
    return SITE + "a" * (length - len(SITE))


@pytest.mark.parametrize(
    ("url", "limit", "expected"),
    [
        (TOLL.url, BUTTON_URL_MAX, TOLL.url),
        (ascii_url(512), BUTTON_URL_MAX, ascii_url(512)),
        (ascii_url(513), BUTTON_URL_MAX, None),
        (ascii_url(513), EMBED_URL_MAX, ascii_url(513)),
        (ascii_url(2049), EMBED_URL_MAX, None),
        (CYRILLIC_60, BUTTON_URL_MAX, SITE + FLOOD_WORD_SENT * 6),
        (CYRILLIC_200, BUTTON_URL_MAX, None),
        (CYRILLIC_200, EMBED_URL_MAX, SITE + FLOOD_WORD_SENT * 20),
        (SITE + "a b(c)", BUTTON_URL_MAX, SITE + "a%20b%28c%29"),
        ("ftp://vestnik.example/file", EMBED_URL_MAX, None),
        (None, EMBED_URL_MAX, None),
    ],
)
def test_safe_url_is_measured_after_percent_encoding(
    url: str | None, limit: int, expected: str | None
) -> None:
    """A URL is sent percent-encoded, and only when that encoded form fits the limit."""
    assert safe_url(url, limit) == expected


@pytest.mark.parametrize(
    ("url", "button", "linked"),
    [
        (TOLL.url, True, True),
        (ascii_url(512), True, True),
        (ascii_url(513), False, True),
        (ascii_url(560), False, True),
        (CYRILLIC_60, True, True),
        (CYRILLIC_200, False, False),
        (ascii_url(1100), False, False),
    ],
    ids=["short", "512", "513", "560", "cyrillic 60", "cyrillic 200", "1100"],
)
def test_a_long_link_loses_its_button_but_never_the_answer(
    url: str, button: bool, linked: bool
) -> None:
    """A URL over 512 encoded has no button, stays linked in the citation while it fits."""
    citation = Citation(TOLL.title, TOLL.publisher, TOLL.author, TOLL.published_at, url)
    page = render_answer(answer([passage(SENTENCE, citation), passage("Twelve.", FLOOD, 1)]))
    sent = safe_url(url)
    assert sent is not None
    value = page.embeds[0].fields[0].value or ""
    assert embed_problems(page.embeds) == []
    buttons = [("[1] Northern Ledger", sent)] if button else []
    assert [(b.label, b.url) for b in page.links] == [*buttons, ("[2] Harbour Gazette", FLOOD.url)]
    assert (f"]({sent})" in value) is linked
    title = "[Astel valley flood" if linked else f"{TOLL.title} — "
    assert value.startswith(f"“{SENTENCE}”\n[1] {title}")
    assert value.endswith(" — Northern Ledger, Tomas Brennan, 7 Mar 2024")


def test_pages_of_three_sources() -> None:
    """Ten sources page three at a time, numbered on, then wrap around to the first."""
    ten = answer([passage(f"Passage {i}.", TOLL, i) for i in range(10)])
    pages = [render_answer(ten, n) for n in range(5)]
    assert [p.pages for p in pages] == [4] * 5
    assert [(p.embeds[0].fields[0].name or "")[:4] for p in pages] == [
        "[1] ",
        "[4] ",
        "[7] ",
        "[10]",
        "[1] ",
    ]
    assert pages[1].embeds[0].footer.text == "Sources 4–6 of 10 · confidence 0.80"
    assert render_answer(answer([passage(SENTENCE)])).more is False


def test_not_found_is_said_plainly_with_the_closest_sources() -> None:
    """A not-found answer says so and lists the closest passages as such, not as an answer."""
    page = render_answer(
        answer([passage(sentences(2), FLOOD, 0), passage(sentences(2), TOLL, 1)], found=False)
    )
    embed = page.embeds[0]
    assert embed.title == NOT_FOUND == "Not found in the indexed articles"
    assert "**Not found in the indexed articles.**" in (embed.description or "")
    assert "closest" in (embed.description or "")
    assert [f.name for f in embed.fields] == ["[1] Closest source", "[2] Closest source"]
    assert "__" not in (embed.description or "")


def test_conflicting_figures_are_listed_with_source_and_date() -> None:
    """When sources disagree, each figure is shown with its source and date, and they differ."""
    page = render_answer(
        answer(
            [passage(SENTENCE, TOLL, 0), passage("At least 12 people died.", FLOOD, 1)],
            conflicts=(FigureReport("31", 0, TOLL), FigureReport("12", 1, FLOOD)),
        )
    )
    description = page.embeds[0].description or ""
    assert "**The sources give different figures** (newest first):" in description
    assert "• **31** — Northern Ledger, 7 Mar 2024 [1]" in description
    assert "• **12** — Harbour Gazette, 5 Mar 2024 [2]" in description
    assert description.index("**31**") < description.index("**12**")  # newest first


SUMMARY = IndexSummary(
    new=2,
    updated=1,
    unchanged=13,
    removed=1,
    skipped=[SkippedFile("bad.pdf", "type .pdf not allowed"), SkippedFile("e.txt", "empty")],
    passages=80,
    seconds=1.25,
)


def test_summary_lists_counts_and_each_skipped_file_with_why() -> None:
    """The reindex summary gives new, updated, unchanged, removed, skipped and the reasons."""
    text = render_summary(SUMMARY)
    assert "New 2, updated 1, unchanged 13, removed 1, skipped 2." in text
    assert "Skipped bad.pdf: type .pdf not allowed" in text
    assert "Skipped e.txt: empty" in text


@pytest.mark.parametrize(
    "report",
    [
        IngestReport(["uploads/a.txt"], [SkippedFile("b.exe", "type .exe not allowed")], SUMMARY),
        IngestReport([], [SkippedFile(f"{'n' * 300}_{i}.pdf", "why " * 100) for i in range(50)]),
    ],
)
def test_ingest_report_fits_a_message(report: IngestReport) -> None:
    """The /ingest reply names what was added and skipped, within 2,000 characters."""
    text = render_ingest(report)
    assert len(text) <= CONTENT_MAX
    assert ("**Added:** uploads/a.txt" in text) == bool(report.saved)
    assert "Skipped" in text


def test_huge_summary_fits_a_message() -> None:
    """A summary with hundreds of skipped files names the first 20 and counts the rest."""
    many = IndexSummary(skipped=[SkippedFile(f"file{i}.txt", "empty") for i in range(500)])
    text = render_summary(many)
    assert len(text) <= CONTENT_MAX and text.endswith("• … and 480 more")


def test_progress_and_stats_and_retry_texts() -> None:
    """Progress, statistics and the cooldown refusal read as plain sentences."""
    assert render_progress("embedding", 30, 120) == "Reindexing… embedding: 30/120 (25%)"
    assert render_progress("scanning", 0, 0) == "Reindexing… scanning"
    built = datetime(2024, 11, 2, 9, 30, tzinfo=UTC)
    shared = IndexStats(16, 73, "all-MiniLM-L6-v2", 384, "flat", built)
    stats = render_stats([("This server's articles", shared), ("Shared articles", shared)])
    assert "**This server's articles:** 16 articles, 73 passages" in stats
    assert "**Shared articles:** 16 articles" in stats
    assert "all-MiniLM-L6-v2" in stats
    assert f"<t:{int(built.timestamp())}:f>" in stats
    assert "unknown" in render_stats([("Shared articles", IndexStats(0, 0, "m", 8, "flat", None))])
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert retry_text(3.6, now) == (
        f"You are asking too fast: try again in 4 s (<t:{int(now.timestamp()) + 3}:R>)."
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (NotIndexedError("x"), "Nothing is indexed yet: an admin can run /reindex."),
        (IndexBusyError("x"), "A reindex is running; try again when it has finished."),
        (SettingsError("bad **x**"), "Sorry, that did not work: bad \\*\\*x\\*\\*"),
    ],
)
def test_engine_errors_are_explained(error: CitebotError, expected: str) -> None:
    """Engine errors become a sentence for the person who asked."""
    assert explain(error) == expected


def test_summary_of_a_million_skipped_lines_names_twenty_and_counts_the_rest() -> None:
    """A reindex that skipped a million lines says so, names the first 20 and counts the rest."""
    listed = [SkippedFile(f"junk.jsonl:{n}", "invalid JSON") for n in range(1, 21)]
    summary = IndexSummary(skipped=listed, skipped_more=999_980)
    text = render_summary(summary)
    assert "skipped 1000000." in text
    assert len(re.findall(r"^• Skipped junk\.jsonl:\d+: invalid JSON", text, re.MULTILINE)) == 20
    assert text.endswith("• … and 999,980 more")
    assert len(text) <= CONTENT_MAX


def test_ingest_reply_lists_twenty_rejected_files_at_most() -> None:
    """An /ingest reply names at most 20 rejected files, then how many more."""
    rejected = [SkippedFile(f"f{n}.pdf", "type .pdf not allowed") for n in range(25)]
    text = render_ingest(IngestReport([], rejected))
    assert text.count("• Skipped f") == 20
    assert text.endswith("• … and 5 more")


def test_a_refresh_report_fits_discord_and_hides_credentials() -> None:
    """40 long failures, 30 stories: the first 20 of each are listed, the message stays
    within 2,000 characters, and a password in a feed URL is never shown."""
    feed = "https://reader:s3cret@news.example/feed.xml"
    report = RefreshReport(
        added=[f"Story {n} " + "with a long headline " * 10 for n in range(30)],
        failed=[
            FetchFailure(feed, f"https://news.example/{'a' * 400}/{n}", "HTTP 404")
            for n in range(40)
        ],
        summaries=3,
    )
    text = render_refresh(report)
    assert len(text) <= 2000
    assert text.startswith("**Feeds refreshed.** Added 30, updated 0, failed 40.")
    assert "3 kept as their feed's summary" in text
    assert "s3cret" not in text and "reader:" not in text


def test_a_quiet_refresh_keeps_a_full_report_and_adds_when_it_was_checked() -> None:
    """The "checked again" line always shows, after as much of the report as fits."""
    report = RefreshReport(added=[f"Story {n} " + "with a long headline " * 10 for n in range(30)])
    full = render_refresh(report)
    quiet = render_quiet_refresh(full, datetime(2026, 12, 1, 16, 0, tzinfo=UTC))
    assert len(quiet) <= 2000
    assert quiet.startswith("**Feeds refreshed.** Added 30")
    assert quiet.endswith("Checked again <t:1796140800:R>: nothing new since.")
