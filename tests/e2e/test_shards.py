"""End to end: the bot sharded as Discord routes servers, over one engine.

Two clients in one event loop stand for two ``citebot run --shard-count 4 --shards ...``
processes; each answers in the servers of its own shards, and one stopping leaves the
other answering. Without a shard count, one client runs every shard Discord recommends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
import pytest_asyncio

from bot.client import CitebotBot
from retrieval.engine import Engine
from retrieval.settings import load_settings
from tests.conftest import copy_samples
from tests.discord_standin import DiscordStandIn, StandInGuild, shard_of
from tests.e2e.world import INTERACTION_DEADLINE
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.e2e

QUESTION = "When did the Westhaven tram line open?"
READY_TIMEOUT = 20.0
"""discord.py waits 5 s between two IDENTIFYs of one client (max_concurrency 1)."""


@pytest_asyncio.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    """One engine over one sample article, shared by every client of a test."""
    articles = tmp_path / "articles"
    articles.mkdir()
    copy_samples(articles, ["014_westhaven-tram-line-opens"])
    settings = load_settings(collection=articles, data_dir=tmp_path / "data", reader=False)
    engine = await Engine.open(settings, HashingEmbedder())
    await engine.reindex()
    try:
        yield engine
    finally:
        await engine.close()


def answering_guilds(bot: CitebotBot) -> list[int]:
    """Records the guild of every interaction ``bot`` receives, in order."""
    seen: list[int] = []

    async def on_interaction(interaction: discord.Interaction) -> None:
        seen.append(interaction.guild_id or 0)

    bot.add_listener(on_interaction)
    return seen


async def ask(server: DiscordStandIn, guild: StandInGuild) -> str:
    """/ask in the guild's #general; the answer's embeds as JSON."""
    channel = next(iter(guild.channels.values()))
    member = server.add_member(guild, f"reader{len(guild.members)}")
    asked = await server.invoke_slash(guild, channel, member, "ask", {"question": QUESTION})
    reply = await asked.wait_for_response(timeout=15)
    return json.dumps(reply.embeds)


def guild_on(server: DiscordStandIn, name: str, shard: tuple[int, int]) -> StandInGuild:
    """A guild with a #general whose id routes it to ``shard`` (shard_id, num_shards)."""
    guild = server.add_guild(name, shard=shard)
    server.add_channel(guild, "general")
    assert shard_of(guild.id, shard[1]) == shard[0]
    return guild


async def test_two_processes_share_the_shards_and_survive_each_other(engine: Engine) -> None:
    """Shards 0-1 and 2-3 of 4: each client answers in the server of its shard only; once
    the first stops, the second still answers in its server and the first's gets nothing."""
    async with DiscordStandIn(interaction_deadline=INTERACTION_DEADLINE) as server:
        first = guild_on(server, "First", (0, 4))
        last = guild_on(server, "Last", (3, 4))
        low = CitebotBot(engine, shard_count=4, shard_ids=[0, 1])
        high = CitebotBot(engine, shard_count=4, shard_ids=[2, 3])
        low_seen, high_seen = answering_guilds(low), answering_guilds(high)
        async with server.running(high):
            async with server.running(low):
                await server.wait_until_ready(READY_TIMEOUT, sessions=4)
                await server.wait_for_command_sync()
                assert server.connected_shards == [(0, 4), (1, 4), (2, 4), (3, 4)]
                assert "Westhaven" in await ask(server, first)
                assert "Westhaven" in await ask(server, last)
                assert (low_seen, high_seen) == ([first.id], [last.id])
                assert [g.id for g in low.guilds] == [first.id]
                assert [g.id for g in high.guilds] == [last.id]
            assert server.connected_shards == [(2, 4), (3, 4)]
            assert "Westhaven" in await ask(server, last)
            with pytest.raises(RuntimeError, match="no session of the bot"):
                await ask(server, first)
        assert (low_seen, high_seen) == ([first.id], [last.id, last.id])
        assert server.rejected == []


async def test_without_a_shard_count_the_bot_runs_the_recommended_shards(engine: Engine) -> None:
    """GET /gateway/bot recommends 2 shards: one client connects both and answers in a
    server on each."""
    async with DiscordStandIn(
        interaction_deadline=INTERACTION_DEADLINE, recommended_shards=2
    ) as server:
        even, odd = guild_on(server, "Even", (0, 2)), guild_on(server, "Odd", (1, 2))
        bot = CitebotBot(engine)
        seen = answering_guilds(bot)
        async with server.running(bot):
            await server.wait_until_ready(READY_TIMEOUT, sessions=2)
            await asyncio.wait_for(bot.wait_until_ready(), READY_TIMEOUT)
            await server.wait_for_command_sync()
            assert server.connected_shards == [(0, 2), (1, 2)]
            assert bot.shard_count == 2
            assert "Westhaven" in await ask(server, even)
            assert "Westhaven" in await ask(server, odd)
        assert seen == [even.id, odd.id]
        assert any(r.path == "/api/v10/gateway/bot" for r in server.requests)
