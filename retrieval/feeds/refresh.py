"""Polling a collection's feeds, and fetching single links, into article files.

Each story is one JSON Lines file in the collection folder, named after the story's URL
(canonical where the page declares one), so the indexer reads it like any upload and an
incremental reindex embeds only what is new. The same story reached under two URLs, or
from two feeds, is one file; an edited entry rewrites its file; an entry that drops off
its feed keeps its file, so it stays indexed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from retrieval.errors import ArticleError, CitebotError
from retrieval.feeds.feed import (
    FeedArticle,
    FeedError,
    FeedItem,
    ParsedFeed,
    page_article,
    parse_feed,
    summary_article,
)
from retrieval.feeds.fetcher import Fetcher, FetchResult
from retrieval.feeds.registry import FeedRecord, FeedRegistry, KnownItem
from retrieval.index.indexer import text_hash
from retrieval.ingest.decoding import decode_bytes
from retrieval.types import Article, IndexSummary

FEEDS_FOLDER = "feeds"
"""Where feed stories are kept in a collection folder."""
LINKS_FOLDER = "links"
"""Where pages added by link (``/ingest url``, ``citebot index --url``) are kept."""
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
SUMMARY_MARK = "summary:"
"""Marks the fingerprint of an entry kept as its feed's summary, so it is read again."""
DISTINCT_TEXT = 200
"""Texts shorter than this (characters) are not taken for the same story by text alone."""

log = logging.getLogger(__name__)


def shown_url(url: str) -> str:
    """``url`` as it may be shown or logged: without a user name or password in it."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class FetchError(CitebotError):
    """A link could not be turned into an article: the fetch failed or the page has no text."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{shown_url(url)}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class FetchFailure:
    """Something a refresh could not fetch or read: a feed, or one story's page.

    Attributes:
        feed: the feed's URL.
        url: what failed: the feed itself or a story's page.
        reason: why, for a person.
    """

    feed: str
    url: str
    reason: str


@dataclass
class RefreshReport:
    """What a refresh did: stories added and updated (by title), failures, and the
    reindex that took them in (None when there was nothing to index).

    Attributes:
        duplicates: stories already kept under another URL or from another feed.
        summaries: stories kept as their feed's summary (their page gave no text).
        unchanged: feeds that had nothing new.
    """

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    failed: list[FetchFailure] = field(default_factory=list)
    duplicates: int = 0
    summaries: int = 0
    unchanged: int = 0
    summary: IndexSummary | None = None

    @property
    def saved(self) -> bool:
        """Whether any story file was written."""
        return bool(self.added or self.updated)

    def merge(self, other: RefreshReport) -> None:
        self.added += other.added
        self.updated += other.updated
        self.failed += other.failed
        self.duplicates += other.duplicates
        self.summaries += other.summaries
        self.unchanged += other.unchanged


async def poll_feeds(
    registry: FeedRegistry, fetcher: Fetcher, folder: Path, only: str | None = None
) -> RefreshReport:
    """Poll every feed (or only the one at URL ``only``) and save what is new or edited.

    Feeds are fetched concurrently (the fetcher keeps to its per-host limits); a failing
    feed is reported and the others go on. Stories are saved one feed after another, so
    that a story two feeds carry is kept once. A feed's validators (ETag, Last-Modified)
    are kept only once its stories are saved, so a refresh cut short, or a story that
    could not be read at all, is fetched again next time rather than answered by a 304.
    """
    feeds = [feed for feed in await registry.feeds() if only is None or feed.url == only]
    reads = await asyncio.gather(*(_read_feed(registry, fetcher, feed) for feed in feeds))
    report = RefreshReport()
    if any(read.stories for read in reads):
        # set before any file is written: a refresh cut short is indexed by the next one
        await registry.set_pending_reindex(True)
    for read in reads:
        report.merge(await _save_feed(registry, folder, read))
        if read.parsed is not None:
            complete = not read.unread
            await registry.polled(
                read.feed.url,
                title=read.parsed.title,
                etag=read.validators[0] if complete else None,
                last_modified=read.validators[1] if complete else None,
            )
    return report


