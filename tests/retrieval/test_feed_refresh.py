"""Feeds followed and links added, against a real HTTP server on 127.0.0.1: what is new
is indexed and answerable, nothing is lost or kept twice, every failure is named."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from html import escape
from pathlib import Path

import pytest

from retrieval.engine import Engine
from retrieval.errors import IndexBusyError
from retrieval.feeds.fetcher import FetchPolicy
from retrieval.feeds.refresh import FetchError
from retrieval.settings import Settings
from tests.fakes import HashingEmbedder
from tests.feed_server import FeedServer, Reply
from tests.retrieval.test_fetcher import FAST as FETCH_FAST

FAST = replace(FETCH_FAST, read_timeout=1.0, max_bytes=1_000_000, retries=1)
"""The fetcher tests' short waits and loopback allowed; a 1 MB cap, so the 20 MB page fails."""
RSS_TYPE = "application/rss+xml"


@dataclass(frozen=True)
class Story:
    guid: str
    path: str
    title: str
    text: str
    summary: str = "A summary of the story."


FERRY = Story(
    "ferry",
    "/ferry",
    "Harbour ferry suspended after storm damage",
    "The ferry between Westhaven and Port Ellis will not run until the pier is repaired. "
    "Engineers found 14 cracked piles beneath the landing stage on Monday. "
    "Passengers are offered a replacement bus, which takes an hour longer.",
)
LANES = Story(
    "lanes",
    "/lanes",
    "Council approves new cycle lanes",
    "Councillors voted 9 to 4 for three protected cycle lanes along the seafront. "
    "Work on the first lane begins in March and costs 2.3 million pounds.",
)


def rss(server: FeedServer, *stories: Story, title: str = "Harbour Gazette") -> str:
    items = "".join(
        f"<item><title>{escape(s.title)}</title><link>{server.url(s.path)}</link>"
        f'<guid isPermaLink="false">{s.guid}</guid>'
        f"<pubDate>Tue, 03 Dec 2024 10:00:00 GMT</pubDate>"
        f"<description>{escape(s.summary)}</description></item>"
        for s in stories
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"{items}</channel></rss>"
    )


def page(story: Story, canonical: str | None = None) -> str:
    head = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    sentences = "".join(f"<p>{escape(s.strip())}.</p>" for s in story.text.split(". ") if s)
    return (
        f"<html><head><title>{escape(story.title)}</title>{head}</head>"
        f"<body><article><h1>{escape(story.title)}</h1>{sentences}</article></body></html>"
    )


def serve(server: FeedServer, *stories: Story) -> None:
    for story in stories:
        server.route(story.path, page(story))


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as running:
        yield running


@pytest.fixture
async def engine(settings: Settings, embedder: HashingEmbedder) -> AsyncIterator[Engine]:
    async with await Engine.open(settings, embedder) as opened:
        opened.fetch_policy = FAST
        yield opened


async def titles_cited(engine: Engine, question: str, collection: str = "shared") -> list[str]:
    answer = await engine.ask(question, k=5, collection=collection)
    return [passage.citation.title for passage in answer.passages]


async def test_new_stories_are_answerable_after_one_refresh(
    server: FeedServer, engine: Engine
) -> None:
    """A feed's stories are fetched, indexed and cited with their page's title and URL."""
    server.route("/feed.xml", rss(server, FERRY, LANES), content_type=RSS_TYPE)
    serve(server, FERRY, LANES)
    assert await engine.add_feed(server.url("/feed.xml"))
    report = await engine.refresh_feeds()
    assert sorted(report.added) == sorted([FERRY.title, LANES.title])
    assert report.failed == [] and report.summary is not None
    answer = await engine.ask("How many cracked piles were found under the landing stage?")
    assert answer.passages[0].citation.title == FERRY.title
    assert answer.passages[0].citation.url == server.url("/ferry")
    assert answer.passages[0].citation.publisher == "Harbour Gazette"
    assert not answer.passages[0].citation.summary_only
    [feed] = await engine.feeds()
    assert (feed.title, feed.items, feed.error) == ("Harbour Gazette", 2, None)


async def test_nothing_new_means_no_page_fetch_and_no_reindex(
    server: FeedServer, engine: Engine
) -> None:
    """A 304 (sent back the feed's ETag) or an unchanged feed fetches no page again."""
    body = rss(server, FERRY)
    server.sequence(
        "/feed.xml",
        Reply(body, content_type=RSS_TYPE, headers={"ETag": '"v1"'}),
        Reply(body, content_type=RSS_TYPE),
        Reply(status=304),
    )
    serve(server, FERRY)
    await engine.add_feed(server.url("/feed.xml"))
    await engine.refresh_feeds()
    again = await engine.refresh_feeds()  # unchanged body, no ETag this time
    third = await engine.refresh_feeds()  # 304
    assert (again.added, again.updated, again.summary, again.unchanged) == ([], [], None, 1)
    assert (third.added, third.summary, third.unchanged) == ([], None, 1)
    assert len(server.seen("/ferry")) == 1
    assert server.seen("/feed.xml")[1].headers.get("If-None-Match") == '"v1"'


