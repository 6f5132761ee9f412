"""End to end: the real bot, unmodified discord.py and a real engine, against the Discord stand-in.

One bot runs for the whole module (a module-scoped event loop): the engine indexes the
shipped sample articles with the fast fake models (embedder and reader), and every test drives the bot through
Discord's real gateway and REST protocols. Each test uses fresh members, so the rate
limit of one test does not hold up another.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import signal
import sqlite3
from pathlib import Path

import pytest

from bot.app import TokenError, serve, start
from bot.client import CitebotBot
from bot.rendering import SOURCES_ASKED
from retrieval.engine import Engine
from retrieval.settings import load_settings
from tests.bot.discord_checks import cut_problem, embed_problems
from tests.conftest import SAMPLES, copy_samples
from tests.discord_standin import (
    EPHEMERAL,
    DiscordStandIn,
    Permission,
)
from tests.e2e.world import (
    FLOOD_QUESTION,
    HELD_BACK,
    NEW_ARTICLE,
    TOLL_URL,
    World,
    answering_source,
    button,
    fields,
    let_everyone_use,
    shown_text,
)
from tests.fakes import HashingEmbedder

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


async def test_commands_are_registered(world: World) -> None:
    """/ask, /reindex, /ingest, /feeds and /stats are synced; the admin ones hint Manage
    Server."""
    commands = {c["name"]: c for c in world.server.commands}
    assert sorted(commands) == ["ask", "feeds", "ingest", "reindex", "stats"]
    manage_guild = str(int(Permission.MANAGE_GUILD))
    for admin in ("reindex", "ingest", "feeds"):
        assert str(commands[admin]["default_member_permissions"]) == manage_guild
    assert [o["name"] for o in commands["feeds"]["options"]] == ["add", "remove", "list"]
    ask_options = {o["name"]: o for o in commands["ask"]["options"]}
    assert ask_options["question"]["required"] and ask_options["private"]["type"] == 5
    files = [
        (o["name"], o["type"], o.get("required", False)) for o in commands["ingest"]["options"]
    ]
    assert files == [("url", 3, False)] + [(f"file{n}", 11, False) for n in range(1, 6)]
    assert world.server.identify is not None
    assert world.server.identify["intents"] & (1 << 15)  # MESSAGE_CONTENT


async def test_ask_answers_with_the_right_citation(world: World) -> None:
    """/ask defers, then answers with the sentence in bold, the quote and its linked citation."""
    interaction, reply = await world.ask(FLOOD_QUESTION)
    assert [c["type"] for c in interaction.callbacks] == [5]
    assert not reply.ephemeral and not reply.loading
    assert reply.embeds[0]["title"] == FLOOD_QUESTION
    number, answering = answering_source(reply)
    assert answering["name"] == f"[{number}] Source (the answer)"
    assert answering["value"].startswith("“") and "rose to 31" in answering["value"]
    assert answering["value"].endswith(
        f"[{number}] [Astel valley flood death toll rises to 31 as search widens]"
        f"({TOLL_URL}) — Northern Ledger, Tomas Brennan, 7 Mar 2024"
    )
    assert button(reply, label=f"[{number}] Northern Ledger")["url"] == TOLL_URL
    assert button(reply, label="More sources") and button(reply, emoji="👍")


async def test_more_sources_pages_on(world: World) -> None:
    """ "More sources" shows the next three sources in the same message."""
    member = world.member()
    _, reply = await world.ask(FLOOD_QUESTION, member)
    reply_description = reply.embeds[0]["description"]
    assert reply.embeds[0]["footer"]["text"].startswith("Sources 1–3 of 10")
    click = await world.server.click_button(
        reply, button(reply, label="More sources")["custom_id"], member
    )
    turned = await click.wait_for_response()
    assert [c["type"] for c in click.callbacks] == [6]  # deferred: the page may be rebuilt
    assert turned is reply
    assert turned.embeds[0]["footer"]["text"].startswith("Sources 4–6 of 10")
    assert [f["name"][:3] for f in fields(turned)] == ["[4]", "[5]", "[6]"]
    # The answer stays on every page.
    assert turned.embeds[0]["description"] == reply_description


async def test_private_ask_is_ephemeral(world: World) -> None:
    """/ask private:True defers ephemerally, and only the asker sees the answer."""
    interaction, reply = await world.ask(FLOOD_QUESTION, private=True)
    assert interaction.callbacks[0]["type"] == 5
    assert interaction.callbacks[0]["data"]["flags"] == EPHEMERAL
    assert reply.ephemeral and reply.flags & EPHEMERAL
    assert reply not in world.server.channel_messages(world.general)


async def test_answer_arrives_although_the_engine_takes_past_the_deadline(world: World) -> None:
    """The bot defers at once, so an answer that takes the engine longer than the time to
    acknowledge still arrives."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    slow = world.server.interaction_deadline + 0.5
    world.embedder.delay = slow
    try:  # a question not asked before, so the engine cannot answer it from its cache
        interaction, reply = await world.ask("Where did the Astel floods kill the most people?")
    finally:
        world.embedder.delay = 0.0
    assert loop.time() - started >= slow
    assert [c["type"] for c in interaction.callbacks] == [5]
    assert not interaction.rejections and not interaction.expired
    assert reply.embeds[0]["title"] == "Where did the Astel floods kill the most people?"


