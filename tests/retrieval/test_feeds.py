"""RSS and Atom feeds read into items, and their pages (or summaries) into articles."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from retrieval.errors import ArticleError
from retrieval.feeds.feed import (
    FeedError,
    FeedItem,
    page_article,
    parse_feed,
    summary_article,
)
from tests.conftest import FIXTURES

FEEDS = FIXTURES / "feeds"
RSS = (FEEDS / "rss2.xml").read_bytes()
ATOM = (FEEDS / "atom.xml").read_bytes()
PAGE = (FIXTURES / "articles" / "page.html").read_text(encoding="utf-8")
"""The tram strike story; it declares https://harbourgazette.example/tram-strike canonical."""

RSS_URL = "https://harbourgazette.example/feed.xml"
ATOM_URL = "https://coastalcourier.example/atom.xml"
BODY = (
    "<p>Tram drivers in Westhaven have voted to strike for 48 hours next week in a dispute"
    " over new rosters, their union said on Tuesday.</p>"
    "<p>Of the 212 drivers balloted, 187 voted in favour of the walkout, the Transport"
    " Workers Union said.</p>"
    "<p>The operator, Westhaven Trams, said it was disappointed and urged the union to"
    " return to talks before services are disrupted.</p>"
)


def _page(head: str = "", body: str = BODY) -> str:
    return f"<html><head>{head}</head><body><article>{body}</article></body></html>"


ITEM = FeedItem(
    key="hg-1",
    link="https://harbourgazette.example/tram-strike?utm_source=rss",
    title="Tram drivers vote to strike",
    summary="Tram drivers have voted to strike for 48 hours next week.",
    author="Ines Okafor",
    published=datetime(2024, 12, 3, 10, tzinfo=UTC),
)


def test_rss_items() -> None:
    """An RSS 2.0 feed gives its title and each item's guid, link, text, author and date."""
    feed = parse_feed(RSS, RSS_URL)
    assert feed.title == "Harbour Gazette – News"
    assert [item.key for item in feed.items] == [
        "hg-2024-12-03-tram-strike",
        "hg-2024-12-02-ferry",
        "hg-2024-12-01-cycle-lanes",
    ]
    strike, ferry, _ = feed.items
    assert strike.link == "https://harbourgazette.example/tram-strike?utm_source=rss"
    assert strike.title == "Tram drivers vote to strike over rosters"
    assert strike.summary == (
        "Tram drivers in Westhaven have voted to strike for 48 hours next week."
        " The operator said it was disappointed."
    )
    assert strike.author == "Ines Okafor"
    assert strike.published == datetime(2024, 12, 3, 10, tzinfo=UTC)
    assert ferry.published == datetime(2024, 12, 2, 17, 30, tzinfo=UTC)
    assert ferry.summary is not None and "repaired & inspected" in ferry.summary
    assert ferry.author is None


def test_atom_entries() -> None:
    """An Atom feed gives ids, links made absolute, HTML titles as text, plain ones as is."""
    feed = parse_feed(ATOM, ATOM_URL)
    assert feed.title == "Coastal Courier"
    rescue, moorings = feed.items
    assert rescue.key == "tag:coastalcourier.example,2024:lifeboat-rescue"
    assert rescue.link == "https://coastalcourier.example/2024/12/lifeboat-rescue"
    assert rescue.title == "Lifeboat crew rescues three kayakers"
    assert (
        rescue.summary == "Three kayakers were brought ashore near Gull Point on Tuesday morning."
    )
    assert rescue.author == "Tomas Reyes"
    assert rescue.published == datetime(2024, 12, 3, 7, 45, tzinfo=UTC)
    assert moorings.title == "Rates < 5% for new harbour moorings"
    assert moorings.published == datetime(2024, 12, 2, 16, tzinfo=UTC)


def test_truncated_feed_keeps_the_items_before_the_break() -> None:
    """A feed cut off inside its third item still gives the first two, whole."""
    cut = RSS[: RSS.index(b"<title>Council approves")]
    feed = parse_feed(cut, RSS_URL)
    assert [item.title for item in feed.items[:2]] == [
        "Tram drivers vote to strike over rosters",
        "Harbour ferry service suspended after storm damage",
    ]
    assert feed.items[1].summary == (
        "The ferry between Westhaven and Port Ellis will not run until the pier is repaired"
        " & inspected."
    )


def test_feed_broken_before_any_item_is_an_error() -> None:
    """A feed cut off before its first item raises FeedError naming the feed."""
    with pytest.raises(FeedError, match=r"^https://harbourgazette\.example/feed\.xml: broken feed"):
        parse_feed(RSS[: RSS.index(b"<item>") + 10], RSS_URL)


def test_html_page_is_not_a_feed() -> None:
    """A web page given as a feed raises FeedError saying it is not RSS or Atom."""
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        parse_feed(PAGE.encode(), RSS_URL)


