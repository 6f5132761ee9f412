"""Live collections: time from a story's publication to its first answer on a 1-minute
schedule, the CPU of a refresh of 50 unchanged feeds, and the memory of each extra
1,000-article collection served by one process.

Feeds and pages come from an aiohttp server on 127.0.0.1 (fetching from private
addresses allowed for it); stories are Reuters articles, so the text is real news.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from html import escape
from itertools import pairwise
from pathlib import Path
from typing import Any

from aiohttp import web

from retrieval.engine import Engine
from retrieval.feeds.fetcher import FetchPolicy
from retrieval.feeds.refresh import RefreshReport
from retrieval.models.embedder import Embedder
from retrieval.settings import Settings

from .common import Step, read_articles

COLLECTION = "server-1"
SCHEDULE_MINUTES = 1.0
FEEDS = 50
ITEMS_PER_FEED = 10
EXTRA_COLLECTIONS = 3
COLLECTION_ARTICLES = 1000
LOCAL = FetchPolicy(allow_private=True)
"""The shipped policy (1 s between requests to a host), with the local server allowed."""
SETUP = FetchPolicy(allow_private=True, per_host_delay=0.0, per_host_concurrency=8)
"""For filling 50 feeds' worth of stories fast: every feed here is on one host."""


class LocalNews:
    """Feeds and story pages on 127.0.0.1, changed by the benchmark as it goes."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, str]] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _serve(self, request: web.Request) -> web.Response:
        found = self.routes.get(request.path)
        if found is None:
            return web.Response(status=404, text="not found")
        body, kind = found
        return web.Response(body=body.encode(), content_type=kind, charset="utf-8")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LocalNews]:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._serve)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield self
        finally:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def publish(self, feed: str, stories: list[dict[str, Any]]) -> None:
        """Serve ``stories`` (Reuters records) as the feed at ``feed``, with their pages."""
        items = []
        for story in stories:
            path = f"/story/{story['id']}"
            paragraphs = "".join(f"<p>{escape(p)}</p>" for p in str(story["text"]).split("\n"))
            page = (
                f"<html><head><title>{escape(story['title'])}</title></head><body><article>"
                f"<h1>{escape(story['title'])}</h1>{paragraphs}</article></body></html>"
            )
            self.routes[path] = (page, "text/html")
            items.append(
                f"<item><title>{escape(story['title'])}</title><link>{self.url(path)}</link>"
                f'<guid isPermaLink="false">{story["id"]}</guid></item>'
            )
        channel = f"<title>Feed {feed}</title>{''.join(items)}"
        self.routes[feed] = (
            f'<?xml version="1.0"?><rss version="2.0"><channel>{channel}</channel></rss>',
            "application/rss+xml",
        )


async def measure(
    settings: Settings, embedder: Embedder, articles: Path, root: Path, step: Step
) -> dict[str, Any]:
    """Every live-collection figure; ``root`` is a scratch folder (emptied by the caller).

    Its step has 4 parts: the base collection, time to answerable (about 2 minutes: two
    stories, each waiting for the next 1-minute refresh), the unchanged refresh, memory.
    """
    records = [r for r in read_articles(articles, 5000) if str(r.get("text") or "").strip()]
    step.update(0, 4)
    live = settings.model_copy(
        update={
            "collection": root / "shared",
            "data_dir": root / "data",
            "feed_refresh_minutes": SCHEDULE_MINUTES,
        }
    )
    (root / "shared").mkdir(parents=True, exist_ok=True)
    names = [f"bench-{n}" for n in range(EXTRA_COLLECTIONS)]
    engine = await Engine.open(live, embedder)
    try:
        async with LocalNews().running() as news:
            for number, name in enumerate([COLLECTION, *names]):
                folder = (await engine.collection(name)).articles
                chunk = records[number * COLLECTION_ARTICLES : (number + 1) * COLLECTION_ARTICLES]
                _write_records(folder / "base.jsonl", chunk)
                await engine.reindex(collection=name, progress=step.stage(f"indexing {name}"))
            step.update(1, 4)
            answerable = await _time_to_answerable(engine, news, records[-3:])
            step.update(2, 4)
            unchanged = records[-3 - FEEDS * ITEMS_PER_FEED : -3]
            refresh = await _unchanged_refresh_cpu(engine, news, unchanged)
            step.update(3, 4)
    finally:
        await engine.close()
    memory = await asyncio.to_thread(_memory_per_collection, live, names)
    step.update(4, 4)
    return {"time_to_answerable": answerable, "unchanged_refresh": refresh, "memory": memory}


def _write_records(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


async def _time_to_answerable(
    engine: Engine, news: LocalNews, stories: list[dict[str, Any]]
) -> dict[str, Any]:
    """Publish a story just after a scheduled refresh (the worst moment) and time until
    asking for it cites it; twice."""
    engine.fetch_policy = LOCAL
    feed = "/live.xml"
    news.publish(feed, [stories[0]])
    await engine.add_feed(news.url(feed), collection=COLLECTION)
    refreshed: asyncio.Queue[RefreshReport] = asyncio.Queue()

    async def on_report(name: str, report: RefreshReport) -> None:
        await refreshed.put(report)

    stop = asyncio.Event()
    follower = asyncio.create_task(engine.follow_feeds(on_report, stop))
    seconds: list[float] = []
    try:
        await refreshed.get()  # the first scheduled refresh took in the first story
        for number in (1, 2):
            story = stories[number]
            news.publish(feed, stories[: number + 1])
            published = time.perf_counter()
            while not await _cited(engine, story):
                await asyncio.sleep(0.5)
            seconds.append(round(time.perf_counter() - published, 1))
            await refreshed.get()
    finally:
        stop.set()
        await follower
    return {
        "schedule_minutes": SCHEDULE_MINUTES,
        "seconds": seconds,
        "worst_s": max(seconds),
        "collection_articles": COLLECTION_ARTICLES,
    }


async def _cited(engine: Engine, story: dict[str, Any]) -> bool:
    answer = await engine.ask(str(story["title"]), k=3, collection=COLLECTION, logged=False)
    return any(p.citation.title == story["title"] for p in answer.passages)


async def _unchanged_refresh_cpu(
    engine: Engine, news: LocalNews, stories: list[dict[str, Any]]
) -> dict[str, Any]:
    """CPU seconds (this process, the local server's share included) of refreshing 50
    feeds of 10 stories each when nothing changed: with validators absent, so every feed
    is downloaded and parsed again (the server here sends no ETag)."""
    name = "server-2"
    engine.fetch_policy = SETUP
    for number in range(FEEDS):
        feed = f"/feed-{number}.xml"
        news.publish(feed, stories[number * ITEMS_PER_FEED : (number + 1) * ITEMS_PER_FEED])
        await engine.add_feed(news.url(feed), collection=name)
    filled = await engine.refresh_feeds(collection=name)
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    again = await engine.refresh_feeds(collection=name)
    cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall
    assert not again.saved, "an unchanged refresh saved stories"
    return {
        "feeds": FEEDS,
        "stories": len(filled.added),
        "cpu_s": round(cpu_s, 3),
        "wall_s": round(wall_s, 2),
    }


def _memory_per_collection(settings: Settings, names: list[str]) -> dict[str, Any]:
    """In a fresh process, resident memory with the engine open, then after each extra
    1,000-article collection (indexed beforehand) is served and asked."""
    command = [
        sys.executable,
        "-m",
        "tools.benchmark.feeds",
        str(settings.collection),
        str(settings.data_dir),
        *names,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=3600)
    rss: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
    steps = [after - before for before, after in pairwise(rss)]
    return {
        "articles_per_collection": COLLECTION_ARTICLES,
        "rss_mb_after_each": rss,
        "extra_collection_mb": [round(s, 1) for s in steps],
        "extra_collection_mb_max": round(max(steps), 1),
    }


async def _probe(collection: Path, data_dir: Path, names: list[str]) -> list[float]:
    """In this fresh process: RSS with the engine open and one question answered (model
    and reader loaded), then after each named collection is served and asked."""
    from retrieval.settings import load_settings

    from .probe import current_rss_mb

    settings = load_settings(collection=collection, data_dir=data_dir)
    engine = await Engine.open(settings)
    try:
        await engine.ask("warm up the model and the reader", collection=COLLECTION)
        rss = [current_rss_mb()]
        for name in names:
            await engine.ask("What did the company report?", collection=name)
            gc.collect()
            rss.append(current_rss_mb())
        return rss
    finally:
        await engine.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_probe(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]))))
