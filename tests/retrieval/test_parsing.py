"""Article files in every supported format, and the broken ones real collections hold."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval.errors import ArticleError
from retrieval.ingest.collection import parse_file, read_collection
from retrieval.ingest.decoding import decode_bytes
from tests.conftest import FIXTURES

ARTICLES = FIXTURES / "articles"
HOSTILE = FIXTURES / "hostile"


def test_seed_article_fields(seed_file: Path) -> None:
    """The seed file gives its title, date, author, publisher, URL and body."""
    [article], skipped = parse_file(seed_file, "seed.txt")
    assert skipped.total == 0
    assert article.title == "Jihadists kill scores of soldiers in Mali attack"
    assert article.published_at == datetime(2019, 11, 2, 13, 36, 47, tzinfo=UTC)
    assert article.author == "Jason Burke"
    assert article.publisher == "the Guardian"
    assert article.url is not None and article.url.startswith("https://www.theguardian.com/")
    assert article.text.startswith("At least 53 soldiers and one civilian dead")
    assert "Minusma issued a statement condemning the attack." in article.text
    assert "Published at" not in article.text


@pytest.mark.parametrize(
    ("name", "title", "publisher", "author", "published"),
    [
        (
            "missing_fields.txt",
            "Harbour ferry service suspended after storm damage",
            "Harbour Gazette",
            None,
            None,
        ),
        (
            "latin1.txt",
            "Café owners in Montréal protest new tax",
            "Le Journal",
            "Renée Lévesque",
            datetime(2024, 1, 10, 8, tzinfo=UTC),
        ),
        ("plain.txt", "Council approves new cycle lanes", None, None, None),
        (
            "page.html",
            "Tram drivers vote to strike over rosters",
            "Harbour Gazette",
            "Ines Okafor",
            datetime(2024, 12, 3, tzinfo=UTC),
        ),
    ],
)
def test_formats_and_missing_fields(
    name: str, title: str, publisher: str | None, author: str | None, published: datetime | None
) -> None:
    """Each format yields its metadata; a missing field is unknown (None), never invented."""
    [article], _ = parse_file(ARTICLES / name, name)
    assert (article.title, article.publisher, article.author) == (title, publisher, author)
    assert article.published_at == published
    assert article.text.strip()


def test_html_drops_page_furniture() -> None:
    """HTML keeps the article's text and leaves navigation and footer out."""
    [article], _ = parse_file(ARTICLES / "page.html", "page.html")
    assert "187 voted in favour" in article.text
    assert "Subscribe to our newsletter" not in article.text
    assert article.url == "https://harbourgazette.example/tram-strike"


def test_jsonl_bad_line_reported_rest_kept() -> None:
    """A broken JSON line is reported by file and line; the other lines are read."""
    articles, skipped = parse_file(ARTICLES / "feed.jsonl", "feed.jsonl")
    assert [a.source for a in articles] == ["feed.jsonl#w-1", "feed.jsonl#w-3", "feed.jsonl#w-4"]
    assert [s.source for s in skipped.listed] == ["feed.jsonl:2"]
    assert "invalid JSON" in skipped.listed[0].reason
    assert articles[2].published_at is None  # "not a date" is not guessed


@pytest.mark.parametrize(
    ("name", "reason"),
    [("empty.txt", "empty file"), ("not_text.txt", "binary file")],
)
def test_unreadable_files_raise_with_reason(name: str, reason: str) -> None:
    """Empty and binary files are refused with a reason naming the file."""
    with pytest.raises(ArticleError) as raised:
        parse_file(ARTICLES / name, name)
    assert raised.value.path == name
    assert reason in raised.value.reason


def test_collection_reports_bad_files_and_goes_on() -> None:
    """Reading a folder skips the bad files by name and keeps every good article."""
    collection = read_collection(ARTICLES)
    skipped = {s.source: s.reason for s in collection.skipped.listed}
    assert set(skipped) == {"empty.txt", "not_text.txt", "feed.jsonl:2"}
    assert collection.failed_files == {"empty.txt", "not_text.txt"}
    assert len(collection.articles) == 7


