"""Hostile input, generated: every parser (files and feeds) and the upload name sanitiser,
fed by hypothesis.

Whatever comes in, a parser returns valid articles and a skip report or raises
ArticleError; nothing else escapes. The default run tries 200 inputs per target; the
``slow`` run tries 10,000.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.errors import ArticleError
from retrieval.feeds.feed import FeedError, parse_feed, summary_article
from retrieval.ingest.collection import parse_text
from retrieval.ingest.decoding import decode_bytes
from retrieval.ingest.uploads import NAME_MAX_BYTES, STEM_MAX, safe_filename
from retrieval.types import Article

DEFAULT = settings(
    max_examples=200,
    deadline=None,
    database=None,  # nothing saved between runs: a failure prints its input to reproduce
    suppress_health_check=[HealthCheck.too_slow],
)
SLOW = settings(DEFAULT, max_examples=10_000)


def _assert_clean(text: str) -> None:
    assert text and text == text.strip()
    assert "\r" not in text
    assert unicodedata.is_normalized("NFC", text)
    text.encode("utf-8")  # storable: no lone surrogate


def _assert_article(article: Article) -> None:
    _assert_clean(article.title)
    assert "\n" not in article.title
    _assert_clean(article.text)
    assert all(line and line == line.strip() for line in article.text.split("\n"))
    for value in (article.publisher, article.author, article.url):
        assert value is None or (value == value.strip() and value and "\n" not in value)
    assert article.published_at is None or article.published_at.tzinfo is not None


def _check_parsed(data: bytes, suffix: str) -> None:
    """Decode and parse as the indexer does; only ArticleError may escape."""
    source = f"hostile{suffix}"
    try:
        text = decode_bytes(data, source)
        articles, skipped = parse_text(text, source, suffix, fallback_title="hostile")
    except ArticleError as error:
        assert error.path == source and error.reason
        return
    for article in articles:
        _assert_article(article)
    assert len({article.source for article in articles}) == len(articles)
    assert all(item.reason for item in skipped.listed)


def _check_decoded(data: bytes) -> None:
    try:
        text = decode_bytes(data, "hostile.txt")
    except ArticleError as error:
        assert error.reason
        return
    assert "\r" not in text and unicodedata.is_normalized("NFC", text)
    text.encode("utf-8")


def _check_filename(name: str) -> None:
    result = safe_filename(name)
    assert result and result not in {".", ".."} and not result.startswith(".")
    assert "/" not in result and "\\" not in result
    assert not any(char.isspace() or unicodedata.category(char)[0] in "CZ" for char in result)
    stem, dot, suffix = result.rpartition(".")
    assert len(stem if dot else result) <= STEM_MAX + 1  # + "_" after a device name
    assert not dot or suffix == suffix.lower()
    assert len(result.encode()) <= NAME_MAX_BYTES


def _lines(line: st.SearchStrategy[str], max_size: int = 12) -> st.SearchStrategy[str]:
    """Lines joined with any of the line ends files use."""
    return st.builds(
        lambda end, lines: end.join(lines),
        st.sampled_from(["\n", "\r\n", "\r"]),
        st.lists(line, max_size=max_size),
    )


def _utf8(text: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda bom, t: bom + t.encode("utf-8"), st.sampled_from([b"", b"\xef\xbb\xbf"]), text
    )


_AWKWARD = ["", " ", "\t\u00a0", "e\u0301", "\u2028", "\x0c", "\x00", "\ufeff", "丽", "…"]

_SEED_LINE = st.one_of(
    st.sampled_from(
        [
            *_AWKWARD,
            "# Ferry strike ends",
            "#",
            "# ",
            "#  # #",
            "Published at: 2024-03-01T08:00:00Z",
            "Published at: soon",
            "published at:",
            "Author: **Ana Ruiz**",
            "Author: ****",
            "Original: [Harbour Gazette](https://harbour.example/a)",
            "Original: https://harbour.example/b",
            "Original: []()",
            "  An indented standfirst.",
        ]
    ),
    st.text(max_size=40),
)
SEED = _utf8(
    st.builds(
        lambda title, rest: title + "\n" + rest,
        st.sampled_from(["# Ferry strike ends", "# é\u0301", "#\t x #"]),
        _lines(_SEED_LINE),
    )
)
PLAIN = _utf8(
    st.one_of(
        st.text(max_size=300), _lines(st.one_of(st.sampled_from(_AWKWARD), st.text(max_size=60)))
    )
)

_JSON_CHAR = st.one_of(
    st.characters(exclude_characters='"\\', exclude_categories=("Cc", "Cs")),
    st.integers(0, 0xFFFF).map(lambda n: f"\\u{n:04x}"),
    st.sampled_from(["\\n", "\\r", "\\r\\n", "\\t", "\\\\", '\\"', "\\u0065\\u0301", "\\ud800"]),
)
_JSON_STRING = st.lists(_JSON_CHAR, max_size=20).map(lambda chars: '"' + "".join(chars) + '"')
_JSON_VALUE = st.one_of(
    _JSON_STRING,
    st.sampled_from(['"1"', "2", '"3"', "4", "null", "true", "[]", '["a", ["b"]]', '{"a": "b"}']),
    st.sampled_from(['"2024-03-01"', '"2024-03-01T08:00:00+05:30"', '"2024-13-45"', '"Z"']),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.just("1" * 5000),
    st.just("[" * 900 + "]" * 900),
)
_JSON_FIELD = st.sampled_from(["id", "title", "text", "publisher", "author", "url", "published_at"])
_RECORD = st.lists(st.tuples(_JSON_FIELD, _JSON_VALUE), max_size=8).map(
    lambda pairs: "{" + ", ".join(f'"{name}": {value}' for name, value in pairs) + "}"
)
JSONL = _utf8(
    _lines(
        st.one_of(
            _RECORD,
            _RECORD,
            st.text(max_size=30),
            st.sampled_from(['"a string"', "[1, 2]", "{", "[" * 5000, "{}"]),
        )
    )
)

_HTML_PIECE = st.one_of(
    st.sampled_from(
        [
            "<html>",
            "</html>",
            "<head>",
            "<title>",
            "</title>",
            "<body>",
            "<article>",
            "</article>",
            "<p>",
            "</p>",
            "<h1>",
            "</h1>",
            "<br>",
            "<div class='nav'>",
            "</div>",
            "<script>",
            "</script>",
            "<!--",
            "-->",
            "<![CDATA[",
            "]]>",
            "<?xml version='1.0'?>",
            "<meta name='author' content='A &amp; B'>",
            "<meta property='og:url' content='https://harbour.example/a'>",
            "<meta name='date' content='2024-13-45'>",
            "&#13;",
            "&#x301;",
            "&#xD800;",
            "&#0;",
            "&#x1F600;",
            "&nbsp;",
            "&amp;",
            "&",
            "<",
            "\x00",
            "\r\n",
            "The council voted seven to two to build the new bridge over the river. ",
        ]
    ),
    st.text(max_size=40),
)
HTML = _utf8(st.lists(_HTML_PIECE, max_size=40).map("".join))

_FEED_PIECE = st.one_of(
    st.sampled_from(
        [
            "<?xml version='1.0' encoding='utf-8'?>",
            "<?xml version='1.0' encoding='latin-1'?>",
            "<rss version='2.0'>",
            "</rss>",
            "<channel>",
            "</channel>",
            "<feed xmlns='http://www.w3.org/2005/Atom'>",
            "</feed>",
            "<item>",
            "</item>",
            "<entry>",
            "</entry>",
            "<title>",
            "</title>",
            "<title type='html'>",
            "<link>https://harbour.example/a</link>",
            "<link href='/b'/>",
            "<link>javascript:alert(1)</link>",
            "<guid>",
            "</guid>",
            "<id>",
            "</id>",
            "<description>",
            "</description>",
            "<summary type='html'>",
            "</summary>",
            "<author>",
            "</author>",
            "<pubDate>Tue, 01 Dec 2026 10:00:00 GMT</pubDate>",
            "<pubDate>yesterday</pubDate>",
            "<updated>2026-13-45T99:00:00Z</updated>",
            "<![CDATA[<p>Five ferries</p>]]>",
            "&lt;p&gt;",
            "&amp;",
            "&#0;",
            "&#xD800;",
            "&bogus;",
            "<!DOCTYPE rss [<!ENTITY e 'eee'>]>",
            "&e;",
            "\x00",
            "\r\n",
            "The council voted seven to two. ",
        ]
    ),
    st.text(max_size=30),
)
FEED = _utf8(st.lists(_FEED_PIECE, max_size=40).map("".join))


def _check_feed(data: bytes) -> None:
    """Read a feed as a refresh does: a FeedError, or items whose summaries are clean
    articles (or an ArticleError when there is no summary)."""
    try:
        feed = parse_feed(data, "https://harbour.example/feed.xml")
    except FeedError as error:
        assert str(error)
        return
    assert feed.title is None or "\n" not in feed.title
    for n, item in enumerate(feed.items):
        assert item.key
        try:
            article = summary_article(item, f"feed#{n}").article
        except ArticleError as error:
            assert error.reason
            continue
        _assert_article(article)


BYTES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=100).map(lambda text: text.encode("utf-16")),
    st.text(max_size=100).map(lambda text: text.encode("cp1252", errors="ignore")),
    _utf8(st.text(max_size=100)),
)

TARGETS: dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], None]]] = {
    "seed": (SEED, lambda data: _check_parsed(data, ".md")),
    "plain": (PLAIN, lambda data: _check_parsed(data, ".txt")),
    "jsonl": (JSONL, lambda data: _check_parsed(data, ".jsonl")),
    "html": (HTML, lambda data: _check_parsed(data, ".html")),
    "feed": (FEED, _check_feed),
    "decoder": (BYTES, _check_decoded),
    "filename": (st.text(), _check_filename),
}


@pytest.mark.parametrize("target", TARGETS)
def test_generated_input_gives_clean_articles_or_a_reported_error(target: str) -> None:
    """Whatever a file holds, its parser gives clean articles and reasons, never a crash."""
    strategy, check = TARGETS[target]
    DEFAULT(given(strategy)(check))()


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_ten_thousand_generated_inputs_each(target: str) -> None:
    """The same properties hold over 10,000 generated inputs per parser."""
    strategy, check = TARGETS[target]
    SLOW(given(strategy)(check))()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("новости.txt", "новости.txt"),
        ("报告 2024.md", "报告_2024.md"),
        ("हिन्दी समाचार.txt", "हिन्दी_समाचार.txt"),
        ("été.jsonl", "été.jsonl"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\notes.md", "notes.md"),
        (".hidden.txt", "hidden.txt"),
        ("..", "article"),
        ("", "article"),
        ("Report.TXT", "Report.txt"),
        ("CON.txt", "CON_.txt"),
        ("lpt1.tar.gz", "lpt1_.tar.gz"),
        ("ｎｅｗｓ．ＴＸＴ", "news.txt"),
        ("invoice\u202etxt.exe", "invoice_txt.exe"),
        ("tab\tand\nnewline.html", "tab_and_newline.html"),
        ("file (1).html", "file_1_.html"),
        ("-rf.txt", "rf.txt"),
        ("notes.TXT.", "notes.txt"),
    ],
)
def test_upload_names_are_made_safe_and_keep_their_letters(name: str, expected: str) -> None:
    """An upload keeps its name in any script; folders, dots in front, control and
    punctuation characters and device names are made harmless."""
    assert safe_filename(name) == expected


def test_a_long_upload_name_fits_the_file_system() -> None:
    """A very long name in a non-Latin script is cut to fit, keeping its extension."""
    result = safe_filename("я" * 300 + ".TXT")
    assert result.endswith("я.txt")
    assert len(result.encode()) <= NAME_MAX_BYTES
