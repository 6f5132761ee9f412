"""End to end: one collection per Discord server; a server's uploads never answer another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.client import CitebotBot
from retrieval.engine import Engine
from retrieval.settings import load_settings
from tests.conftest import copy_samples
from tests.discord_standin import DiscordStandIn, Permission
from tests.e2e.world import INTERACTION_DEADLINE
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.e2e

PRIVATE_ARTICLE = b"""# Harbour board approves the Quayside Beacon project

Published at: **2024-11-20T09:00:00+00:00**

Original: [Quayside Bulletin](https://quayside.example/beacon)

The harbour board approved the Quayside Beacon project on Tuesday, a 14-storey lighthouse hotel on the old grain pier.
"""
QUESTION = "What did the harbour board approve for the old grain pier?"


async def test_a_servers_uploads_answer_only_that_server(tmp_path: Path) -> None:
    """An article uploaded in one server is cited there and never in the other, while the
    shared articles answer in both."""
    shared = tmp_path / "shared"
    shared.mkdir()
    copy_samples(shared, ["014_westhaven-tram-line-opens"])
    settings = load_settings(collection=shared, data_dir=tmp_path / "data", reader=False)
    engine = await Engine.open(settings, HashingEmbedder())
    await engine.reindex()
    try:
        async with DiscordStandIn(interaction_deadline=INTERACTION_DEADLINE) as server:
            quayside, elsewhere = server.add_guild("Quayside"), server.add_guild("Elsewhere")
            channels = {g.id: server.add_channel(g, "general") for g in (quayside, elsewhere)}
            admin = server.add_member(quayside, "editor", permissions=Permission.MANAGE_GUILD)
            readers = {
                g.id: server.add_member(g, f"reader-{g.name}") for g in (quayside, elsewhere)
            }
            async with server.running(CitebotBot(engine)):
                await server.wait_until_ready()
                await server.wait_for_command_sync()
                upload = await server.invoke_slash(
                    quayside,
                    channels[quayside.id],
                    admin,
                    "ingest",
                    attachments={"file1": ("beacon.txt", PRIVATE_ARTICLE, "text/plain")},
                )
                report = await upload.wait_for_response(timeout=15)
                assert "New 1," in report.content

                answers = {}
                for guild in (quayside, elsewhere):
                    asked = await server.invoke_slash(
                        guild, channels[guild.id], readers[guild.id], "ask", {"question": QUESTION}
                    )
                    answers[guild.id] = json.dumps((await asked.wait_for_response()).embeds)
                tram = await server.invoke_slash(
                    elsewhere,
                    channels[elsewhere.id],
                    server.add_member(elsewhere, "tram-fan"),
                    "ask",
                    {"question": "When did the Westhaven tram line open?"},
                )
                tram_answer = json.dumps((await tram.wait_for_response()).embeds)
    finally:
        await engine.close()
    assert "Quayside Beacon" in answers[quayside.id]
    assert (
        "Quayside" not in answers[elsewhere.id] and "quayside.example" not in answers[elsewhere.id]
    )
    assert "Westhaven" in tram_answer  # the shared collection answers in every server
    names = {"shared", f"server-{quayside.id}", f"server-{elsewhere.id}"}
    assert set(engine.collection_names()) == names