def test_missing_collection_is_an_error(tmp_path: Path) -> None:
    """A collection path that does not exist is an error, not an empty index."""
    with pytest.raises(ArticleError, match="no such file"):
        read_collection(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Zürich café".encode(), "Zürich café"),
        (b"\xef\xbb\xbfwith BOM", "with BOM"),
        ("Crème brûlée à Besançon, déjà vu".encode("cp1252"), "Crème brûlée à Besançon, déjà vu"),
        (b"line one\r\nline two\r", "line one\nline two\n"),
    ],
)
def test_decoding(data: bytes, expected: str) -> None:
    """UTF-8, a BOM, legacy 8-bit encodings and CRLF all decode to the same clean text."""
    assert decode_bytes(data, "x.txt") == expected


def test_unsupported_type_refused(tmp_path: Path) -> None:
    """A file type citebot does not read is refused with its suffix named."""
    path = tmp_path / "table.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ArticleError, match=r"unsupported file type \.csv"):
        parse_file(path, "table.csv")


def test_jsonl_repeated_id_later_line_wins() -> None:
    """Two lines with one id (or an id equal to an id-less line's number): the later line
    is read, the earlier one is reported by line."""
    articles, skipped = parse_file(HOSTILE / "repeated_ids.jsonl", "feed.jsonl")
    assert [(a.source, a.title) for a in articles] == [
        ("feed.jsonl#7", "Ferry timetable (corrected)"),
        ("feed.jsonl#2", "Harbour note (revised)"),
        ("feed.jsonl#9", "Tide tables"),
    ]
    assert [(s.source, s.reason) for s in skipped.listed] == [
        ("feed.jsonl:1", "id 7 repeated on line 3; the later line is indexed"),
        (
            "feed.jsonl:2",
            "id 2 repeated on line 4 (a line without id goes by its number); "
            "the later line is indexed",
        ),
    ]


def test_collection_holds_each_source_once(tmp_path: Path) -> None:
    """A file named like another file's JSON Lines article does not give two articles one name."""
    (tmp_path / "a.jsonl").write_text('{"id": "b.txt", "text": "From the feed."}\n')
    (tmp_path / "a.jsonl#b.txt").write_text("From the file\nIts own text.\n")
    collection = read_collection(tmp_path)
    [article] = collection.articles
    assert (article.source, article.text) == ("a.jsonl#b.txt", "Its own text.")
    [skipped] = collection.skipped.listed
    assert skipped.source == "a.jsonl#b.txt"
    assert skipped.reason == "in a.jsonl and again in a.jsonl#b.txt; the later is indexed"