def test_a_feed_that_crashes_the_parser_is_an_error() -> None:
    """A character reference to a lone surrogate, which feedparser cannot encode, makes a
    FeedError naming the feed (found by the generated-input tests)."""
    with pytest.raises(FeedError, match=r"feed\.xml: unreadable feed \(UnicodeEncodeError\)"):
        parse_feed(b"<rss><channel><item><guid>&#xD800;</guid></item></channel></rss>", RSS_URL)


def test_items_without_guid_or_link_are_counted_not_kept() -> None:
    """An item with neither guid nor link is left out, and counted."""
    body = (
        b"<rss version='2.0'><channel><title>T</title>"
        b"<item><title>No identity</title><description>Lost</description></item>"
        b"<item><title>Linked</title><link>https://x.example/a</link></item>"
        b"</channel></rss>"
    )
    feed = parse_feed(body, "https://x.example/feed.xml")
    assert [item.key for item in feed.items] == ["https://x.example/a"]
    assert feed.untracked == 1


def test_edited_item_keeps_its_key() -> None:
    """An item edited in place keeps its guid as key, with the new text."""
    edited = RSS.replace(b"for <b>48 hours</b> next week", b"for 72 hours from Monday")
    before, after = parse_feed(RSS, RSS_URL).items[0], parse_feed(edited, RSS_URL).items[0]
    assert before.key == after.key
    assert after.summary is not None and after.summary.startswith(
        "Tram drivers in Westhaven have voted to strike for 72 hours from Monday."
    )
    assert before.summary != after.summary


def test_page_article_text_and_metadata() -> None:
    """A page gives its own text, title, author and publisher; the feed's exact time wins
    over the page's date (known to the day only)."""
    result = page_article(PAGE, "https://harbourgazette.example/tram-strike", ITEM, "hg/hg-1")
    article = result.article
    assert not result.summary_only
    assert article.source == "hg/hg-1"
    assert article.title == "Tram drivers vote to strike over rosters"
    assert (article.author, article.publisher) == ("Ines Okafor", "Harbour Gazette")
    assert "187 voted in favour of the walkout" in article.text
    assert article.published_at == datetime(2024, 12, 3, 10, tzinfo=UTC)
    assert "Subscribe to our newsletter" not in article.text


def test_one_story_under_two_urls_is_one_url() -> None:
    """The same story fetched from two URLs declaring one canonical link has that URL."""
    urls = [
        "https://harbourgazette.example/tram-strike?utm_source=rss",
        "https://harbourgazette.example/amp/tram-strike",
    ]
    found = {page_article(PAGE, url, None, "hg/hg-1").article.url for url in urls}
    assert found == {"https://harbourgazette.example/tram-strike"}


@pytest.mark.parametrize(
    ("head", "url"),
    [
        ('<link rel="canonical" href="/news/strike">', "https://hg.example/news/strike"),
        ('<meta property="og:url" content="https://hg.example/og">', "https://hg.example/og"),
        ('<base href="https://hg.example/">', "https://hg.example/amp/strike?x=1"),
        ("", "https://hg.example/amp/strike?x=1"),
    ],
)
def test_article_url_canonical_else_fetched(head: str, url: str) -> None:
    """A relative canonical link is made absolute; without a canonical link or og:url the
    URL is the one fetched (never a <base href>, often the site's root)."""
    article = page_article(_page(head), "https://hg.example/amp/strike?x=1", None, "hg/1").article
    assert article.url == url


def test_missing_page_fields_come_from_the_feed_item() -> None:
    """A page without title, author or date takes the feed item's."""
    article = page_article(_page(), "https://hg.example/s", ITEM, "hg/hg-1").article
    assert article.title == "Tram drivers vote to strike"
    assert article.author == "Ines Okafor"
    assert article.published_at == datetime(2024, 12, 3, 10, tzinfo=UTC)


def test_page_without_text_falls_back_to_the_summary() -> None:
    """A page with no article text raises ArticleError; the feed's summary stands in, marked."""
    empty = (
        '<html><head><title>Video</title></head><body><nav><a href="/">Home</a></nav>'
        '<div id="player"></div><footer>© Harbour Gazette</footer></body></html>'
    )
    with pytest.raises(ArticleError, match="no article text"):
        page_article(empty, "https://hg.example/s", ITEM, "hg/hg-1")
    result = summary_article(ITEM, "hg/hg-1")
    assert result.summary_only
    article = result.article
    assert article.text == "Tram drivers have voted to strike for 48 hours next week."
    assert (article.title, article.url) == (ITEM.title, ITEM.link)
    assert article.published_at == ITEM.published


def test_item_without_summary_has_no_fallback() -> None:
    """An item with no summary cannot stand in for its page: ArticleError says so."""
    with pytest.raises(ArticleError, match="no summary"):
        summary_article(replace(ITEM, summary=None), "hg/hg-1")


def test_page_date_kept_when_the_feed_has_none() -> None:
    """An item without a date leaves the page's own date."""
    undated = replace(ITEM, published=None)
    article = page_article(PAGE, "https://hg.example/s", undated, "hg/hg-1").article
    assert article.published_at == datetime(2024, 12, 3, tzinfo=UTC)