async def test_edited_story_replaces_its_older_version(server: FeedServer, engine: Engine) -> None:
    server.route("/feed.xml", rss(server, FERRY), content_type=RSS_TYPE)
    serve(server, FERRY)
    await engine.add_feed(server.url("/feed.xml"))
    await engine.refresh_feeds()
    edited = Story(
        FERRY.guid,
        FERRY.path,
        "Harbour ferry to resume on Friday",
        "The ferry between Westhaven and Port Ellis resumes on Friday after repairs. "
        "Divers replaced 14 cracked piles beneath the landing stage.",
        "Updated: the ferry resumes on Friday.",
    )
    server.route("/feed.xml", rss(server, edited), content_type=RSS_TYPE)
    serve(server, edited)
    report = await engine.refresh_feeds()
    assert (report.added, report.updated) == ([], [edited.title])
    assert (await engine.stats()).articles == 1
    assert await titles_cited(engine, "When does the ferry resume?") == [edited.title]


async def test_one_story_under_two_urls_or_two_feeds_is_kept_once(
    server: FeedServer, engine: Engine
) -> None:
    """A tracking-parameter copy that declares the same canonical page, and a copy of the
    same text on another feed, are both the one story."""
    tracked = Story("ferry-rss", "/ferry-amp", FERRY.title, FERRY.text)
    server.route("/feed.xml", rss(server, FERRY, tracked), content_type=RSS_TYPE)
    server.route("/ferry", page(FERRY, canonical=server.url("/ferry")))
    server.route("/ferry-amp", page(FERRY, canonical=server.url("/ferry")))
    copy = Story("syndicated", "/wire/ferry", FERRY.title, FERRY.text)
    server.route("/wire.xml", rss(server, copy, title="Wire"), content_type=RSS_TYPE)
    server.route("/wire/ferry", page(copy))
    await engine.add_feed(server.url("/feed.xml"))
    await engine.add_feed(server.url("/wire.xml"))
    report = await engine.refresh_feeds()
    assert report.added == [FERRY.title] and report.duplicates == 2
    assert (await engine.stats()).articles == 1


async def test_stories_that_drop_off_the_feed_stay_indexed(
    server: FeedServer, engine: Engine
) -> None:
    server.route("/feed.xml", rss(server, FERRY), content_type=RSS_TYPE)
    serve(server, FERRY, LANES)
    await engine.add_feed(server.url("/feed.xml"))
    await engine.refresh_feeds()
    server.route("/feed.xml", rss(server, LANES), content_type=RSS_TYPE)
    report = await engine.refresh_feeds()
    assert report.added == [LANES.title]
    assert (await engine.stats()).articles == 2


async def test_unfetchable_pages_fall_back_to_the_feed_summary_and_are_named(
    server: FeedServer, engine: Engine
) -> None:
    """A 404, a page past the timeout, a 20 MB page, a redirect loop and a PDF: each story
    is kept as its feed summary, marked so, and each failure names the feed and the URL."""
    broken = {
        "/gone": Reply("no", status=404, content_type="text/plain"),
        "/slow": Reply(page(FERRY), delay=3.0),
        "/huge": Reply("<p>" + "x" * 65_536, repeat=320, chunked=True),
        "/loop": Reply(status=302, headers={"Location": "/loop"}),
        "/pdf": Reply(b"%PDF-1.7", content_type="application/pdf"),
    }
    stories = [
        Story(path.strip("/"), path, f"Story {n}", "", f"Summary number {n} of a story.")
        for n, path in enumerate(broken, start=1)
    ]
    server.route("/feed.xml", rss(server, *stories), content_type=RSS_TYPE)
    for path, reply in broken.items():
        server.sequence(path, reply)
    feed = server.url("/feed.xml")
    await engine.add_feed(feed)
    report = await engine.refresh_feeds()
    assert sorted(report.added) == sorted(story.title for story in stories)
    assert report.summaries == len(stories)
    assert {(failure.feed, failure.url) for failure in report.failed} == {
        (feed, server.url(path)) for path in broken
    }
    assert all("summary is indexed instead" in failure.reason for failure in report.failed)
    answer = await engine.ask("Summary number 4 of a story", k=1)
    assert answer.passages[0].citation.summary_only
    await server.settled()


