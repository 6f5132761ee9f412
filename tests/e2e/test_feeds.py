"""End to end: /feeds and /ingest url over Discord's protocol, with feeds served by a real
HTTP server on 127.0.0.1, refreshed on the bot's own schedule."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from discord.utils import utcnow

from bot.access import server_collection
from bot.client import CitebotBot
from retrieval.engine import Engine
from retrieval.settings import load_settings
from tests.discord_standin import (
    DiscordStandIn,
    Permission,
    RecordedMessage,
    StandInChannel,
    StandInGuild,
    StandInMember,
)
from tests.e2e.world import INTERACTION_DEADLINE
from tests.fakes import HashingEmbedder
from tests.feed_server import FeedServer
from tests.retrieval.test_feed_refresh import FAST, FERRY, LANES, RSS_TYPE, page, rss

pytestmark = pytest.mark.e2e

SCHEDULE_MINUTES = 0.01
"""A refresh every 0.6 s, so the schedule is seen working within the test."""


@contextlib.asynccontextmanager
async def served_feeds(tmp_path: Path) -> AsyncIterator[tuple[Engine, FeedServer, DiscordStandIn]]:
    """An engine refreshing every ``SCHEDULE_MINUTES``, a feed server on 127.0.0.1 serving
    a feed of FERRY (and its page), and a Discord stand-in; the engine closed after."""
    settings = load_settings(
        collection=tmp_path / "shared",
        data_dir=tmp_path / "data",
        reader=False,
        feed_refresh_minutes=SCHEDULE_MINUTES,
    )
    (tmp_path / "shared").mkdir()
    engine = await Engine.open(settings, HashingEmbedder())
    engine.fetch_policy = FAST
    try:
        async with (
            FeedServer() as feeds,
            DiscordStandIn(interaction_deadline=INTERACTION_DEADLINE) as server,
        ):
            feeds.route("/feed.xml", rss(feeds, FERRY), content_type=RSS_TYPE)
            feeds.route(FERRY.path, page(FERRY))
            yield engine, feeds, server
    finally:
        await engine.close()


async def test_feeds_are_followed_per_server_on_a_schedule(tmp_path: Path) -> None:
    """An admin adds a feed: its story answers in that server at once, never in the other;
    a story published later is found by the schedule, reported in the channel /feeds add
    named, and answered; later quiet refreshes edit that report instead of
    posting; a non-admin is refused; /feeds list shows the feed; /feeds remove stops
    following it and its stories still answer."""
    async with served_feeds(tmp_path) as (engine, feeds, server):
        feeds.route(LANES.path, page(LANES))
        harbour, elsewhere = server.add_guild("Harbour"), server.add_guild("Elsewhere")
        newsroom = server.add_channel(harbour, "newsroom")
        feed_log = server.add_channel(harbour, "feed-log")
        other = server.add_channel(elsewhere, "general")
        editor = server.add_member(harbour, "editor", permissions=Permission.MANAGE_GUILD)
        reader = server.add_member(harbour, "reader")
        stranger = server.add_member(elsewhere, "stranger")
        async with server.running(CitebotBot(engine)):
            await server.wait_until_ready()
            await server.wait_for_command_sync()

            with pytest.raises(PermissionError):  # hidden from members by default
                await server.invoke_slash(
                    harbour, newsroom, reader, "feeds add", {"url": feeds.url("/feed.xml")}
                )
            for command in server.commands:  # a manager lets @everyone see /feeds
                if command["name"] == "feeds":
                    command["default_member_permissions"] = None
            refused = await server.invoke_slash(
                harbour, newsroom, reader, "feeds add", {"url": feeds.url("/feed.xml")}
            )
            assert (await refused.wait_for_response()).content.startswith("Sorry, only")

            added = await server.invoke_slash(
                harbour,
                newsroom,
                editor,
                "feeds add",
                {"url": feeds.url("/feed.xml"), "report_channel": feed_log},
            )
            first = await added.wait_for_response(
                timeout=15, predicate=lambda m: "Added" in m.content
            )
            assert first.ephemeral and "Added 1, updated 0, failed 0" in first.content

            async def ask(
                guild: StandInGuild, channel: StandInChannel, member: StandInMember, q: str
            ) -> str:
                asked = await server.invoke_slash(guild, channel, member, "ask", {"question": q})
                return json.dumps((await asked.wait_for_response()).embeds)

            question = "How many cracked piles were found under the landing stage?"
            assert FERRY.title in await ask(harbour, newsroom, reader, question)
            assert FERRY.title not in await ask(elsewhere, other, stranger, question)

            feeds.route("/feed.xml", rss(feeds, LANES, FERRY), content_type=RSS_TYPE)
            report = await server.wait_for_channel_message(
                feed_log, timeout=20, predicate=lambda m: LANES.title in m.content
            )
            assert "Added 1" in report.content
            headline = report.content.split("\nChecked again", 1)[0]
            assert LANES.title in await ask(
                harbour, newsroom, reader, "How much do the cycle lanes cost?"
            )
            posted = len(server.channel_messages(feed_log))
            checked = await server.wait_for_edit(
                report, timeout=20, predicate=lambda m: "Checked again" in m.content
            )
            assert checked.content.startswith(headline)
            assert "nothing new since" in checked.content
            assert len(server.channel_messages(feed_log)) == posted

            listed = await server.invoke_slash(harbour, newsroom, editor, "feeds list")
            shown = (await listed.wait_for_response()).content
            assert feeds.url("/feed.xml") in shown and "2 stories" in shown

            removed = await server.invoke_slash(
                harbour, newsroom, editor, "feeds remove", {"url": feeds.url("/feed.xml")}
            )
            assert "its stories stay indexed" in (await removed.wait_for_response()).content
            listed = await server.invoke_slash(harbour, newsroom, editor, "feeds list")
            assert "follows no feeds yet" in (await listed.wait_for_response()).content
            assert LANES.title in await ask(
                harbour, newsroom, reader, "How much do the cycle lanes cost?"
            )


async def test_quiet_refreshes_update_one_report_even_after_a_restart(tmp_path: Path) -> None:
    """The report a restarted bot finds is the one it keeps updating; when /feeds add names
    another channel, the next report is posted there."""
    async with served_feeds(tmp_path) as (engine, feeds, server):
        harbour = server.add_guild("Harbour")
        desk, moved = server.add_channel(harbour, "desk"), server.add_channel(harbour, "moved")
        collection = server_collection(harbour.id)
        await engine.add_feed(feeds.url("/feed.xml"), collection=collection, report_channel=desk.id)

        def checked(message: RecordedMessage) -> bool:
            return "Checked again" in message.content

        async with server.running(CitebotBot(engine)):
            await server.wait_until_ready()
            report = await server.wait_for_channel_message(
                desk, timeout=20, predicate=lambda m: "Added 1" in m.content
            )
            await server.wait_for_edit(report, timeout=20, predicate=checked)
        restarted_at, posted = utcnow(), len(server.channel_messages(desk))
        async with server.running(CitebotBot(engine)):
            await server.wait_until_ready()
            await server.wait_for_edit(
                report,
                timeout=20,
                predicate=lambda m: checked(m) and (m.edited_at or restarted_at) > restarted_at,
            )
            assert len(server.channel_messages(desk)) == posted
            await engine.add_feed(
                feeds.url("/feed.xml"), collection=collection, report_channel=moved.id
            )
            elsewhere = await server.wait_for_channel_message(moved, timeout=20)
        assert elsewhere.content.startswith("**Feeds refreshed.** Added 0, updated 0")


async def test_ingest_a_link(tmp_path: Path) -> None:
    """/ingest url fetches the page and indexes it for this server; a bad link is named."""
    async with served_feeds(tmp_path) as (engine, pages, server):
        pages.route(LANES.path, page(LANES))
        guild = server.add_guild("Harbour")
        channel = server.add_channel(guild, "newsroom")
        editor = server.add_member(guild, "editor", permissions=Permission.MANAGE_GUILD)
        async with server.running(CitebotBot(engine)):
            await server.wait_until_ready()
            await server.wait_for_command_sync()
            good = await server.invoke_slash(
                guild, channel, editor, "ingest", {"url": pages.url(LANES.path)}
            )
            shown = (await good.wait_for_response(timeout=15)).content
            assert f"**Added:** {LANES.title}" in shown and "New 1," in shown
            bad = await server.invoke_slash(
                guild, channel, editor, "ingest", {"url": pages.url("/gone")}
            )
            shown = (await bad.wait_for_response(timeout=15)).content
            assert "Could not add" in shown and "HTTP 404" in shown
            empty = await server.invoke_slash(guild, channel, editor, "ingest")
            assert "Attach an article file" in (await empty.wait_for_response()).content
