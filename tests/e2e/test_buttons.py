"""End to end: an answer's buttons act per reader and outlive the bot; /stats is limited too.

The world's bot serves most tests; the restart test runs its own stand-in, engine and
two bots one after the other on the same data folder, as a restarted process would.
"""

from __future__ import annotations

import asyncio
import copy
import re
import sqlite3
from pathlib import Path

import pytest

from bot.client import CitebotBot
from bot.views import EXPIRED
from retrieval.engine import Engine
from retrieval.settings import load_settings
from tests.conftest import copy_samples
from tests.discord_standin import (
    DiscordStandIn,
    RecordedMessage,
    StandInInteraction,
    StandInMember,
)
from tests.e2e.world import FLOOD_QUESTION, World, button, fields
from tests.fakes import HashingEmbedder, ScriptedReader

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

RETRY = r"You are asking too fast: try again in \d+ s \(<t:\d+:R>\)\."


def footer(message: RecordedMessage) -> str:
    return str(message.embeds[0]["footer"]["text"])


async def test_another_readers_more_sources_is_shown_to_them_alone(world: World) -> None:
    """Another member's "More sources" shows them the next page ephemerally; the asker's stays."""
    asker, reader = world.member(), world.member()
    _, reply = await world.ask(FLOOD_QUESTION, asker)
    before = copy.deepcopy((reply.embeds, reply.components, reply.edited_at))
    more = button(reply, label="More sources")["custom_id"]
    click = await world.server.click_button(reply, more, reader)
    theirs = await click.wait_for_response()
    assert theirs is not reply and theirs.ephemeral
    assert footer(theirs).startswith("Sources 4–6 of 10")
    assert (reply.embeds, reply.components, reply.edited_at) == before
    # Their copy is theirs alone: paging it turns it in place.
    again = await world.server.click_button(
        theirs, button(theirs, label="More sources")["custom_id"], reader
    )
    assert await again.wait_for_response() is theirs
    assert [f["name"][:3] for f in fields(theirs)] == ["[7]", "[8]", "[9]"]
    assert (reply.embeds, reply.components, reply.edited_at) == before


async def test_one_vote_per_member_and_answer(world: World) -> None:
    """A member's second vote on an answer is refused; another member's vote is stored."""
    asker, reader = world.member(), world.member()
    question = "What did the inquiry into the St Aldhelm's IT outage find?"
    _, reply = await world.ask(question, asker)
    up, down = button(reply, emoji="👍")["custom_id"], button(reply, emoji="👎")["custom_id"]
    first = await world.server.click_button(reply, up, asker)
    assert (await first.wait_for_response()).content == "Thanks, your 👍 is recorded."
    second = await world.server.click_button(reply, down, asker)
    refusal = await second.wait_for_response()
    assert refusal.ephemeral and refusal.content == "You have already voted on this answer."
    other = await world.server.click_button(reply, down, reader)
    assert (await other.wait_for_response()).content == "Thanks, your 👎 is recorded."
    with sqlite3.connect(world.settings.data_dir / "activity.sqlite") as db:
        votes = db.execute(
            "SELECT vote, user_key FROM feedback WHERE question = ? ORDER BY id", (question,)
        ).fetchall()
    assert [vote for vote, _ in votes] == [1, -1]
    keys = [key for _, key in votes]
    assert keys[0] != keys[1] and str(asker.id) not in keys[0] and str(reader.id) not in keys[1]


async def test_stats_elsewhere_is_declined(world: World) -> None:
    """/stats outside the allowed channels is declined politely, to the asker only."""
    interaction = await world.server.invoke_slash(
        world.guild, world.offtopic, world.member(), "stats"
    )
    refusal = await interaction.wait_for_response()
    assert refusal.ephemeral and refusal.content == "I do not answer questions in this channel."


async def test_stats_counts_against_the_rate_limit(world: World) -> None:
    """After a burst of three questions, /stats too is refused with when to retry."""
    member = world.member()
    for _ in range(3):
        await world.ask(FLOOD_QUESTION, member)
    interaction = await world.server.invoke_slash(world.guild, world.general, member, "stats")
    refusal = await interaction.wait_for_response()
    assert refusal.ephemeral and re.fullmatch(RETRY, refusal.content)


async def click(
    server: DiscordStandIn, message: RecordedMessage, custom_id: str, member: StandInMember
) -> tuple[StandInInteraction, RecordedMessage]:
    """``member`` clicks the button; the interaction and what they see."""
    interaction = await server.click_button(message, custom_id, member)
    return interaction, await interaction.wait_for_response(timeout=15)


async def test_buttons_work_after_a_restart(tmp_path: Path) -> None:
    """After a restart, old answers page and count votes once; a private one has expired."""
    collection = tmp_path / "collection"
    collection.mkdir()
    copy_samples(collection)
    settings = load_settings(collection=collection, data_dir=tmp_path / "data", min_confidence=0.0)
    async with DiscordStandIn() as server:
        guild = server.add_guild("News")
        general = server.add_channel(guild, "general")
        asker = server.add_member(guild, "asker")
        reader = server.add_member(guild, "reader")

        async def ask(private: bool) -> RecordedMessage:
            interaction = await server.invoke_slash(
                guild, general, asker, "ask", {"question": FLOOD_QUESTION, "private": private}
            )
            return await interaction.wait_for_response(timeout=15)

        engine = await Engine.open(settings, HashingEmbedder(), ScriptedReader({"31": 0.99}))
        try:
            await engine.reindex()
            bot = CitebotBot(engine)
            async with server.running(bot):
                await asyncio.wait_for(bot.wait_until_ready(), 10)
                await server.wait_until_ready()
                public, private = await ask(False), await ask(True)
                up = button(public, emoji="👍")["custom_id"]
                _, thanks = await click(server, public, up, asker)
                assert thanks.content == "Thanks, your 👍 is recorded."
        finally:
            await engine.close()

        custom_ids = [
            b["custom_id"] for m in (public, private) for b in m.buttons if "url" not in b
        ]
        assert custom_ids and all(len(custom_id) <= 100 for custom_id in custom_ids)
        engine = await Engine.open(settings, HashingEmbedder(), ScriptedReader({"31": 0.99}))
        bot = CitebotBot(engine)
        try:
            async with server.running(bot):
                await asyncio.wait_for(bot.wait_until_ready(), 10)
                await server.wait_until_ready()
                more = button(public, label="More sources")["custom_id"]
                _, turned = await click(server, public, more, asker)
                assert turned is public and footer(public).startswith("Sources 4–6 of 10")
                up = button(public, emoji="👍")["custom_id"]
                _, again = await click(server, public, up, asker)
                assert again.content == "You have already voted on this answer."
                _, other = await click(server, public, up, reader)
                assert other.content == "Thanks, your 👍 is recorded."
                more = button(private, label="More sources")["custom_id"]
                _, expired = await click(server, private, more, asker)
                assert expired.ephemeral and expired.content == EXPIRED
                assert footer(private).startswith("Sources 1–3 of 10")
        finally:
            await engine.close()
        assert server.rejected == [] and server.unhandled == []
