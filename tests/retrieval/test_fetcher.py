"""The feed and page fetcher against a real local HTTP server: politeness, limits, failures."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from retrieval.feeds.fetcher import (
    Fetcher,
    FetchPolicy,
    HostLimits,
    address_refusal,
    retry_after_seconds,
)
from tests.feed_server import FeedServer, Reply

FAST = FetchPolicy(
    timeout=2.0,
    read_timeout=2.0,
    retries=2,
    backoff_base=0.05,
    backoff_cap=0.1,
    per_host_delay=0.0,
    allow_private=True,
)
"""Short waits, and the loopback server allowed."""


async def test_page_fetched() -> None:
    """A 200 gives the body, its content type and charset, and the validators."""
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.route("/story", "<p>Hello</p>", headers={"ETag": '"v1"'})
        result = await fetcher.fetch(server.url("/story"))
    assert (result.status, result.http_status, result.body) == ("ok", 200, b"<p>Hello</p>")
    assert (result.content_type, result.charset, result.etag) == ("text/html", "utf-8", '"v1"')
    assert result.reason is None


async def test_user_agent_sent() -> None:
    """Every request names citebot in its User-Agent."""
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.route("/story", "x")
        await fetcher.fetch(server.url("/story"))
    assert server.seen("/story")[0].headers["User-Agent"] == FAST.user_agent


async def test_not_found_fails_with_status() -> None:
    """A 404 fails at once, naming the status, without retrying."""
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        result = await fetcher.fetch(server.url("/gone"))
    assert (result.status, result.http_status, result.body) == ("failed", 404, b"")
    assert result.reason == "HTTP 404"
    assert len(server.seen("/gone")) == 1


async def test_too_many_requests_waits_for_retry_after() -> None:
    """A 429 with Retry-After: 1 is retried after about a second, then succeeds."""
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.sequence(
            "/feed.xml", Reply(status=429, headers={"Retry-After": "1"}), Reply(body="<rss/>")
        )
        result = await fetcher.fetch(server.url("/feed.xml"))
    first, second = server.seen("/feed.xml")
    assert (result.status, result.body) == ("ok", b"<rss/>")
    assert second.at - first.at >= 0.95


async def test_a_longer_retry_after_than_allowed_is_honoured_by_every_fetcher() -> None:
    """Asked to come back in an hour, neither this fetcher nor another sharing its host
    limits (the next refresh, an /ingest url) asks that server again meanwhile."""
    hosts = HostLimits(FAST)
    async with FeedServer() as server:
        server.route("/feed.xml", status=503, headers={"Retry-After": "3600"})
        async with Fetcher(FAST, hosts) as fetcher:
            result = await fetcher.fetch(server.url("/feed.xml"))
        async with Fetcher(FAST, hosts) as later:
            again = await later.fetch(server.url("/story"))
    assert result.status == "failed"
    assert result.reason == "HTTP 503, asked to retry after 3600 s"
    assert again.status == "failed" and "left alone for 3600 s more" in (again.reason or "")
    assert [seen.path for seen in server.requests] == ["/robots.txt", "/feed.xml"]


async def test_server_error_then_success() -> None:
    """A 500 is retried with backoff, and the following 200 is the result."""
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.sequence("/feed.xml", Reply(status=500), Reply(body="fine"))
        result = await fetcher.fetch(server.url("/feed.xml"))
    assert (result.status, result.body) == ("ok", b"fine")
    assert len(server.seen("/feed.xml")) == 2


async def test_retries_run_out() -> None:
    """A server that keeps answering 503 is asked 1 + retries times, then reported."""
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.route("/feed.xml", status=503)
        result = await fetcher.fetch(server.url("/feed.xml"))
    assert (result.status, result.reason) == ("failed", "HTTP 503")
    assert len(server.seen("/feed.xml")) == FAST.retries + 1


async def test_slow_response_times_out() -> None:
    """A server slower than the timeout fails as timed out, after retrying once."""
    policy = replace(FAST, timeout=0.3, retries=1)
    async with FeedServer() as server, Fetcher(policy) as fetcher:
        server.route("/slow", "late", delay=2.0)
        result = await fetcher.fetch(server.url("/slow"))
    assert (result.status, result.reason) == ("failed", "timed out after 0.3 s")
    assert len(server.seen("/slow")) == 2


async def test_huge_page_is_cut_off() -> None:
    """A 20 MB page with no Content-Length fails as too large, and is not read to the end."""
    policy = replace(FAST, max_bytes=1_000_000)
    async with FeedServer() as server, Fetcher(policy) as fetcher:
        server.sequence("/huge", Reply(body=b"x" * 65_536, repeat=320, chunked=True))
        result = await fetcher.fetch(server.url("/huge"))
        await server.settled()
    [seen] = server.seen("/huge")
    assert (result.status, result.reason) == ("failed", "larger than 1,000,000 bytes")
    assert result.body == b""
    assert not seen.completed and seen.bytes_sent < 20_000_000


async def test_declared_huge_page_refused_before_reading() -> None:
    """A page whose Content-Length is over the cap fails at once, without waiting for the body."""
    policy = replace(FAST, max_bytes=1_000_000)
    async with FeedServer() as server, Fetcher(policy) as fetcher:
        # Declares 20 MB and sends 4 bytes: a client reading on would wait for the rest.
        server.route("/huge", "tiny", headers={"Content-Length": "20000000"})
        result = await fetcher.fetch(server.url("/huge"))
    assert (result.status, result.reason) == ("failed", "larger than 1,000,000 bytes")


async def test_redirect_followed() -> None:
    """A moved page is fetched from where it moved to, and says so."""
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.route("/old", status=301, headers={"Location": "/new"})
        server.route("/new", "here")
        result = await fetcher.fetch(server.url("/old"))
    assert (result.status, result.body) == ("ok", b"here")
    assert (result.url, result.final_url) == (server.url("/old"), server.url("/new"))


async def test_redirect_loop_fails() -> None:
    """A redirect loop fails as too many redirects, after max_redirects hops."""
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.route("/loop", status=302, headers={"Location": "/loop"})
        result = await fetcher.fetch(server.url("/loop"))
    assert (result.status, result.reason) == ("failed", "too many redirects")
    assert len(server.seen("/loop")) == FAST.max_redirects


async def test_redirect_to_other_scheme_refused() -> None:
    """A redirect to a file: URL is refused, not followed."""
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.route("/jump", status=302, headers={"Location": "file:///etc/passwd"})
        result = await fetcher.fetch(server.url("/jump"))
    assert (result.status, result.reason) == ("failed", "refused: only http and https")


async def test_other_content_types_returned_as_such() -> None:
    """A PDF comes back as a PDF: the caller decides what it wants."""
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.route("/report.pdf", b"%PDF-1.7 ...", content_type="application/pdf")
        result = await fetcher.fetch(server.url("/report.pdf"))
    assert (result.status, result.content_type, result.body) == (
        "ok",
        "application/pdf",
        b"%PDF-1.7 ...",
    )


async def test_conditional_get_not_modified() -> None:
    """The ETag and Last-Modified of the last fetch are sent back; a 304 is not_modified."""
    stamp = "Tue, 03 Dec 2024 10:00:00 GMT"
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.sequence(
            "/feed.xml",
            Reply(body="<rss/>", headers={"ETag": '"v1"', "Last-Modified": stamp}),
            Reply(status=304),
        )
        first = await fetcher.fetch(server.url("/feed.xml"))
        second = await fetcher.fetch(
            server.url("/feed.xml"), etag=first.etag, last_modified=first.last_modified
        )
    asked = server.seen("/feed.xml")[1].headers
    assert (asked["If-None-Match"], asked["If-Modified-Since"]) == ('"v1"', stamp)
    assert (second.status, second.body, second.etag, second.last_modified) == (
        "not_modified",
        b"",
        '"v1"',
        stamp,
    )


async def test_robots_txt_disallow() -> None:
    """A path robots.txt disallows for citebot fails unfetched; robots.txt is read once."""
    rules = "User-agent: *\nDisallow:\n\nUser-agent: citebot\nDisallow: /private/\n"
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.route("/robots.txt", rules, content_type="text/plain")
        server.route("/private/feed.xml", "<rss/>")
        server.route("/public/feed.xml", "<rss/>")
        refused = await fetcher.fetch(server.url("/private/feed.xml"))
        allowed = await fetcher.fetch(server.url("/public/feed.xml"))
    assert (refused.status, refused.reason) == ("failed", "disallowed by robots.txt")
    assert allowed.status == "ok"
    assert not server.seen("/private/feed.xml")
    assert len(server.seen("/robots.txt")) == 1


async def test_robots_txt_server_error_stops_the_host() -> None:
    """A robots.txt answering 503 means the site cannot be crawled now (RFC 9309)."""
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.route("/robots.txt", status=503)
        server.route("/feed.xml", "<rss/>")
        result = await fetcher.fetch(server.url("/feed.xml"))
    assert (result.status, result.reason) == ("failed", "robots.txt: HTTP 503")
    assert not server.seen("/feed.xml")


async def test_private_address_refused_without_a_request() -> None:
    """127.0.0.1, by address or by a name resolving to it, is refused before any request."""
    async with FeedServer() as server, Fetcher(replace(FAST, allow_private=False)) as fetcher:
        server.route("/feed.xml", "<rss/>")
        by_address = await fetcher.fetch(server.url("/feed.xml"))
        by_name = await fetcher.fetch(server.url("/feed.xml").replace("127.0.0.1", "localhost"))
    refused = ("failed", "refused: 127.0.0.1 is a private or loopback address")
    assert (by_address.status, by_address.reason) == refused
    assert (by_name.status, by_name.reason) == refused
    assert server.requests == []


async def test_private_address_allowed_when_asked() -> None:
    """With allow_private the same loopback server is fetched."""
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.route("/feed.xml", "<rss/>")
        result = await fetcher.fetch(server.url("/feed.xml"))
    assert result.status == "ok"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::6810:84e5", True),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("240.0.0.1", False),
    ],
)
def test_only_public_addresses_pass(address: str, public: bool) -> None:
    """Loopback, private, shared, link-local, multicast, unspecified and reserved addresses
    are refused, IPv4-mapped ones too; public ones pass."""
    assert (address_refusal(address) is None) is public


async def test_non_http_scheme_refused() -> None:
    """ftp: and file: URLs are refused without touching the network."""
    async with Fetcher(FAST) as fetcher:
        results = [await fetcher.fetch(url) for url in ("ftp://example.com/f", "file:///etc/hosts")]
    assert [r.reason for r in results] == ["refused: only http and https"] * 2


async def test_per_host_concurrency_never_exceeded() -> None:
    """Six slow fetches from one host run two at a time, never more."""
    policy = replace(FAST, per_host_concurrency=2)
    async with FeedServer() as server, Fetcher(policy) as fetcher:
        server.route("/robots.txt", "", content_type="text/plain")
        for n in range(6):
            server.route(f"/page{n}", "x", delay=0.2)
        results = await asyncio.gather(*(fetcher.fetch(server.url(f"/page{n}")) for n in range(6)))
    assert all(result.status == "ok" for result in results)
    assert server.peak_concurrency == 2


async def test_per_host_delay_spaces_requests() -> None:
    """Requests to one host start at least per_host_delay seconds apart."""
    policy = replace(FAST, per_host_delay=0.3)
    async with FeedServer() as server, Fetcher(policy) as fetcher:
        for n in range(3):
            server.route(f"/page{n}", "x")
        await asyncio.gather(*(fetcher.fetch(server.url(f"/page{n}")) for n in range(3)))
    starts = sorted(request.at for request in server.requests)
    assert len(starts) == 4  # robots.txt, then the three pages
    assert all(later - earlier >= 0.25 for earlier, later in itertools.pairwise(starts))


async def test_cancellation_propagates() -> None:
    """A cancelled fetch raises CancelledError rather than returning a failure."""
    async with FeedServer() as server, Fetcher(FAST) as fetcher:
        server.route("/slow", "late", delay=2.0)
        task = asyncio.create_task(fetcher.fetch(server.url("/slow")))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_retry_after_forms() -> None:
    """Retry-After is read as seconds or as an HTTP date, capped; nonsense is ignored."""
    now = datetime(2024, 12, 3, 10, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7", now) == 7
    assert retry_after_seconds("Tue, 03 Dec 2024 10:00:30 GMT", now) == 30
    assert retry_after_seconds("3600", now) == 3600
    assert retry_after_seconds("Tue, 03 Dec 2024 09:00:00 GMT", now) == 0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None