async def test_thumbs_up_vote_is_stored(world: World) -> None:
    """👍 stores a +1 vote with the question and the answer; a second vote is declined."""
    member = world.member()
    _, reply = await world.ask("Who discovered the Halvorsen comet?", member)
    thumbs_up = button(reply, emoji="👍")["custom_id"]
    click = await world.server.click_button(reply, thumbs_up, member)
    thanks = await click.wait_for_response()
    assert thanks.ephemeral and thanks.content == "Thanks, your 👍 is recorded."
    again = await world.server.click_button(reply, thumbs_up, member)
    assert (await again.wait_for_response()).content == "You have already voted on this answer."
    with sqlite3.connect(world.settings.data_dir / "activity.sqlite") as db:
        votes = db.execute("SELECT question, vote FROM feedback").fetchall()
    assert votes == [("Who discovered the Halvorsen comet?", 1)]


async def test_follow_ups_are_answered_then_the_rate_limit_says_when_to_retry(
    world: World,
) -> None:
    """Three quick questions are answered; a fourth is refused ephemerally with when to retry."""
    member = world.member()
    for question in (FLOOD_QUESTION, "Where did it happen?", "Who counted the dead?"):
        _, answer = await world.ask(question, member)
        assert answer.embeds and not answer.ephemeral, answer.content
    interaction, refusal = await world.ask(FLOOD_QUESTION, member)
    assert [c["type"] for c in interaction.callbacks] == [4]
    assert refusal.ephemeral
    assert re.fullmatch(
        r"You are asking too fast: try again in (59|60) s \(<t:\d+:R>\)\.", refusal.content
    )


async def test_ask_elsewhere_is_declined(world: World) -> None:
    """Outside the allowed channels /ask is declined ephemerally and mentions are ignored."""
    member = world.member()
    _, refusal = await world.ask(FLOOD_QUESTION, member, channel=world.offtopic)
    assert refusal.ephemeral and refusal.content == "I do not answer questions in this channel."
    bot_user = world.server.bot_user
    await world.server.send_message(
        world.offtopic, member, f"{bot_user.mention} {FLOOD_QUESTION}", mentions=[bot_user]
    )
    with pytest.raises(TimeoutError):
        await world.server.wait_for_channel_message(world.offtopic, timeout=1.0)


@pytest.mark.parametrize("where", ["general", "thread"])
async def test_mention_is_answered_as_a_reply(world: World, where: str) -> None:
    """A message mentioning the bot is answered as a reply with the same embed and buttons."""
    channel = world.general if where == "general" else world.thread
    bot_user = world.server.bot_user
    question = await world.server.send_message(
        channel, world.member(), f"{bot_user.mention} {FLOOD_QUESTION}", mentions=[bot_user]
    )
    reply = await world.server.wait_for_channel_message(channel, timeout=15)
    assert reply.message_reference is not None
    assert reply.message_reference["message_id"] == str(question.id)
    assert reply.referenced_message is question
    assert reply.embeds[0]["title"] == FLOOD_QUESTION
    number, _ = answering_source(reply)
    assert button(reply, label=f"[{number}] Northern Ledger")["url"] == TOLL_URL
    assert reply.allowed_mentions == {"parse": [], "replied_user": False}
    assert reply.mentions == []


async def test_everyone_in_a_quote_pings_nobody(world: World) -> None:
    """The article with @everyone and <@123456789> is quoted escaped, and pings no one."""
    _, reply = await world.ask("Who sent the alert that pinged everyone on the council server?")
    text = shown_text(reply)
    assert "@\u200beveryone" in text and "<\u200b@123456789>" in text
    assert "@everyone" not in text and "<@123456789>" not in text
    assert r"\*again\*" in text and r"north\_road" in text
    assert reply.allowed_mentions is not None and reply.allowed_mentions["parse"] == []
    assert not reply.mention_everyone and reply.mentions == []


