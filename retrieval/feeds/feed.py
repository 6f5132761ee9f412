"""Feeds and the pages they link to, as articles: RSS and Atom read with feedparser, page
text and metadata with the same extraction as HTML files."""

from __future__ import annotations

import calendar
import io
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import trafilatura

from retrieval.errors import ArticleError, CitebotError
from retrieval.ingest.fields import clean_field, paragraphs
from retrieval.ingest.html import parse_html
from retrieval.types import Article


class FeedError(CitebotError):
    """A feed cannot be read: not RSS or Atom, or broken before its first entry."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class FeedItem:
    """One entry of a feed.

    Attributes:
        key: the entry's identity across polls: its guid (RSS) or id (Atom), else its link.
            An edited story keeps its key.
        link: the story's page (absolute), or None.
        title, author: None when the feed does not say.
        summary: the feed's summary as plain text (HTML reduced to its text, on one line),
            or None.
        published: publication time, else last update, timezone-aware; None when unknown.
    """

    key: str
    link: str | None
    title: str | None
    summary: str | None
    author: str | None
    published: datetime | None


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's title and entries, in feed order.

    Attributes:
        untracked: entries left out for having neither guid nor link: nothing would tell
            them apart from one poll to the next.
    """

    title: str | None
    items: tuple[FeedItem, ...]
    untracked: int = 0


@dataclass(frozen=True)
class FeedArticle:
    """An article from a feed, and whether its text is only the feed's summary of it."""

    article: Article
    summary_only: bool


def parse_feed(body: bytes, feed_url: str) -> ParsedFeed:
    """The feed's title and entries; relative links are read against ``feed_url``.

    A broken feed (truncated, bad XML) gives the entries read before the break.

    Raises:
        FeedError: not an RSS or Atom feed, broken before its first entry, or one that
            crashes the parser.
    """
    try:
        parsed = feedparser.parse(
            # A stream, not bytes: feedparser opens bytes that happen to name a file.
            io.BytesIO(body),
            # The caller fetched this as a feed; without a type feedparser flags every feed.
            response_headers={"content-location": feed_url, "content-type": "application/xml"},
        )
    except Exception as error:  # feedparser crashes on some input (e.g. "&#xD800;")
        raise FeedError(feed_url, f"unreadable feed ({type(error).__name__})") from error
    items = [_item(entry) for entry in parsed.entries]
    kept = tuple(item for item in items if item is not None)
    if not kept:
        if not parsed.get("version"):
            raise FeedError(feed_url, "not an RSS or Atom feed")
        if parsed.bozo:
            raise FeedError(feed_url, f"broken feed: {parsed.get('bozo_exception')}")
    return ParsedFeed(
        title=clean_field(_plain(parsed.feed, "title")),
        items=kept,
        untracked=len(items) - len(kept),
    )


def _item(entry: Any) -> FeedItem | None:
    link = clean_field(entry.get("link"))
    key = clean_field(entry.get("id")) or link
    if key is None:
        return None
    author = entry.get("author_detail", {}).get("name") or entry.get("author")
    return FeedItem(
        key=key,
        link=link,
        title=clean_field(_plain(entry, "title")),
        summary=_plain(entry, "summary") or None,
        author=clean_field(author),
        published=_when(entry.get("published_parsed") or entry.get("updated_parsed")),
    )


def _plain(element: Any, name: str) -> str:
    """A text field as plain text. HTML (by the type the feed declares, so a plain
    "Rates < 5%" is left alone) is reduced to its text, on one line with blocks spaced."""
    value = str(element.get(name) or "")
    kind = element.get(f"{name}_detail", {}).get("type", "text/plain")
    if "html" in kind:
        value = trafilatura.html2txt(f"<html><body>{value}</body></html>")
    return paragraphs(value)


def _when(parsed: Any) -> datetime | None:
    """feedparser's time (a UTC struct_time) as an aware datetime."""
    return None if parsed is None else datetime.fromtimestamp(calendar.timegm(parsed), UTC)


def page_article(html: str, page_url: str, item: FeedItem | None, source: str) -> FeedArticle:
    """The page's article: text and metadata from the page, the feed item's where it has none.

    The date is the feed item's when it has one: the publisher's own, to the second,
    where the page's is found by heuristics and kept to the day only.

    The URL is the one the page declares canonical, so one story reached under two URLs
    (tracking parameters, AMP copies) is one article; else ``page_url``, where the page
    was fetched from (after redirects).

    Raises:
        ArticleError: the page has no article text (then :func:`summary_article`).
    """
    page = parse_html(html, source)
    article = replace(page, url=_canonical_url(html, page_url))
    if item is not None:
        untitled = source.rsplit("/", 1)[-1]  # parse_html's stand-in title
        article = replace(
            article,
            title=item.title if article.title == untitled and item.title else article.title,
            author=article.author or item.author,
            published_at=item.published or article.published_at,
        )
    return FeedArticle(article, summary_only=False)


def _canonical_url(html: str, page_url: str) -> str:
    """The page's <link rel=canonical>, else its og:url, made absolute; else ``page_url``.

    Read here rather than taken from trafilatura's metadata URL, which falls back to
    <base href> (often the site's root: every story on the site would be one article)
    and drops a relative canonical link.
    """
    tree = trafilatura.load_html(html)
    if tree is None:
        return page_url
    declared = tree.xpath('//head/link[@rel="canonical"]/@href')
    declared += tree.xpath('//head/meta[@property="og:url"]/@content')
    for candidate in declared:
        url = urljoin(page_url, str(candidate).strip())
        if urlsplit(url).scheme in ("http", "https"):
            return url
    return page_url


def summary_article(item: FeedItem, source: str) -> FeedArticle:
    """The feed's own summary and date as the article, for a page that cannot be fetched
    or has no article text.

    Raises:
        ArticleError: the item has no summary either.
    """
    if not item.summary:
        raise ArticleError(source, "the feed item has no summary and its page gave no text")
    article = Article(
        source=source,
        title=item.title or source.rsplit("/", 1)[-1],
        text=item.summary,
        author=item.author,
        url=item.link,
        published_at=item.published,
        summary_only=True,
    )
    return FeedArticle(article, summary_only=True)
