"""A real HTTP server on 127.0.0.1 for feed and page tests: routes answer as told, and
every request is logged (headers, arrival, bytes sent, whether the reply finished).

    async with FeedServer() as server:
        server.route("/feed.xml", rss_bytes, content_type="application/rss+xml")
        server.sequence("/flaky", Reply(status=500), Reply(body="fine"))
        ...fetch server.url("/feed.xml")...
        assert server.seen("/flaky")[1].at - server.seen("/flaky")[0].at < 1

A path with no route answers 404 (so robots.txt is missing unless routed).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from aiohttp import web


@dataclass(frozen=True)
class Reply:
    """One answer of a route.

    Attributes:
        body: sent ``repeat`` times, written piece by piece (20 MB from a 64 KB body).
        chunked: send no Content-Length, so the client learns the size only by reading.
            A Content-Length in ``headers`` is sent as given, true or not.
        delay: seconds the server waits before answering at all.
    """

    body: bytes | str = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    repeat: int = 1
    chunked: bool = False


@dataclass
class Seen:
    """One request the server received, and what became of its reply."""

    path: str
    headers: Mapping[str, str]
    at: float
    bytes_sent: int = 0
    completed: bool = False


class FeedServer:
    """An aiohttp.web server on 127.0.0.1 at a free port; use ``async with``."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.peak_concurrency = 0
        self._replies: dict[str, list[Reply]] = {}
        self._in_flight = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self._runner: web.AppRunner | None = None
        self._port = 0

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._serve)
        # Handlers stop when their client goes away, and stop fast on shutdown.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self._port}{path}"

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """``path`` answers every request the same way."""
        reply = Reply(body, status, content_type, headers or {}, delay)
        self.sequence(path, reply)

    def sequence(self, path: str, *replies: Reply) -> None:
        """``path`` answers with ``replies`` in turn, then with the last one from then on."""
        self._replies[path] = list(replies)

    def seen(self, path: str) -> list[Seen]:
        """The requests for ``path`` (query string included), in arrival order."""
        return [request for request in self.requests if request.path == path]

    async def settled(self, timeout: float = 5.0) -> None:
        """Waits until no request is being answered (a cut-off reply has been noticed)."""
        await asyncio.wait_for(self._settled.wait(), timeout)

    def _next_reply(self, path: str) -> Reply:
        replies = self._replies.get(path)
        if not replies:
            return Reply("not found", status=404, content_type="text/plain")
        return replies.pop(0) if len(replies) > 1 else replies[0]

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        seen = Seen(request.path_qs, dict(request.headers), asyncio.get_running_loop().time())
        self.requests.append(seen)
        self._in_flight += 1
        self.peak_concurrency = max(self.peak_concurrency, self._in_flight)
        self._settled.clear()
        try:
            reply = self._next_reply(request.path)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            body = reply.body.encode() if isinstance(reply.body, str) else reply.body
            response = web.StreamResponse(status=reply.status, headers=reply.headers)
            response.headers["Content-Type"] = reply.content_type
            if not reply.chunked and "Content-Length" not in reply.headers:
                response.content_length = len(body) * reply.repeat
            await response.prepare(request)
            for _ in range(reply.repeat):
                await response.write(body)
                seen.bytes_sent += len(body)
            await response.write_eof()
            seen.completed = True
            return response
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._settled.set()


@contextlib.contextmanager
def feed_server_thread() -> Iterator[FeedServer]:
    """A :class:`FeedServer` answering from its own thread and event loop, for code under
    test that runs its own loop (the CLI). Routes may be set from the calling thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FeedServer()
    asyncio.run_coroutine_threadsafe(server.__aenter__(), loop).result(timeout=10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.__aexit__(None, None, None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
