"""One polite, careful HTTP client for feeds and the pages they link to.

Every fetch ends in a :class:`FetchResult`: network and HTTP trouble is a failed result
with a short reason for a person, never an exception, so one bad feed cannot stop a
polling round. Cancellation still propagates.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Literal, Self
from urllib.robotparser import RobotFileParser

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)
from yarl import URL

FetchStatus = Literal["ok", "not_modified", "failed"]

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchPolicy:
    """How the fetcher behaves; plain settings.

    Attributes:
        timeout: seconds one attempt may take in all (connecting, redirects, the body).
        read_timeout: seconds without a byte from the server before an attempt gives up.
        max_bytes: largest body accepted; a larger one fails without being read whole.
        max_redirects: redirects followed before giving up.
        per_host_concurrency: requests in flight to one host at most.
        per_host_delay: seconds between the starts of two requests to one host.
        retries: further attempts after a 429, a 5xx, a timeout or a connection error.
        backoff_base, backoff_cap: the wait before retry n is base * 2**(n-1) seconds, at
            most cap, unless the server sent Retry-After.
        max_retry_after: the longest Retry-After waited for, in seconds; a server asking
            for longer is not asked again until then (by any fetcher sharing its
            :class:`HostLimits`).
        user_agent: sent with every request, and the name robots.txt rules are read for.
        allow_private: also fetch from loopback, private, link-local and other non-public
            addresses (tests and intranet feeds only).
    """

    timeout: float = 30.0
    read_timeout: float = 10.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    per_host_concurrency: int = 2
    per_host_delay: float = 1.0
    retries: int = 3
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    max_retry_after: float = 60.0
    user_agent: str = "citebot/0.1 (+https://github.com/citebot/citebot)"
    allow_private: bool = False


@dataclass(frozen=True)
class FetchResult:
    """What one fetch gave.

    Attributes:
        url: the URL asked for.
        final_url: where the answer came from, after redirects (``url`` when none came).
        status: "ok" (``body`` holds the response), "not_modified" (the caller's copy,
            named by ``etag`` / ``last_modified``, is current) or "failed" (see ``reason``).
        http_status: the last HTTP status code, or None when no response arrived.
        content_type: the media type without parameters ("text/html"); None without a response.
        charset: the charset the Content-Type header names, or None.
        body: the response body; empty unless ok.
        etag, last_modified: validators to send back with the next fetch of ``url``.
        reason: for a failure, why, for a person ("HTTP 404", "timed out after 10 s").
    """

    url: str
    final_url: str
    status: FetchStatus
    http_status: int | None = None
    content_type: str | None = None
    charset: str | None = None
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    reason: str | None = None


def _failed(url: str, reason: str) -> FetchResult:
    return FetchResult(url=url, final_url=url, status="failed", reason=reason)


@dataclass(frozen=True)
class _Attempt:
    """One request's outcome, and whether (and after how long) to try again."""

    result: FetchResult
    transient: bool = False
    retry_after: float | None = None


class _Refused(Exception):
    """A request the address rules forbid; raised inside aiohttp, caught by the fetcher."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def address_refusal(address: str) -> str | None:
    """Why connecting to this IP address is refused, or None for a public address.

    Only globally routable unicast addresses pass: loopback, private (RFC 1918, ULA),
    link-local, shared (CGNAT), multicast, unspecified and reserved ones do not. An
    IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as the IPv4 address it carries.

    Raises:
        ValueError: ``address`` is not an IP address.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_private or ip.is_loopback:
        return f"refused: {ip} is a private or loopback address"
    if not ip.is_global or ip.is_multicast:
        return f"refused: {ip} is not a public address"
    return None


class _PublicResolver(AbstractResolver):
    """aiohttp's default resolver, refusing a name that resolves to a non-public address.

    aiohttp connects only to the addresses its resolver returns, so checking them here,
    rather than the host name, also stops a public name pointing inside the network, DNS
    rebinding, and redirects to such names. A name with any refused address is refused
    whole: aiohttp may try any of them.
    """

    def __init__(self) -> None:
        self._resolver = aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._resolver.resolve(host, port, family)
        for address in addresses:
            refusal = address_refusal(address["host"])
            if refusal is not None:
                raise _Refused(refusal)
        return addresses

    async def close(self) -> None:
        await self._resolver.close()


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds a Retry-After header asks to wait (delta-seconds or an HTTP date); None
    when the header is absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000": UTC by RFC 5322
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return max(seconds, 0.0)