async def test_over_long_passage_is_cut_within_limits(world: World) -> None:
    """Passages longer than a field's 1,024 characters are cut at a boundary with "…"."""
    question = "What did the inquiry into the St Aldhelm's IT outage find?"
    _, reply = await world.ask(question)
    answer = await world.engine.ask(question, SOURCES_ASKED)  # the same answer, for its passages
    assert embed_problems(reply.embeds) == []
    cut = 0
    for field in fields(reply):
        number = int(field["name"][1 : field["name"].index("]")])
        original = answer.passages[number - 1].text
        quote = field["value"].split("”\n[", 1)[0].removeprefix("“")
        assert cut_problem(original, quote) is None
        cut += len(original) > 1024
    assert cut >= 1
    assert not world.server.rejected


async def test_stats(world: World) -> None:
    """/stats shows articles, passages, model and when the index was rebuilt."""
    interaction = await world.server.invoke_slash(
        world.guild, world.general, world.member(), "stats"
    )
    reply = await interaction.wait_for_response()
    assert re.search(r"\*\*Shared articles:\*\* \d+ articles, \d+ passages", reply.content)
    assert "**Model:** hashing-64 (64 dimensions)" in reply.content
    assert re.search(r"\*\*Last rebuilt:\*\* <t:\d+:f> \(<t:\d+:R>\)", reply.content)


async def test_reindex_is_refused_to_a_plain_member(world: World) -> None:
    """A member without Manage Server or an admin role is refused, even if the client shows /reindex."""
    member = world.member()
    with pytest.raises(PermissionError):  # Discord's client hides it by default
        await world.server.invoke_slash(world.guild, world.general, member, "reindex")
    let_everyone_use(world, "reindex")
    interaction = await world.server.invoke_slash(world.guild, world.general, member, "reindex")
    refusal = await interaction.wait_for_response()
    assert refusal.ephemeral
    assert refusal.content == "Sorry, only server managers and the bot's admin roles can do that."
    assert not await world.engine.reindexing()


async def test_reindex_shows_progress_then_the_summary(world: World) -> None:
    """An admin's /reindex edits its reply with progress, refuses a second run, then sums up."""
    copy_samples(world.settings.collection, HELD_BACK)
    let_everyone_use(world, "reindex")
    world.embedder.delay = 1.0  # embedding the two new articles takes a second
    try:
        running = await world.server.invoke_slash(
            world.guild, world.general, world.manager, "reindex"
        )
        await running.wait_for_response(predicate=lambda m: m.content.startswith("Reindexing…"))
        second = await world.server.invoke_slash(
            world.guild, world.general, world.editor, "reindex"
        )
        busy = await second.wait_for_response()
        summary = await running.wait_for_response(
            timeout=15, predicate=lambda m: m.content.startswith("**Reindex finished.**")
        )
    finally:
        world.embedder.delay = 0.0
    assert busy.ephemeral and busy.content.startswith("A reindex is already running")
    assert summary.ephemeral
    progress = [e["content"] for e in running.edits if e["content"].startswith("Reindexing…")]
    assert progress, running.edits
    assert "**Reindex finished.** New 2, updated 0, unchanged 14, removed 0, skipped 0." in (
        summary.content
    )


async def test_admin_role_from_settings_may_reindex(world: World) -> None:
    """A member with a role named in admin_roles (no Manage Server) runs /reindex."""
    let_everyone_use(world, "reindex")
    interaction = await world.server.invoke_slash(
        world.guild, world.general, world.editor, "reindex"
    )
    summary = await interaction.wait_for_response(
        timeout=15, predicate=lambda m: m.content.startswith("**Reindex finished.**")
    )
    assert "New 0, updated 0, unchanged 16, removed 0, skipped 0." in summary.content


async def test_ingest_adds_an_article_and_reports_what_was_skipped(world: World) -> None:
    """/ingest saves the good file, skips a wrong type and an over-size file, and /ask finds it."""
    interaction = await world.server.invoke_slash(
        world.guild,
        world.general,
        world.manager,
        "ingest",
        attachments={
            "file1": ("pellow-point.txt", NEW_ARTICLE, "text/plain"),
            "file2": ("payload.exe", b"MZ\x90\x00", "application/octet-stream"),
            "file3": ("huge.txt", b"word " * 5_000, "text/plain"),
        },
    )
    report = await interaction.wait_for_response(timeout=15)
    assert report.ephemeral
    assert "**Added:** uploads/pellow-point.txt" in report.content
    assert "Skipped payload.exe: type .exe not allowed" in report.content
    assert "Skipped huge.txt: larger than 20000 bytes" in report.content
    assert "New 1," in report.content
    downloads = [r.path for r in world.server.requests if r.path.startswith("/attachments/")]
    assert any(p.endswith("/pellow-point.txt") for p in downloads)
    assert not any(p.endswith("/huge.txt") for p in downloads)  # refused before downloading

    _, answer = await world.ask("When was the Pellow Point lighthouse relit?")
    first = fields(answer)[0]["value"]
    assert "[Pellow Point lighthouse shines again after 42 years]" in first
    assert "Westhaven Courier, Ines Marlow, 4 Oct 2024" in first