async def fetch_link(fetcher: Fetcher, url: str, folder: Path) -> Article:
    """Fetch the page at ``url`` and save it as an article file under ``links/``.

    Raises:
        FetchError: the page could not be fetched, is not a web page, or has no text.
    """
    result = await fetcher.fetch(url)
    try:
        found = await asyncio.to_thread(_page_story, result, None, url)
    except ArticleError as error:
        raise FetchError(url, error.reason) from None
    article = found.article
    await asyncio.to_thread(
        _write_story, folder / _story_file(LINKS_FOLDER, article.url or url), article
    )
    return article


@dataclass
class _FeedRead:
    """One feed's poll before anything is saved: its new or edited entries, read.

    Attributes:
        parsed: the feed as read (None when it was unchanged or failed).
        validators: the ETag and Last-Modified the feed came with.
        unread: entries with neither page text nor summary: read again next time.
    """

    feed: FeedRecord
    known: dict[str, KnownItem]
    parsed: ParsedFeed | None = None
    validators: tuple[str | None, str | None] = (None, None)
    stories: list[tuple[FeedItem, FeedArticle]] = field(default_factory=list)
    failed: list[FetchFailure] = field(default_factory=list)
    unread: int = 0
    unchanged: bool = False


async def _read_feed(registry: FeedRegistry, fetcher: Fetcher, feed: FeedRecord) -> _FeedRead:
    read = _FeedRead(feed, await registry.items(feed.url))
    result = await fetcher.fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified)
    if result.status == "not_modified":
        await registry.polled(feed.url, etag=result.etag, last_modified=result.last_modified)
        read.unchanged = True
        return read
    try:
        if result.status == "failed":
            raise FeedError(feed.url, result.reason or "the fetch failed")
        parsed = await asyncio.to_thread(parse_feed, result.body, result.final_url)
    except FeedError as error:
        await registry.polled(feed.url, error=error.reason)
        read.failed.append(FetchFailure(feed.url, feed.url, error.reason))
        return read
    read.parsed, read.validators = parsed, (result.etag, result.last_modified)
    fresh = [
        item
        for item in parsed.items
        if (known := read.known.get(item.key)) is None or known.fingerprint != _fingerprint(item)
    ]
    read.unchanged = not fresh
    stories = await asyncio.gather(
        *(_read_story(fetcher, feed, item, parsed.title) for item in fresh)
    )
    for item, (story, failure) in zip(fresh, stories, strict=True):
        if failure is not None:
            read.failed.append(failure)
        if story is not None:
            read.stories.append((item, story))
        else:
            read.unread += 1
    return read


async def _read_story(
    fetcher: Fetcher, feed: FeedRecord, item: FeedItem, feed_title: str | None
) -> tuple[FeedArticle | None, FetchFailure | None]:
    """The entry's page as an article; else its summary, with the failure that made it one.

    Nothing one page does (a malformed link in it, say) escapes: it becomes a failure.
    """
    where = item.link or item.key
    reason = "the entry has no link"
    if item.link:
        result = await fetcher.fetch(item.link)
        try:
            # decoding and extraction are CPU work: off the event loop, which may be a bot's
            story = await asyncio.to_thread(_page_story, result, item, where)
            return _with_publisher(story, feed_title), None
        except ArticleError as error:
            reason = error.reason
        except Exception as error:  # a page must never stop its feed's refresh
            log.warning("reading %s failed", where, exc_info=True)
            reason = f"could not be read ({type(error).__name__})"
    try:
        story = _with_publisher(summary_article(item, where), feed_title)
    except ArticleError as error:
        return None, FetchFailure(feed.url, where, f"{reason}; {error.reason}")
    return story, FetchFailure(feed.url, where, f"{reason}; the feed's summary is indexed instead")


def _page_story(result: FetchResult, item: FeedItem | None, source: str) -> FeedArticle:
    """The fetched page as an article (blocking: run it in a thread).

    Raises:
        ArticleError: the fetch failed, gave no web page, or the page has no text.
    """
    return page_article(_page_html(result), result.final_url, item, source)


