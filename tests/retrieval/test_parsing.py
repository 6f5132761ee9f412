"""Article files in every supported format, and the broken ones real collections hold."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval.errors import ArticleError
from retrieval.parsing import parse_file, read_collection
from retrieval.parsing.decoding import decode_bytes
from tests.conftest import FIXTURES

ARTICLES = FIXTURES / "articles"


def test_seed_article_fields(seed_file: Path) -> None:
    """The seed file gives its title, date, author, publisher, URL and body."""
    [article], skipped = parse_file(seed_file, "seed.txt")
    assert skipped == []
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
    assert [s.source for s in skipped] == ["feed.jsonl:2"]
    assert "invalid JSON" in skipped[0].reason
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
    skipped = {s.source: s.reason for s in collection.skipped}
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
