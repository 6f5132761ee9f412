"""Smoke tests: the unmodified discord.py client against the local Discord stand-in.

The bot here is a minimal test bot, not the product's: it proves the stand-in speaks
enough of Discord's protocol (zlib-stream gateway, REST, interactions, limits) for
product tests to rely on it.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.discord_standin import (
    DiscordStandIn,
    Permission,
    StandInChannel,
    StandInGuild,
    StandInMember,
    validate_commands,
    validate_message,
)
from tests.e2e.world import INTERACTION_DEADLINE

pytestmark = pytest.mark.e2e


SLOW = INTERACTION_DEADLINE + 0.1
"""How long /slow thinks before answering: just past the window to acknowledge."""


class AgainView(discord.ui.View):
    """One button that rewrites the message it is on (callback type 7)."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Again", custom_id="again")
    async def again(
        self, interaction: discord.Interaction, button: discord.ui.Button[AgainView]
    ) -> None:
        await interaction.response.edit_message(content="clicked", view=None)


class SmokeBot(commands.Bot):
    """/echo defers, thinks past the window to acknowledge and follows up with an embed;
    /quick answers at once with a button; /slow answers too late; /size reads an
    attachment; mentions get a reply."""

    def __init__(self) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            help_command=None,
            guild_ready_timeout=0.05,
        )
        self.seen_contents: list[str] = []
        self.late_error: asyncio.Future[discord.HTTPException] = (
            asyncio.get_running_loop().create_future()
        )

        @self.tree.command(name="echo", description="Echo text after thinking about it")
        @app_commands.describe(text="What to echo")
        async def echo(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.defer(thinking=True)
            await asyncio.sleep(INTERACTION_DEADLINE + 0.5)
            await interaction.followup.send(embed=discord.Embed(title="Echo", description=text))

        @self.tree.command(name="quick", description="Answer at once, with a button")
        async def quick(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("quick", view=AgainView())

        @self.tree.command(name="slow", description="Answer after the deadline")
        async def slow(interaction: discord.Interaction) -> None:
            await asyncio.sleep(SLOW)
            try:
                await interaction.response.send_message("too late")
            except discord.HTTPException as exc:
                self.late_error.set_result(exc)

        @self.tree.command(name="size", description="Report an attachment's size")
        async def size(interaction: discord.Interaction, file: discord.Attachment) -> None:
            data = await file.read()
            await interaction.response.send_message(
                f"{file.filename}: {len(data)} bytes", ephemeral=True
            )

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        if message.author == self.user:
            return
        self.seen_contents.append(message.content)
        if self.user in message.mentions:
            await message.reply(f"You said: {message.content}", mention_author=False)


def build_world(server: DiscordStandIn) -> tuple[StandInGuild, StandInChannel, StandInMember]:
    guild = server.add_guild(name="News")
    channel = server.add_channel(guild, name="general")
    server.add_thread(guild, parent=channel, name="discussion")
    editors = server.add_role(guild, "Editors", permissions=Permission.MANAGE_GUILD)
    server.add_member(guild, "alice", roles=[editors])
    bob = server.add_member(guild, "bob")
    return guild, channel, bob


async def test_login_ready_and_command_sync_over_zlib_stream(
    discord_server: DiscordStandIn,
) -> None:
    guild, channel, _ = build_world(discord_server)
    bot = SmokeBot()
    async with discord_server.running(bot):
        await discord_server.wait_until_ready()
        commands_synced = await discord_server.wait_for_command_sync()
        await asyncio.wait_for(bot.wait_until_ready(), 5)

        assert discord_server.gateway_params == {
            "v": "10",
            "encoding": "json",
            "compress": "zlib-stream",
        }
        assert discord_server.identify is not None
        assert discord_server.identify["intents"] == discord.Intents.default().value
        assert sorted(c["name"] for c in commands_synced) == ["echo", "quick", "size", "slow"]
        echo = next(c for c in commands_synced if c["name"] == "echo")
        assert echo["options"][0]["name"] == "text" and echo["options"][0]["type"] == 3
        assert echo["id"].isdigit()

        assert bot.user is not None and bot.user.id == discord_server.bot_user.id
        assert bot.application_id == discord_server.application_id
        cached = bot.get_guild(guild.id)
        assert cached is not None and cached.name == "News"
        assert cached.get_channel(channel.id) is not None
        assert [t.name for t in cached.threads] == ["discussion"]
        assert {r.name for r in cached.roles} >= {"@everyone", "Editors", "citebot"}
        assert cached.me.guild_permissions.send_messages
        assert not cached.me.guild_permissions.manage_guild
    assert not discord_server.unhandled, discord_server.unhandled
    assert all(r.status and r.status < 400 for r in discord_server.requests)


async def test_slash_command_deferred_past_three_seconds_then_followup(
    discord_server: DiscordStandIn,
) -> None:
    guild, channel, bob = build_world(discord_server)
    bot = SmokeBot()
    async with discord_server.running(bot):
        await discord_server.wait_until_ready()
        await discord_server.wait_for_command_sync()
        interaction = await discord_server.invoke_slash(
            guild, channel, bob, "echo", {"text": "hello there"}
        )
        reply = await interaction.wait_for_response(timeout=10)

    assert [c["type"] for c in interaction.callbacks] == [5]
    assert len(interaction.followups) == 1
    assert reply is interaction.original and not reply.loading and not reply.ephemeral
    assert reply.embeds[0]["title"] == "Echo"
    assert reply.embeds[0]["description"] == "hello there"
    assert not interaction.rejections


async def test_over_limit_payload_is_refused_with_invalid_form_body(
    discord_server: DiscordStandIn,
) -> None:
    _, channel, _ = build_world(discord_server)
    bot = SmokeBot()
    async with discord_server.running(bot):
        await discord_server.wait_until_ready()
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        target = bot.get_channel(channel.id)
        assert isinstance(target, discord.TextChannel)

        with pytest.raises(discord.HTTPException) as raised:
            await target.send("x" * 2001)
        sent = await target.send("x" * 2000)

    assert raised.value.status == 400
    assert raised.value.code == 50035
    assert "In content: Must be 2000 or fewer in length." in raised.value.text
    route, payload, error = discord_server.rejected[-1]
    assert route == f"POST /api/v10/channels/{channel.id}/messages"
    assert len(payload["content"]) == 2001
    assert error["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert [m.id for m in discord_server.channel_messages(channel)] == [sent.id]


async def test_mention_gets_a_reply_and_content_needs_the_intent(
    discord_server: DiscordStandIn,
) -> None:
    _, channel, bob = build_world(discord_server)
    bot = SmokeBot()
    async with discord_server.running(bot):
        await discord_server.wait_until_ready()
        bot_user = discord_server.bot_user
        await discord_server.send_message(channel, bob, content="no mention here")
        question = await discord_server.send_message(
            channel, bob, content=f"{bot_user.mention} how many?", mentions=[bot_user]
        )
        reply = await discord_server.wait_for_channel_message(channel, timeout=10)
        with pytest.raises(TimeoutError):  # the bot ignores its own reply
            await discord_server.wait_for_channel_message(channel, timeout=0.3)

    assert reply.content == f"You said: {bot_user.mention} how many?"
    assert reply.message_reference is not None
    assert reply.message_reference["message_id"] == str(question.id)
    assert reply.referenced_message is question
    assert reply.allowed_mentions is not None and reply.allowed_mentions["replied_user"] is False
    assert reply.mentions == [bot_user]  # mention_author=False: bob is not pinged
    # Without the MESSAGE_CONTENT intent Discord blanks messages that do not mention the bot.
    assert bot.seen_contents == ["", f"{bot_user.mention} how many?"]


async def test_bad_token_is_refused(discord_server: DiscordStandIn) -> None:
    bot = SmokeBot()
    with pytest.raises(discord.LoginFailure):
        await bot.start("not-the-token")
    await bot.close()

    request = discord_server.requests[-1]
    assert (request.method, request.path, request.status) == ("GET", "/api/v10/users/@me", 401)


async def test_raw_gateway_zlib_stream_and_close_codes(discord_server: DiscordStandIn) -> None:
    discord_server.add_guild(name="News")
    url = discord_server.gateway_url + "?v=10&encoding=json&compress=zlib-stream"

    async def receive(
        ws: aiohttp.ClientWebSocketResponse, inflate: Callable[[bytes], bytes]
    ) -> Any:
        frame = await ws.receive(timeout=5)
        assert frame.type is aiohttp.WSMsgType.BINARY
        assert frame.data.endswith(b"\x00\x00\xff\xff")
        return json.loads(inflate(frame.data))

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            hello = await receive(ws, zlib.decompressobj().decompress)
            assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
            await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
            closing = await ws.receive(timeout=5)
            assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4004

        async with session.ws_connect(url) as ws:
            inflate = zlib.decompressobj().decompress  # one context for the whole connection
            assert (await receive(ws, inflate))["op"] == 10
            await ws.send_json({"op": 1, "d": None})
            assert (await receive(ws, inflate))["op"] == 11
            identify = {"token": discord_server.token, "intents": 1 << 15, "properties": {}}
            await ws.send_json({"op": 2, "d": identify})
            ready = await receive(ws, inflate)
            assert (ready["t"], ready["s"]) == ("READY", 1)
            assert ready["d"]["application"]["id"] == str(discord_server.application_id)
            guild_create = await receive(ws, inflate)
            assert (guild_create["t"], guild_create["s"]) == ("GUILD_CREATE", 2)

        async with session.ws_connect(url) as ws:
            await receive(ws, zlib.decompressobj().decompress)
            privileged = {"token": discord_server.token, "intents": 1 << 1, "properties": {}}
            discord_server.enabled_privileged_intents = 0
            await ws.send_json({"op": 2, "d": privileged})
            closing = await ws.receive(timeout=5)
            assert closing.data == 4014


async def test_deadline_double_ack_buttons_and_attachments() -> None:
    async with DiscordStandIn(interaction_deadline=INTERACTION_DEADLINE) as discord_server:
        guild, channel, bob = build_world(discord_server)
        bot = SmokeBot()
        async with discord_server.running(bot):
            await discord_server.wait_until_ready()
            await discord_server.wait_for_command_sync()

            slow = await discord_server.invoke_slash(guild, channel, bob, "slow")
            late = await asyncio.wait_for(bot.late_error, 5)
            with pytest.raises(TimeoutError, match="not acknowledged"):
                await slow.wait_for_response(timeout=2)

            quick = await discord_server.invoke_slash(guild, channel, bob, "quick")
            reply = await quick.wait_for_response()
            assert reply.content == "quick" and [b["custom_id"] for b in reply.buttons] == ["again"]
            callback_url = (
                f"{discord_server.api_url}/interactions/{quick.id}/{quick.token}/callback"
            )
            async with aiohttp.ClientSession() as session:
                second = await session.post(
                    callback_url, json={"type": 4, "data": {"content": "again"}}
                )
                second_body = await second.json()

            click = await discord_server.click_button(quick, "again", bob)
            clicked = await click.wait_for_response()

            size = await discord_server.invoke_slash(
                guild,
                channel,
                bob,
                "size",
                attachments={"file": ("notes.txt", b"12345", "text/plain")},
            )
            size_reply = await size.wait_for_response()

    assert isinstance(late, discord.NotFound) and late.code == 10062
    assert (second.status, second_body["code"]) == (400, 40060)
    assert clicked is reply and clicked.content == "clicked" and clicked.components == []
    assert [c["type"] for c in click.callbacks] == [7]
    assert size_reply.ephemeral and size_reply.content == "notes.txt: 5 bytes"
    assert [m.content for m in discord_server.channel_messages(channel)] == ["clicked"]


def test_limit_validation_reports_discord_style_errors() -> None:
    embed = {
        "title": "t" * 257,
        "description": "d" * 4096,
        "fields": [{"name": "n", "value": "v" * 1025}] + [{"name": "n", "value": "v"}] * 25,
        "footer": {"text": "f" * 2000},
    }
    row = {
        "type": 1,
        "components": [{"type": 2, "style": 1, "label": "l" * 81, "custom_id": "c"}] * 6,
    }
    link = {"type": 1, "components": [{"type": 2, "style": 5, "label": "go", "custom_id": "x"}]}
    errors = validate_message(
        {"content": "ok", "embeds": [embed], "components": [row, link]}
    ).body()

    assert errors["code"] == 50035 and errors["message"] == "Invalid Form Body"
    first = errors["errors"]["embeds"]["0"]
    assert first["title"]["_errors"][0]["message"] == "Must be 256 or fewer in length."
    assert "_errors" in first["fields"]  # 26 fields
    assert first["fields"]["0"]["value"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert errors["errors"]["embeds"]["_errors"][0]["code"] == "MAX_EMBED_SIZE_EXCEEDED"
    components = errors["errors"]["components"]
    assert "_errors" in components["0"]["components"]  # 6 buttons in a row
    assert "label" in components["0"]["components"]["0"]
    assert set(components["1"]["components"]["0"]) == {"url", "custom_id"}
    assert not validate_message({"content": "x" * 2000, "components": [row | {"components": []}]})

    bad_commands = [
        {
            "name": "Ask",
            "description": "",
            "options": [
                {"name": "a", "description": "a", "type": 3},
                {"name": "b", "description": "b", "type": 3, "required": True},
            ],
        },
    ]
    command_errors = validate_commands(bad_commands).body()["errors"]["0"]
    assert set(command_errors) == {"name", "description", "options"}


async def test_over_long_button_url_is_refused_as_discord_does(
    discord_server: DiscordStandIn,
) -> None:
    """A link button's URL of 513 characters gets Discord's 400; one of 512 is sent."""
    _, channel, _ = build_world(discord_server)
    bot = SmokeBot()
    url = "https://example.org/" + "a" * 493

    def link_view(length: int) -> discord.ui.View:
        view = discord.ui.View()
        view.add_item(discord.ui.Button(label="Read", url=url[:length]))
        return view

    async with discord_server.running(bot):
        await discord_server.wait_until_ready()
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        target = bot.get_channel(channel.id)
        assert isinstance(target, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as raised:
            await target.send("too long", view=link_view(513))
        sent = await target.send("fits", view=link_view(512))

    assert (raised.value.status, raised.value.code) == (400, 50035)
    assert "In components.0.components.0.url: Must be 512 or fewer in length." in raised.value.text
    _, payload, _ = discord_server.rejected[-1]
    assert len(payload["components"][0]["components"][0]["url"]) == 513
    assert [m.id for m in discord_server.channel_messages(channel)] == [sent.id]


def _row(button: dict[str, Any]) -> dict[str, Any]:
    """A message with ``button`` alone in an action row."""
    return {"components": [{"type": 1, "components": [{"type": 2, **button}]}]}


def _url(length: int) -> str:
    return "https://example.org/" + "a" * (length - 20)


BUTTON = "components.0.components.0"


@pytest.mark.parametrize(
    ("make", "limit", "path"),
    [
        (lambda n: _row({"style": 5, "label": "Read", "url": _url(n)}), 512, f"{BUTTON}.url"),
        (lambda n: _row({"style": 5, "label": "l" * n, "url": _url(30)}), 80, f"{BUTTON}.label"),
        (lambda n: _row({"style": 1, "custom_id": "c" * n}), 100, f"{BUTTON}.custom_id"),
        (lambda n: {"embeds": [{"title": "t", "url": _url(n)}]}, 2048, "embeds.0.url"),
        (
            lambda n: {"embeds": [{"author": {"name": "a", "url": _url(n)}}]},
            2048,
            "embeds.0.author.url",
        ),
    ],
    ids=["button url", "button label", "custom_id", "embed url", "embed author url"],
)
def test_url_label_and_custom_id_limits(
    make: Callable[[int], dict[str, Any]], limit: int, path: str
) -> None:
    """A field at its limit passes; one character more is refused at that field."""
    assert not validate_message(make(limit))
    node = validate_message(make(limit + 1)).body()["errors"]
    for key in path.split("."):
        node = node[key]
    assert node["_errors"] == [
        {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}
    ]


def test_a_link_is_measured_as_sent_percent_encoded() -> None:
    """170 Cyrillic letters are 170 characters as written but 1,020 once encoded: refused."""
    url = "https://example.org/" + "я" * 170
    refused = validate_message(_row({"style": 5, "label": "Read", "url": url})).body()
    assert "url" in refused["errors"]["components"]["0"]["components"]["0"]
    assert not validate_message(
        _row({"style": 5, "label": "Read", "url": "https://я.org/" + "я" * 80})
    )


GUILDS_AND_MESSAGES = 1 | 1 << 9
"""GUILDS and GUILD_MESSAGES: the intents a raw session asks for below."""


class RawSession:
    """A gateway session opened by hand (no discord.py), to see exactly what it gets."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._inflate = zlib.decompressobj().decompress

    async def receive(self) -> Any:
        frame = await self.ws.receive(timeout=5)
        assert frame.type is aiohttp.WSMsgType.BINARY, frame
        return json.loads(self._inflate(frame.data))

    async def identify(self, server: DiscordStandIn, shard: Any) -> None:
        assert (await self.receive())["op"] == 10
        data = {"token": server.token, "intents": GUILDS_AND_MESSAGES, "properties": {}}
        await self.ws.send_json({"op": 2, "d": {**data, "shard": shard}})

    async def next_event(self) -> str | None:
        """The next event queued for this session (None if it is only the heartbeat ACK).

        The heartbeat is sent after the events of interest were queued; the stand-in
        writes in order, so an ACK first means nothing else was sent.
        """
        await self.ws.send_json({"op": 1, "d": None})
        payload = await self.receive()
        if payload["op"] == 11:
            return None
        return str(payload["t"])


def gateway_url(server: DiscordStandIn) -> str:
    return server.gateway_url + "?v=10&encoding=json&compress=zlib-stream"


@pytest.mark.parametrize("shard", [[4, 4], [-1, 2], [0, 0], [0], "0,1"])
async def test_an_invalid_shard_is_closed_with_4010(
    discord_server: DiscordStandIn, shard: Any
) -> None:
    """A shard id outside [0, num_shards), or no [id, count] pair, is Discord's 4010."""
    async with aiohttp.ClientSession() as http, http.ws_connect(gateway_url(discord_server)) as ws:
        await RawSession(ws).identify(discord_server, shard)
        closing = await ws.receive(timeout=5)
    assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4010
    assert discord_server.connected_shards == []


async def test_too_many_guilds_for_one_session_is_closed_with_4011() -> None:
    """Past the guilds one session may hold, an unsharded IDENTIFY gets 4011; two shards
    holding one guild each are accepted."""
    async with DiscordStandIn(max_guilds_per_session=1) as server:
        server.add_guild("Even", shard=(0, 2))
        server.add_guild("Odd", shard=(1, 2))
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(gateway_url(server)) as ws:
                await RawSession(ws).identify(server, [0, 1])
                closing = await ws.receive(timeout=5)
                assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4011
            async with http.ws_connect(gateway_url(server)) as ws:
                session = RawSession(ws)
                await session.identify(server, [1, 2])
                assert (await session.receive())["t"] == "READY"


async def test_events_go_only_to_the_session_of_the_guilds_shard() -> None:
    """Sessions on shards 0 and 1 of 2 each get READY and GUILD_CREATE for their own guild,
    then only their guild's events; GET /gateway/bot recommends the configured shards
    and counts the session starts."""
    async with DiscordStandIn(recommended_shards=2, max_concurrency=2) as server:
        even, odd = server.add_guild("Even", shard=(0, 2)), server.add_guild("Odd", shard=(1, 2))
        odd_channel = server.add_channel(odd, "general")
        reader = server.add_member(odd, "reader")
        headers = {"Authorization": f"Bot {server.token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.get(server.api_url + "/gateway/bot") as response:
                before = await response.json()
            async with (
                http.ws_connect(gateway_url(server)) as even_ws,
                http.ws_connect(gateway_url(server)) as odd_ws,
            ):
                sessions = {0: RawSession(even_ws), 1: RawSession(odd_ws)}
                for shard_id, session in sessions.items():
                    await session.identify(server, [shard_id, 2])
                for shard_id, guild in ((0, even), (1, odd)):
                    ready, created = [await sessions[shard_id].receive() for _ in range(2)]
                    assert ready["d"]["shard"] == [shard_id, 2]
                    assert [g["id"] for g in ready["d"]["guilds"]] == [str(guild.id)]
                    assert (created["t"], created["d"]["id"]) == ("GUILD_CREATE", str(guild.id))
                await server.wait_until_ready(sessions=2)
                assert server.connected_shards == [(0, 2), (1, 2)]

                server.add_channel(odd, "news")
                await server.send_message(odd_channel, reader, "hello")
                assert await sessions[0].next_event() is None
                odd_events = [(await sessions[1].receive())["t"] for _ in range(2)]
                assert odd_events == ["CHANNEL_CREATE", "MESSAGE_CREATE"]
            async with http.get(server.api_url + "/gateway/bot") as response:
                after = await response.json()
    assert before["shards"] == 2
    assert before["session_start_limit"]["max_concurrency"] == 2
    assert before["session_start_limit"]["remaining"] == 1000
    assert after["session_start_limit"]["remaining"] == 998
    assert 0 < after["session_start_limit"]["reset_after"] <= 24 * 60 * 60 * 1000


async def test_two_sessions_on_one_shard_both_get_its_events(
    discord_server: DiscordStandIn,
) -> None:
    """Discord lets several sessions identify with the same [shard_id, num_shards] (for a
    hand-over between deployments): both are served, and both get the guild's events."""
    guild = discord_server.add_guild("News", shard=(1, 2))
    async with aiohttp.ClientSession() as http:
        url = gateway_url(discord_server)
        async with http.ws_connect(url) as old_ws, http.ws_connect(url) as new_ws:
            sessions = [RawSession(old_ws), RawSession(new_ws)]
            for session in sessions:
                await session.identify(discord_server, [1, 2])
                assert [(await session.receive())["t"] for _ in range(2)] == [
                    "READY",
                    "GUILD_CREATE",
                ]
            await discord_server.wait_until_ready(sessions=2)
            assert discord_server.connected_shards == [(1, 2), (1, 2)]
            discord_server.add_channel(guild, "general")
            assert [await session.next_event() for session in sessions] == ["CHANNEL_CREATE"] * 2