async def test_ingest_is_refused_to_a_plain_member(world: World) -> None:
    """/ingest checks permissions in the command too."""
    let_everyone_use(world, "ingest")
    interaction = await world.server.invoke_slash(
        world.guild,
        world.general,
        world.member(),
        "ingest",
        attachments={"file1": ("x.txt", b"# Title\n\nText.", "text/plain")},
    )
    refusal = await interaction.wait_for_response()
    assert refusal.ephemeral and refusal.content.startswith("Sorry, only server managers")
    assert not any(r.path.endswith("/x.txt") for r in world.server.requests)


async def test_no_message_could_ping_and_none_was_refused(world: World) -> None:
    """Every message the bot sent disallowed all pings, and Discord refused nothing."""
    sent = [m for m in world.server.messages.values() if m.author is world.server.bot_user]
    assert len(sent) > 20
    for message in sent:
        assert message.allowed_mentions is not None, message.content
        assert message.allowed_mentions.get("parse") == [], message.allowed_mentions
        assert not message.mention_everyone and message.mentions == []
        assert message.mention_roles == []
    assert world.server.rejected == []
    assert world.server.unhandled == []


async def test_rejected_token_stops_start_without_leaking_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """start() with a token Discord rejects raises a clear TokenError; the token shows nowhere."""
    secret = "MTAxMDEwMTAx.wrong.this-token-must-never-appear-anywhere"
    monkeypatch.setenv("DISCORD_TOKEN", secret)
    settings = load_settings(collection=tmp_path / "articles", data_dir=tmp_path / "data")
    caplog.set_level(logging.DEBUG)
    async with DiscordStandIn() as other:
        with pytest.raises(TokenError) as raised:
            await start(settings)
        statuses = [(r.path, r.status) for r in other.requests]
    assert str(raised.value) == "Discord rejected the token in DISCORD_TOKEN"
    assert ("/api/v10/users/@me", 401) in statuses
    captured = capsys.readouterr()
    everything = caplog.text + captured.out + captured.err + str(raised.value)
    assert secret not in everything and "this-token-must-never" not in everything


async def test_sigterm_shuts_down_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGTERM closes the bot, then the engine, and start() returns normally."""
    caplog.set_level(logging.INFO, logger="bot.app")
    articles = tmp_path / "articles"
    articles.mkdir()
    shutil.copy(SAMPLES / "001_astel-floods-carrow-bridge.txt", articles)
    settings = load_settings(collection=articles, data_dir=tmp_path / "data")
    async with DiscordStandIn() as other:
        other.add_guild("Elsewhere")
        monkeypatch.setenv("DISCORD_TOKEN", other.token)
        running = asyncio.create_task(start(settings))
        await other.wait_for_command_sync()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(running, 10)
    assert running.result() is None
    assert "SIGTERM received: shutting down" in caplog.text
    assert (tmp_path / "data" / "activity.sqlite").exists()
    assert not (tmp_path / "data" / "activity.sqlite-wal").exists()  # the engine closed it


async def test_sigterm_during_a_reindex_lets_it_finish_and_report(tmp_path: Path) -> None:
    """On SIGTERM a running reindex completes and posts its summary before the bot closes."""
    articles = tmp_path / "articles"
    articles.mkdir()
    copy_samples(articles, ["001_astel-floods-carrow-bridge", "002_astel-flood-death-toll-rises"])
    settings = load_settings(collection=articles, data_dir=tmp_path / "data", min_confidence=0.0)
    engine = await Engine.open(settings, embedder=HashingEmbedder(delay=1.0))
    try:
        async with DiscordStandIn() as other:
            guild = other.add_guild("Elsewhere")
            channel = other.add_channel(guild, "general")
            manager = other.add_member(guild, "manager", permissions=Permission.MANAGE_GUILD)
            serving = asyncio.create_task(
                serve(CitebotBot(engine, progress_interval=0.2), other.token)
            )
            await other.wait_for_command_sync()
            await other.wait_until_ready()
            interaction = await other.invoke_slash(guild, channel, manager, "reindex")
            underway = await interaction.wait_for_response()
            assert underway.content.startswith("Reindexing…")
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(serving, 10)
            assert underway.content.startswith("**Reindex finished.** New 2,")
            assert other.rejected == []
        assert (await engine.stats()).articles == 2
    finally:
        await engine.close()
