"""End to end under strain: a reindex from the terminal, a crowd of askers during a
reindex, and a reindex that outlives its interaction token."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from bot.client import CitebotBot
from retrieval.engine import Engine
from retrieval.settings import load_settings
from tests.conftest import copy_samples
from tests.discord_standin import DiscordStandIn, Permission
from tests.e2e.world import World
from tests.fakes import HashingEmbedder

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

LIGHTHOUSE = b"""# Pellow Point lighthouse shines again after 42 years

Published at: **2024-10-04T08:15:00+00:00**

Original: [Westhaven Courier](https://westhavencourier.example/pellow-point)

The Pellow Point lighthouse was relit on Friday evening, 42 years after its lamp was switched off.
"""
BUSY = "I am busy answering many questions right now"
INTERACTION_DEADLINE = 3.0
"""Discord's own: the crowd of askers is held to the real acknowledgement window."""


def _many_articles(folder: Path, count: int) -> None:
    """``count`` short articles in one JSON Lines file, for a reindex with work to do."""
    with (folder / "wire.jsonl").open("w", encoding="utf-8") as out:
        for number in range(count):
            text = (
                f"Harbour report {number}: {number * 7} containers were unloaded at berth {number}."
            )
            out.write(
                json.dumps({"id": str(number), "title": f"Wire {number}", "text": text}) + "\n"
            )


async def test_a_reindex_from_the_terminal_is_served_within_ten_seconds(world: World) -> None:
    """The bot answers from a version another engine published, with no restart."""
    (world.settings.collection / "lighthouse.txt").write_bytes(LIGHTHOUSE)
    async with await Engine.open(world.settings, HashingEmbedder(max_tokens=512)) as terminal:
        await terminal.reindex()
    loop = asyncio.get_running_loop()
    published = loop.time()
    while True:
        _, reply = await world.ask("When was the Pellow Point lighthouse relit?")
        if "Pellow Point" in json.dumps(reply.embeds):
            break
        assert loop.time() - published < 10, "the new version was not served within 10 s"
        await asyncio.sleep(0.5)


async def test_two_hundred_askers_during_a_reindex_are_all_answered_in_time(world: World) -> None:
    """200 members ask at once while a reindex runs: each is acknowledged within 3 s and
    answered, or told to try again, within 15 s."""
    _many_articles(world.settings.collection, 2000)
    members = [world.member() for _ in range(200)]
    reindexing = asyncio.create_task(world.engine.reindex())
    await asyncio.sleep(0.05)
    asked = await asyncio.gather(
        *(
            world.server.invoke_slash(
                world.guild, world.general, member, "ask", {"question": f"Harbour report {n}?"}
            )
            for n, member in enumerate(members)
        )
    )
    replies = await asyncio.gather(*(i.wait_for_response(timeout=15) for i in asked))
    await reindexing
    acks = [i.acknowledged_at - i.dispatched_at for i in asked if i.acknowledged_at is not None]
    assert len(acks) == 200 and max(acks) < 3
    answered = [r for r in replies if r.embeds]
    busy = [r for r in replies if BUSY in r.content]
    assert len(answered) + len(busy) == 200 and answered
    assert world.server.rejected == []


async def test_a_reindex_outliving_its_token_reports_in_the_channel(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When the interaction token expired before the reindex ended, the summary is posted
    in the channel, naming the admin without pinging, and logged at INFO (which
    `citebot run` shows); progress edits stop at the first one refused."""
    caplog.set_level(logging.INFO, logger="bot")
    articles = tmp_path / "articles"
    articles.mkdir()
    copy_samples(articles, ["001_astel-floods-carrow-bridge", "002_astel-flood-death-toll-rises"])
    settings = load_settings(collection=articles, data_dir=tmp_path / "data", reader=False)
    engine = await Engine.open(settings, HashingEmbedder(delay=1.5))
    try:
        async with DiscordStandIn(token_lifetime=1.0) as server:
            guild = server.add_guild("Newsroom")
            channel = server.add_channel(guild, "desk")
            manager = server.add_member(guild, "manager", permissions=Permission.MANAGE_GUILD)
            bot = CitebotBot(engine, progress_interval=0.2)
            async with server.running(bot):
                await server.wait_until_ready()
                await server.wait_for_command_sync()
                await server.invoke_slash(guild, channel, manager, "reindex")
                for _ in range(100):
                    posted = [
                        m
                        for m in server.channel_messages(channel)
                        if "Reindex finished" in m.content
                    ]
                    if posted:
                        break
                    await asyncio.sleep(0.1)
    finally:
        await engine.close()
    assert posted, "no summary reached the channel"
    assert f"<@{manager.id}>" in posted[0].content
    assert posted[0].mentions == []  # named, not pinged
    refused_edits = [r for r in server.rejected if r.route.startswith("PATCH /api/v10/webhooks")]
    assert len(refused_edits) == 2  # the first progress edit after expiry, and the summary's
    assert any(
        r.levelno == logging.INFO and r.getMessage().startswith("reindex of shared by")
        for r in caplog.records
    )


async def test_reindex_of_an_emptied_folder_needs_confirm(tmp_path: Path) -> None:
    """/reindex after the articles vanished says how many would go and removes nothing;
    /reindex confirm:True removes them."""
    articles = tmp_path / "articles"
    articles.mkdir()
    copy_samples(articles, ["001_astel-floods-carrow-bridge", "002_astel-flood-death-toll-rises"])
    settings = load_settings(collection=articles, data_dir=tmp_path / "data", reader=False)
    engine = await Engine.open(settings, HashingEmbedder())
    try:
        await engine.reindex()
        for article in articles.iterdir():
            article.unlink()
        async with DiscordStandIn() as server:
            guild = server.add_guild("Newsroom")
            channel = server.add_channel(guild, "desk")
            manager = server.add_member(guild, "manager", permissions=Permission.MANAGE_GUILD)
            async with server.running(CitebotBot(engine, progress_interval=0.2)):
                await server.wait_until_ready()
                await server.wait_for_command_sync()
                refused = await server.invoke_slash(guild, channel, manager, "reindex")
                reply = await refused.wait_for_response(
                    timeout=10, predicate=lambda m: "would remove" in m.content
                )
                assert "would remove 2 of the 2 indexed articles" in reply.content
                assert (await engine.stats()).articles == 2
                confirmed = await server.invoke_slash(
                    guild, channel, manager, "reindex", {"confirm": True}
                )
                summary = await confirmed.wait_for_response(
                    timeout=10, predicate=lambda m: "Reindex finished" in m.content
                )
                assert "removed 2" in summary.content
                assert (await engine.stats()).articles == 0
    finally:
        await engine.close()