async def test_a_failing_feed_never_stops_the_others(server: FeedServer, engine: Engine) -> None:
    """Broken XML, a 404 and a 500 are reported by feed; the good feed is indexed, and a
    500 then 200 recovers at the next refresh."""
    server.route("/good.xml", rss(server, FERRY), content_type=RSS_TYPE)
    serve(server, FERRY, LANES)
    server.route("/broken.xml", "<rss><channel><title>Oops", content_type=RSS_TYPE)
    server.sequence(
        "/flaky.xml",
        Reply("down", status=500, content_type="text/plain"),
        Reply("down", status=500, content_type="text/plain"),
        Reply(rss(server, LANES), content_type=RSS_TYPE),
    )
    for path in ("/good.xml", "/broken.xml", "/missing.xml", "/flaky.xml"):
        await engine.add_feed(server.url(path))
    report = await engine.refresh_feeds()
    assert report.added == [FERRY.title]
    assert {failure.feed for failure in report.failed} == {
        server.url(path) for path in ("/broken.xml", "/missing.xml", "/flaky.xml")
    }
    errors = {feed.url: feed.error for feed in await engine.feeds()}
    assert errors[server.url("/missing.xml")] == "HTTP 404"
    later = await engine.refresh_feeds()
    assert later.added == [LANES.title]
    assert (await engine.stats()).articles == 2


async def test_feeds_are_per_collection(server: FeedServer, engine: Engine) -> None:
    """A server's feed is answered in that server's collection only."""
    server.route("/feed.xml", rss(server, FERRY), content_type=RSS_TYPE)
    serve(server, FERRY, LANES)
    await engine.add_feed(server.url("/feed.xml"), collection="server-1", report_channel=42)
    reports = await engine.refresh_all_feeds()
    assert list(reports) == ["server-1"]
    assert await engine.report_channel("server-1") == 42
    assert await engine.feeds("shared") == []
    assert FERRY.title in await titles_cited(engine, "cracked piles", "server-1")
    await engine.add_link(server.url("/lanes"), collection="server-2")
    assert FERRY.title not in await titles_cited(engine, "cracked piles", "server-2")


async def test_the_shared_collection_reports_to_the_configured_channel(
    settings: Settings, embedder: HashingEmbedder
) -> None:
    """feed_report_channel names the shared collection's report channel; a server's
    collection reports where its /feeds add said, and nowhere before."""
    configured = settings.model_copy(update={"feed_report_channel": 7})
    async with await Engine.open(configured, embedder) as engine:
        assert await engine.report_channel() == 7
        assert await engine.report_channel("server-1") is None
        await engine.add_feed("https://news.example/feed.xml", collection="server-1")
        assert await engine.report_channel("server-1") is None
        await engine.add_feed("https://news.example/feed.xml", report_channel=9)
        assert await engine.report_channel() == 9


async def test_removed_feed_is_no_longer_polled_and_its_stories_stay(
    server: FeedServer, engine: Engine
) -> None:
    server.route("/feed.xml", rss(server, FERRY), content_type=RSS_TYPE)
    serve(server, FERRY)
    url = server.url("/feed.xml")
    await engine.add_feed(url)
    await engine.refresh_feeds()
    assert await engine.remove_feed(url)
    assert not await engine.remove_feed(url)
    await engine.refresh_feeds()
    assert len(server.seen("/feed.xml")) == 1
    assert (await engine.stats()).articles == 1


async def test_link_is_fetched_and_answerable_at_once(server: FeedServer, engine: Engine) -> None:
    serve(server, LANES)
    article, summary = await engine.add_link(server.url("/lanes"))
    assert article.title == LANES.title and summary.new == 1
    assert await titles_cited(engine, "How much do the cycle lanes cost?") == [LANES.title]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.org/a", "only http and https"),
        ("/missing", "HTTP 404"),
    ],
)
async def test_bad_links_are_refused_with_the_reason(
    server: FeedServer, engine: Engine, url: str, reason: str
) -> None:
    target = server.url(url) if url.startswith("/") else url
    with pytest.raises(FetchError, match=reason):
        await engine.add_link(target)


async def test_private_addresses_are_refused_unless_allowed(
    server: FeedServer, engine: Engine
) -> None:
    """With the default policy (fetch_allow_private off) the loopback server is refused."""
    serve(server, LANES)
    engine.fetch_policy = FetchPolicy()
    with pytest.raises(FetchError, match="address"):
        await engine.add_link(server.url("/lanes"))
    assert server.requests == []


async def test_a_story_kept_as_its_summary_gets_its_page_once_it_answers(
    server: FeedServer, engine: Engine
) -> None:
    server.route("/feed.xml", rss(server, FERRY), content_type=RSS_TYPE)
    server.sequence(FERRY.path, Reply("down", status=404, content_type="text/plain"))
    await engine.add_feed(server.url("/feed.xml"))
    first = await engine.refresh_feeds()
    assert first.summaries == 1
    serve(server, FERRY)
    later = await engine.refresh_feeds()
    assert later.updated == [FERRY.title] and later.summaries == 0
    answer = await engine.ask("How many cracked piles were found?", k=1)
    assert not answer.passages[0].citation.summary_only