class _Host:
    """One host's share of the fetcher: at most ``concurrency`` requests at once, their
    starts at least ``delay`` seconds apart."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._spacing = asyncio.Lock()
        self._delay = delay
        self._next_start = 0.0

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._slots:
            async with self._spacing:
                loop = asyncio.get_running_loop()
                wait = self._next_start - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next_start = loop.time() + self._delay
            yield


class HostLimits:
    """Each host's turn-taking and how long it asked to be left alone, shared by the
    fetchers of one process (a scheduled refresh, /feeds add and /ingest url at once keep
    to one host's limits together)."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy
        self._hosts: dict[str, _Host] = {}
        self._resting_until: dict[str, float] = {}

    def host(self, name: str) -> _Host:
        if name not in self._hosts:
            self._hosts[name] = _Host(
                self._policy.per_host_concurrency, self._policy.per_host_delay
            )
        return self._hosts[name]

    def rest(self, name: str, seconds: float) -> None:
        """``name`` asked (Retry-After) not to be asked again for ``seconds``."""
        self._resting_until[name] = time.monotonic() + seconds

    def resting(self, name: str) -> float:
        """Seconds ``name`` still asked to be left alone; 0 when it may be asked."""
        return max(0.0, self._resting_until.get(name, 0.0) - time.monotonic())


class Fetcher:
    """Fetches feeds and pages by the rules of a :class:`FetchPolicy`; use ``async with``.

    robots.txt is read once per origin for the fetcher's life (a fetcher is meant to
    last a polling round, not forever). The per-host limits apply to the host asked for;
    redirect targets are held to the scheme and address rules.
    """

    def __init__(self, policy: FetchPolicy | None = None, hosts: HostLimits | None = None) -> None:
        self.policy = policy or FetchPolicy()
        self._session: aiohttp.ClientSession | None = None
        self._resolver: _PublicResolver | None = None
        self._hosts = hosts or HostLimits(self.policy)
        self._robots: dict[URL, RobotFileParser | str] = {}
        self._robots_locks: defaultdict[URL, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def __aenter__(self) -> Self:
        policy = self.policy
        self._resolver = None if policy.allow_private else _PublicResolver()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=self._resolver),
            timeout=aiohttp.ClientTimeout(total=policy.timeout, sock_read=policy.read_timeout),
            headers={"User-Agent": policy.user_agent},
            middlewares=(self._check_each_request,),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
        if self._resolver is not None:
            await self._resolver.close()

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET ``url``; "not_modified" when it has not changed since ``etag`` / ``last_modified``.

        Never raises for network or HTTP trouble: a failed result says what went wrong.
        """
        try:
            target = URL(url)
        except ValueError:
            return _failed(url, "invalid URL")
        resting = self._hosts.resting(target.host or "")
        if resting:
            return _failed(url, f"the server asked to be left alone for {resting:.0f} s more")
        refusal = self._url_refusal(target) or await self._robots_refusal(target)
        if refusal is not None:
            return _failed(url, refusal)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        result = await self._with_retries(url, target, headers)
        if result.status == "not_modified":
            # A 304 need not repeat the validators; the caller's still name its copy.
            return replace(
                result,
                etag=result.etag or etag,
                last_modified=result.last_modified or last_modified,
            )
        return result

    def _url_refusal(self, url: URL) -> str | None:
        """Why a URL is refused before any request, or None; a host name is left to the
        resolver, which checks the addresses it resolves to."""
        if url.scheme not in ("http", "https"):
            return "refused: only http and https"
        if not url.host:
            return "invalid URL"
        if self.policy.allow_private:
            return None
        try:
            return address_refusal(url.host)
        except ValueError:
            return None

    async def _check_each_request(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        """The URL rules for every request sent, redirects included: aiohttp connects to
        an IP-address host without asking the resolver."""
        refusal = self._url_refusal(request.url)
        if refusal is not None:
            raise _Refused(refusal)
        return await handler(request)

    async def _robots_refusal(self, url: URL) -> str | None:
        """Why robots.txt forbids ``url``, or None when it allows it."""
        origin = url.origin()
        async with self._robots_locks[origin]:
            if origin not in self._robots:
                self._robots[origin] = await self._read_robots(origin)
        rules = self._robots[origin]
        if isinstance(rules, str):
            return rules
        return (
            None
            if rules.can_fetch(self.policy.user_agent, str(url))
            else "disallowed by robots.txt"
        )

    async def _read_robots(self, origin: URL) -> RobotFileParser | str:
        """The origin's robots.txt rules, or why it could not be read.

        As RFC 9309 says: a 4xx answer means no rules; a 5xx or no answer means the
        site cannot be crawled (for now), so its pages are not fetched. With no answer at
        all the reason is the host's ("timed out after 10 s"), not robots.txt's.
        """
        robots_url = origin.with_path("/robots.txt")
        result = await self._with_retries(str(robots_url), robots_url, {})
        rules = RobotFileParser(str(robots_url))
        if result.status == "ok":
            rules.parse(result.body.decode("utf-8", errors="replace").splitlines())
        elif result.http_status is not None and 400 <= result.http_status < 500:
            rules.parse([])
        else:
            reason = result.reason or "no answer"
            return reason if result.http_status is None else f"robots.txt: {reason}"
        return rules

    async def _with_retries(self, url: str, target: URL, headers: Mapping[str, str]) -> FetchResult:
        """Attempts until one is not transient (429, 5xx, timeout, connection error) or the
        retries run out; between them the server's Retry-After, else exponential backoff."""
        policy = self.policy
        backoff = wait_exponential(multiplier=policy.backoff_base, max=policy.backoff_cap)

        def wait(state: RetryCallState) -> float:
            asked = _last_attempt(state).retry_after
            return backoff(state) if asked is None else asked

        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.retries + 1),
            wait=wait,
            retry=retry_if_result(_is_transient),
            retry_error_callback=_last_attempt,
        )
        attempt: _Attempt = await retrying(self._attempt, url, target, headers)
        return attempt.result

    async def _attempt(self, url: str, target: URL, headers: Mapping[str, str]) -> _Attempt:
        """One request in the host's turn, every network failure turned into a reason."""
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        policy = self.policy
        async with self._hosts.host(target.host or "").turn():
            try:
                async with self._session.get(
                    target, headers=headers, max_redirects=policy.max_redirects
                ) as response:
                    return await self._read(url, response)
            except _Refused as refused:
                return _Attempt(_failed(url, refused.reason))
            except aiohttp.TooManyRedirects:
                return _Attempt(_failed(url, "too many redirects"))
            except aiohttp.NonHttpUrlRedirectClientError:
                return _Attempt(_failed(url, "refused: only http and https"))
            except aiohttp.InvalidURL:
                return _Attempt(_failed(url, "invalid URL"))
            except aiohttp.SocketTimeoutError:
                reason = f"timed out: no data for {policy.read_timeout:g} s"
                return _Attempt(_failed(url, reason), transient=True)
            except TimeoutError:
                reason = f"timed out after {policy.timeout:g} s"
                return _Attempt(_failed(url, reason), transient=True)
            except aiohttp.ClientError as error:
                return _Attempt(_failed(url, f"connection failed: {error}"), transient=True)

    async def _read(self, url: str, response: aiohttp.ClientResponse) -> _Attempt:
        """The response as a result: the body read up to the size cap, errors as reasons."""
        status = response.status
        answer = FetchResult(
            url=url,
            final_url=str(response.url),
            status="failed",
            http_status=status,
            content_type=response.content_type,
            charset=response.charset,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )
        if status == 304:
            return _Attempt(replace(answer, status="not_modified"))
        if not 200 <= status < 300:
            failed = replace(answer, reason=f"HTTP {status}")
            if status == 429 or status >= 500:
                asked = retry_after_seconds(response.headers.get("Retry-After"), datetime.now(UTC))
                if asked is not None and asked > self.policy.max_retry_after:
                    # honoured: this host is not asked again until then
                    self._hosts.rest(response.url.host or "", asked)
                    reason = f"HTTP {status}, asked to retry after {asked:.0f} s"
                    return _Attempt(replace(answer, reason=reason))
                return _Attempt(failed, transient=True, retry_after=asked)
            return _Attempt(failed)
        body = await self._body(response)
        if body is None:
            response.close()  # drop the connection rather than drain the rest
            return _Attempt(replace(answer, reason=f"larger than {self.policy.max_bytes:,} bytes"))
        return _Attempt(replace(answer, status="ok", body=body))

    async def _body(self, response: aiohttp.ClientResponse) -> bytes | None:
        """The body, or None as soon as it is known to pass ``max_bytes`` (from
        Content-Length, else while streaming): a huge page is never held whole."""
        limit = self.policy.max_bytes
        if response.content_length is not None and response.content_length > limit:
            return None
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > limit:
                return None
        return bytes(body)


def _is_transient(attempt: _Attempt) -> bool:
    return attempt.transient


def _last_attempt(state: RetryCallState) -> _Attempt:
    """The attempt tenacity just ran (never an exception: only results are retried)."""
    if state.outcome is None:
        raise RuntimeError("tenacity asked for an outcome before any attempt")
    attempt: _Attempt = state.outcome.result()
    return attempt