def test_a_parser_crash_skips_only_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A parser failing in an unforeseen way skips that file with a short reason; the rest
    is read, and the traceback is logged at debug level."""

    def crash(html: str, source: str) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr("retrieval.ingest.collection.parse_html", crash)
    for name in ("page.html", "plain.txt"):
        (tmp_path / name).write_bytes((ARTICLES / name).read_bytes())
    with caplog.at_level(logging.DEBUG, logger="retrieval.ingest.collection"):
        collection = read_collection(tmp_path)
    assert [a.source for a in collection.articles] == ["plain.txt"]
    assert [(s.source, s.reason) for s in collection.skipped.listed] == [
        ("page.html", "could not be parsed (KeyError)")
    ]
    assert collection.failed_files == {"page.html"}
    [crashed] = [r for r in caplog.records if r.levelno == logging.DEBUG and r.exc_info]
    assert "page.html" in crashed.getMessage()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<html><head></head><body></body></html>", "no article text found in the HTML"),
        (b"", "empty file"),
    ],
)
def test_empty_html_is_reported_without_log_noise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes, reason: str
) -> None:
    """An HTML file with no text is skipped with its reason, and nothing is logged above debug."""
    path = tmp_path / "empty.html"
    path.write_bytes(content)
    with caplog.at_level(logging.DEBUG), pytest.raises(ArticleError) as raised:
        parse_file(path, "empty.html")
    assert raised.value.reason == reason
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    collection = read_collection(tmp_path)
    assert [(s.source, s.reason) for s in collection.skipped.listed] == [("empty.html", reason)]


class _Recording(logging.Handler):
    """A handler with no level of its own, as `logging.basicConfig` installs."""

    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_empty_html_prints_nothing_at_the_cli_log_level(tmp_path: Path) -> None:
    """With the log at ERROR, as `citebot` sets it, an empty page prints no library lines."""
    printed: list[logging.LogRecord] = []
    handler = _Recording(printed)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.ERROR)
    try:
        (tmp_path / "empty.html").write_bytes(b"<p>")
        with pytest.raises(ArticleError):
            parse_file(tmp_path / "empty.html", "empty.html")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert [r.getMessage() for r in printed] == []


def test_a_million_broken_lines_report_twenty_and_a_count(tmp_path: Path) -> None:
    """A JSON Lines file of a million junk lines is read to the end; the report names the
    first 20 lines and counts the rest."""
    path = tmp_path / "junk.jsonl"
    path.write_text("".join(f"junk {n}\n" for n in range(1_000_000)))
    articles, skipped = parse_file(path, "junk.jsonl")
    assert articles == []
    assert [s.source for s in skipped.listed] == [f"junk.jsonl:{n}" for n in range(1, 21)]
    assert (skipped.total, skipped.more) == (1_000_000, 999_980)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"id": 1, "text": ' + "1" * 5000 + "}", "invalid JSON (a number too long)"),
        ("[" * 100_000, "invalid JSON (nested too deep)"),
        ('{"id": 1, "text": ["a", ["b"]]}', "no text"),
    ],
)
def test_jsonl_lines_python_cannot_read_are_skipped(tmp_path: Path, line: str, reason: str) -> None:
    """A line with a 5,000-digit number, deep nesting or a list for text is skipped and
    reported; the other lines are read."""
    path = tmp_path / "feed.jsonl"
    path.write_text(line + '\n{"id": 2, "title": "Kept", "text": "Still read."}\n')
    articles, skipped = parse_file(path, "feed.jsonl")
    assert [a.title for a in articles] == ["Kept"]
    assert [(s.source, s.reason) for s in skipped.listed] == [("feed.jsonl:1", reason)]


def test_escaped_text_in_json_and_html_is_normalized(tmp_path: Path) -> None:
    """Escapes that spell a carriage return, a decomposed accent or a lone surrogate give
    the same clean text as the raw characters would."""
    jsonl = tmp_path / "feed.jsonl"
    jsonl.write_text(
        '{"id": 1, "title": "Caf\\u0065\\u0301\\nnews", "text": "a\\rb e\\u0301 \\ud800"}'
    )
    [article], _ = parse_file(jsonl, "feed.jsonl")
    assert (article.title, article.text) == ("Café news", "a\nb é \ufffd")
    html = tmp_path / "page.html"
    html.write_text(
        "<html><body><article><p>"
        + "Cafe&#x301; owners met the mayor today. " * 5
        + "</p></article></body></html>"
    )
    [page], _ = parse_file(html, "page.html")
    assert page.text.startswith("Café owners met the mayor today.")


def test_a_file_name_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    """A file whose name is not UTF-8 (as old archives hold) is reported, readably; the
    other files are read."""
    (tmp_path / os.fsdecode(b"caf\xe9.txt")).write_bytes((ARTICLES / "plain.txt").read_bytes())
    (tmp_path / "plain.txt").write_bytes((ARTICLES / "plain.txt").read_bytes())
    collection = read_collection(tmp_path)
    assert [a.source for a in collection.articles] == ["plain.txt"]
    assert [(s.source, s.reason) for s in collection.skipped.listed] == [
        ("caf\ufffd.txt", "the file name is not UTF-8; rename the file")
    ]
