"""The e2e world: the real bot on a real engine over the samples, against the stand-in.

``world`` (module-scoped, one bot per test module) indexes the shipped sample articles
with the fast fake models and serves one guild; the helpers read what a user sees.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from bot.client import CitebotBot
from retrieval.engine import Engine
from retrieval.settings import Settings, load_settings
from tests.conftest import SAMPLES, copy_samples
from tests.discord_standin import (
    DiscordStandIn,
    Permission,
    RecordedMessage,
    StandInChannel,
    StandInGuild,
    StandInInteraction,
    StandInMember,
)
from tests.fakes import HashingEmbedder, ScriptedReader

INTERACTION_DEADLINE = 0.5
"""Seconds the bot has to acknowledge an interaction in the world (Discord: 3)."""

HELD_BACK = ["008_halvorsen-comet-discovery", "009_arctic-tern-migration-study"]
"""Samples left out of the first index, for /reindex to find."""

FLOOD_QUESTION = "How many dead in the Astel valley floods?"
TOLL_URL = "https://northernledger.example/2024/03/07/astel-valley-flood-death-toll"

NEW_ARTICLE = b"""# Pellow Point lighthouse shines again after 42 years

Published at: **2024-10-04T08:15:00+00:00**

Author: **Ines Marlow**

Original: [Westhaven Courier](https://westhavencourier.example/2024/10/04/pellow-point-lighthouse)

The Pellow Point lighthouse was relit on Friday evening, 42 years after its lamp was switched off.
Volunteers from the Pellow Point Lighthouse Trust spent six years restoring the lantern room.
The beam can be seen 18 nautical miles out to sea, the trust said.
"""


@dataclass
class World:
    """The running bot, its engine and the Discord guild it serves."""

    server: DiscordStandIn
    bot: CitebotBot
    engine: Engine
    embedder: HashingEmbedder
    settings: Settings
    guild: StandInGuild
    general: StandInChannel
    offtopic: StandInChannel
    thread: StandInChannel
    manager: StandInMember
    editor: StandInMember

    def __post_init__(self) -> None:
        self._names = itertools.count(1)

    def member(self) -> StandInMember:
        """A new member with no special permissions (and a full rate-limit burst)."""
        return self.server.add_member(self.guild, f"reader{next(self._names)}")

    async def ask(
        self, question: str, member: StandInMember | None = None, **options: Any
    ) -> tuple[StandInInteraction, RecordedMessage]:
        """/ask in #general; the interaction and the answer the user sees."""
        interaction = await self.server.invoke_slash(
            self.guild,
            options.pop("channel", self.general),
            member or self.member(),
            "ask",
            {"question": question, **options},
        )
        return interaction, await interaction.wait_for_response(timeout=15)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[World]:
    """The bot running against the stand-in, on a real engine over the sample articles.

    The stand-in gives the bot ``INTERACTION_DEADLINE`` seconds to acknowledge an
    interaction (a test module may set its own; Discord gives 3), so a test of a slow
    answer waits a second, not three.
    """
    deadline = getattr(request.module, "INTERACTION_DEADLINE", INTERACTION_DEADLINE)
    root = tmp_path_factory.mktemp("citebot")
    collection = root / "collection"
    collection.mkdir()
    names = [path.stem for path in sorted(SAMPLES.glob("*.txt")) if path.stem not in HELD_BACK]
    copy_samples(collection, names)
    async with DiscordStandIn(interaction_deadline=deadline) as server:
        guild = server.add_guild("News")
        general = server.add_channel(guild, "general")
        offtopic = server.add_channel(guild, "offtopic")
        thread = server.add_thread(guild, parent=general, name="flood-questions")
        editors = server.add_role(guild, "Editors")
        manager = server.add_member(guild, "manager", permissions=Permission.MANAGE_GUILD)
        editor = server.add_member(guild, "editor", roles=[editors])
        settings = load_settings(
            collection=collection,
            data_dir=root / "data",
            min_confidence=0.0,
            passage_tokens=512,  # long passages, so that quotes must be cut to fit
            admin_roles=[editors.id],
            allowed_channels=[general.id],
            ask_burst=3,
            ask_per_minute=1,  # a minute between questions after the burst
            ingest_max_bytes=20_000,
        )
        embedder = HashingEmbedder(max_tokens=512)
        engine = await Engine.open(settings, embedder, ScriptedReader({"31": 0.99}))
        await engine.reindex()
        bot = CitebotBot(engine, progress_interval=0.2)
        async with server.running(bot):
            await server.wait_until_ready()
            await server.wait_for_command_sync()
            await asyncio.wait_for(bot.wait_until_ready(), 10)
            yield World(
                server, bot, engine, embedder, settings, guild, general, offtopic, thread,
                manager, editor,
            )  # fmt: skip
        await engine.close()


def button(message: RecordedMessage, *, label: str | None = None, emoji: str | None = None) -> Any:
    """The button with this label or emoji."""
    for candidate in message.buttons:
        if label is not None and candidate.get("label") == label:
            return candidate
        if emoji is not None and (candidate.get("emoji") or {}).get("name") == emoji:
            return candidate
    raise AssertionError(f"no button {label or emoji} in {message.buttons}")


def fields(message: RecordedMessage) -> list[dict[str, str]]:
    return list(message.embeds[0].get("fields") or [])


def answering_source(message: RecordedMessage) -> tuple[int, dict[str, str]]:
    """The number the bold answer sentence cites, and the field quoting that source.

    The sentence must be the flood toll, with its answering phrase (31) underlined.
    """
    description = message.embeds[0]["description"]
    found = re.match(r"\*\*(.*)\*\* \[(\d+)\]", description)
    assert found, description
    assert "__31__" in found.group(1) and "rose to" in found.group(1)
    number = int(found.group(2))
    return number, fields(message)[number - 1]


def shown_text(message: RecordedMessage) -> str:
    """Every piece of text in the message's embeds, as a reader sees it."""
    parts = [message.content]
    for embed in message.embeds:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']}\n{f['value']}" for f in embed.get("fields") or []]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(parts)


def let_everyone_use(world: World, name: str) -> None:
    """What a server manager does in Server Settings > Integrations: let @everyone see /name.

    ``default_permissions`` only hides a command in Discord's client until then; the
    command must check permissions itself.
    """
    for command in world.server.commands:
        if command["name"] == name:
            command["default_member_permissions"] = None