def _page_html(result: FetchResult) -> str:
    """The body of a fetched web page as text.

    Raises:
        ArticleError: the fetch failed or gave something else than a web page.
    """
    if result.status != "ok":
        raise ArticleError(result.url, result.reason or "the fetch failed")
    if result.content_type not in PAGE_TYPES:
        raise ArticleError(result.url, f"not a web page ({result.content_type})")
    if result.charset:
        try:
            return result.body.decode(result.charset, errors="replace")
        except LookupError:  # a charset Python does not know: detect it instead
            pass
    return decode_bytes(result.body, result.url)


def _with_publisher(story: FeedArticle, feed_title: str | None) -> FeedArticle:
    """The feed's title as publisher where the page names none."""
    if story.article.publisher or not feed_title:
        return story
    return replace(story, article=replace(story.article, publisher=feed_title))


async def _save_feed(registry: FeedRegistry, folder: Path, read: _FeedRead) -> RefreshReport:
    report = RefreshReport(failed=read.failed, unchanged=int(read.unchanged))
    for item, story in read.stories:
        article = story.article
        old = read.known.get(item.key)
        digest = text_hash(article.text)
        # a story kept as its summary is read again at every poll until its page answers
        fingerprint = SUMMARY_MARK * story.summary_only + _fingerprint(item)
        if old is not None and story.summary_only and not old.fingerprint.startswith(SUMMARY_MARK):
            # the page failed this time: its full text, kept before, stays
            await registry.remember(read.feed.url, item.key, replace(old, fingerprint=fingerprint))
            continue
        file = old.file if old else await _new_file(registry, folder, article, item)
        twin = None if _too_plain(story) else await registry.file_with_text(digest)
        if twin is not None and twin != file:
            report.duplicates += 1  # the same text, already kept under another URL or feed
            await registry.remember(read.feed.url, item.key, KnownItem(fingerprint, digest, twin))
            continue
        if await asyncio.to_thread(_write_story, folder / file, article):
            (report.updated if old else report.added).append(article.title)
            report.summaries += story.summary_only
        elif old is None:
            report.duplicates += 1  # the same story, reached from another feed
        await registry.remember(read.feed.url, item.key, KnownItem(fingerprint, digest, file))
    return report


async def _new_file(registry: FeedRegistry, folder: Path, article: Article, item: FeedItem) -> str:
    """The file for a new entry: named after the story's (canonical) URL, so one story
    reached under two URLs is one file; when that file holds another text (a site whose
    every page declares its home page canonical, say), named after the entry instead."""
    file = _story_file(FEEDS_FOLDER, article.url or item.key)
    held = await registry.text_of_file(file)
    if (folder / file).exists() and held is not None and held != text_hash(article.text):
        return _story_file(FEEDS_FOLDER, f"{item.key} {item.link}")
    return file


def _too_plain(story: FeedArticle) -> bool:
    """Whether the text says too little to tell two stories apart by it: a summary
    ("Read more…") or a short page (a cookie wall)."""
    return story.summary_only or len(story.article.text) < DISTINCT_TEXT


def _fingerprint(item: FeedItem) -> str:
    """What the feed says of an entry; an edit of the entry changes it."""
    fields = [item.link, item.title, item.summary, item.published and item.published.isoformat()]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def _story_file(kind: str, url: str) -> str:
    """The file, relative to the collection folder, that holds the story at ``url``."""
    return f"{kind}/{hashlib.sha256(url.encode()).hexdigest()[:24]}.jsonl"


def _write_story(path: Path, article: Article) -> bool:
    """Write the article as one JSON line, atomically; False when the file already held it."""
    record = {
        "id": "story",
        "title": article.title,
        "text": article.text,
        "publisher": article.publisher,
        "author": article.author,
        "url": article.url,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "summary_only": article.summary_only,
    }
    data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # hidden (the indexer passes it by) and unique (another process may write the same story)
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    Path(scratch).replace(path)
    return True