async def test_a_failing_page_never_replaces_the_full_story_with_its_summary(
    server: FeedServer, engine: Engine
) -> None:
    server.route("/feed.xml", rss(server, FERRY), content_type=RSS_TYPE)
    serve(server, FERRY)
    await engine.add_feed(server.url("/feed.xml"))
    await engine.refresh_feeds()
    retitled = Story(FERRY.guid, FERRY.path, "Ferry suspended", FERRY.text, "Edited summary.")
    server.route("/feed.xml", rss(server, retitled), content_type=RSS_TYPE)
    server.route(FERRY.path, "down", status=503, content_type="text/plain")
    report = await engine.refresh_feeds()
    assert (report.added, report.updated) == ([], [])
    answer = await engine.ask("How many cracked piles were found?", k=1)
    assert "14 cracked piles" in answer.passages[0].text
    assert not answer.passages[0].citation.summary_only


async def test_a_story_read_not_at_all_is_read_again_though_the_feed_is_unchanged(
    server: FeedServer, engine: Engine
) -> None:
    """Its page gave nothing and it has no summary: the feed's ETag is not kept, so the
    next poll reads the feed again rather than being told "not modified"."""
    bare = Story(FERRY.guid, FERRY.path, FERRY.title, FERRY.text, summary="")
    server.route("/feed.xml", rss(server, bare), content_type=RSS_TYPE, headers={"ETag": '"v1"'})
    server.sequence(FERRY.path, Reply("down", status=404, content_type="text/plain"))
    await engine.add_feed(server.url("/feed.xml"))
    first = await engine.refresh_feeds()
    assert first.added == [] and [f.url for f in first.failed] == [server.url(FERRY.path)]
    serve(server, FERRY)
    later = await engine.refresh_feeds()
    assert "If-None-Match" not in server.seen("/feed.xml")[1].headers
    assert later.added == [FERRY.title]


async def test_one_refresh_of_a_collection_across_processes(
    server: FeedServer, engine: Engine
) -> None:
    """While another process (here: the lock held) refreshes a collection's feeds, this
    one refuses to, and the scheduled round skips that collection."""
    server.route("/feed.xml", rss(server, FERRY), content_type=RSS_TYPE)
    serve(server, FERRY)
    await engine.add_feed(server.url("/feed.xml"), collection="server-1")
    index = await engine.collection("server-1")
    with index.data.feeds_lock():
        with pytest.raises(IndexBusyError, match="another process"):
            await engine.refresh_feeds(collection="server-1")
        assert await engine.refresh_all_feeds() == {}
    assert server.seen("/feed.xml") == []


async def test_a_broken_collection_does_not_stop_the_others(
    server: FeedServer, engine: Engine, settings: Settings
) -> None:
    """A stray folder and a collection whose index is of another format are logged and
    passed by; the next collection's feeds are refreshed."""
    collections = settings.data_dir / "collections"
    (collections / "Not A Name").mkdir(parents=True)
    server.route("/feed.xml", rss(server, FERRY), content_type=RSS_TYPE)
    serve(server, FERRY)
    await engine.add_feed(server.url("/feed.xml"), collection="server-1")
    await engine.add_feed(server.url("/feed.xml"), collection="server-2")
    await engine.refresh_feeds(collection="server-1")
    await engine.close()
    manifest = next((collections / "server-1" / "index").rglob("manifest.json"))
    manifest.write_text(manifest.read_text().replace('"format": 3', '"format": 1'))
    async with await Engine.open(settings, HashingEmbedder()) as reopened:
        reopened.fetch_policy = FAST
        reports = await reopened.refresh_all_feeds()
    assert list(reports) == ["server-2"] and reports["server-2"].added == [FERRY.title]


async def test_without_include_shared_a_server_sees_only_its_own(
    server: FeedServer, settings: Settings, collection: Path
) -> None:
    (collection / "lanes.jsonl").write_text(
        json.dumps({"id": "lanes", "title": LANES.title, "text": LANES.text}) + "\n"
    )
    serve(server, FERRY)
    alone = settings.model_copy(update={"include_shared": False})
    async with await Engine.open(alone, HashingEmbedder()) as engine:
        engine.fetch_policy = FAST
        await engine.reindex()
        await engine.add_link(server.url(FERRY.path), collection="server-1")
        assert await titles_cited(engine, "cycle lanes cost", "server-1") == [FERRY.title]
        assert LANES.title in await titles_cited(engine, "cycle lanes cost")
