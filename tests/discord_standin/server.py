"""``DiscordStandIn``: a local Discord (REST + gateway) that the unmodified discord.py talks to.

Typical test::

    async with DiscordStandIn() as discord_server:
        guild = discord_server.add_guild(name="News")
        channel = discord_server.add_channel(guild, name="general")
        bob = discord_server.add_member(guild, username="bob")
        async with discord_server.running(bot):          # bot.start(discord_server.token)
            await discord_server.wait_until_ready()
            await discord_server.wait_for_command_sync()
            interaction = await discord_server.invoke_slash(guild, channel, bob, "ask", {"q": "?"})
            reply = await interaction.wait_for_response()

Entering the context starts the server on 127.0.0.1 (a free port) and points discord.py at
it (``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``); leaving restores both.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from types import TracebackType

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import web

from .driver import Driver
from .gateway import Gateway, GatewayConnection, shard_of
from .limits import LOADING
from .payloads import (
    DEFAULT_BOT_PERMISSIONS,
    JSON,
    PRIVILEGED_INTENTS,
    Intent,
    Permission,
    SnowflakeFactory,
    StandInAttachment,
    StandInChannel,
    StandInGuild,
    StandInUser,
    utcnow,
)
from .records import (
    RecordedMessage,
    RecordedRequest,
    RejectedRequest,
    Signal,
    StandInInteraction,
)
from .rest import RestApi, UploadedFile
from .world import WorldBuilder

log = logging.getLogger("discord_standin")

MESSAGE_TYPE_DEFAULT = 0
MESSAGE_TYPE_REPLY = 19
MESSAGE_TYPE_CHAT_INPUT_COMMAND = 20
SUPPRESS_EMBEDS = 1 << 2
# Application flags Discord sets when a privileged intent is enabled for an unverified app.
APP_FLAG_FOR_INTENT = {
    Intent.GUILD_PRESENCES: 1 << 13,
    Intent.GUILD_MEMBERS: 1 << 15,
    Intent.MESSAGE_CONTENT: 1 << 19,
}
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


@contextlib.contextmanager
def discord_py_pointed_at(api_url: str, gateway_url: str) -> Iterator[None]:
    """Point discord.py's REST base URL and gateway URL somewhere else; restore them on exit.

    discord.py builds every REST URL from ``discord.http.Route.BASE`` (webhooks and
    interaction callbacks included) and connects to ``DiscordWebSocket.DEFAULT_GATEWAY``
    plus ``?v=10&encoding=json&compress=zlib-stream``.
    """
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


class DiscordStandIn(WorldBuilder, Driver):
    """A stand-in for Discord on 127.0.0.1 that speaks its real REST and gateway protocols.

    Build the world with :meth:`add_guild`, :meth:`add_channel`, :meth:`add_thread`,
    :meth:`add_role` and :meth:`add_member` (before or after the bot connects), run a
    discord.py client with :attr:`token`, then drive it with :meth:`invoke_slash`,
    :meth:`click_button` and :meth:`send_message`, and inspect what it did:
    :attr:`requests`, :attr:`rejected`, :attr:`unhandled`, the returned
    :class:`StandInInteraction` objects and :meth:`channel_messages`.

    Args:
        bot_name: The bot user's username.
        interaction_deadline: Seconds the bot has to acknowledge an interaction (Discord: 3).
        token_lifetime: Seconds an interaction token can send follow-ups and edit the reply
            (Discord: 15 minutes); later webhook calls get 401 "Invalid Webhook Token".
        heartbeat_interval_ms: The interval sent in HELLO.
        bot_permissions: What the bot's managed role grants in every guild.
        enabled_privileged_intents: Privileged intents "enabled in the developer portal";
            IDENTIFYing with others closes the gateway with 4014, as Discord does.
        recommended_shards: The ``shards`` GET /gateway/bot recommends (what discord.py's
            AutoShardedClient runs when given no ``shard_count``).
        max_concurrency: The ``session_start_limit.max_concurrency`` GET /gateway/bot reports.
        session_start_total: Session starts (IDENTIFYs) allowed a day; each one counts.
        max_guilds_per_session: Guilds one session may hold (Discord: 2500); an IDENTIFY
            that would hold more is closed with 4011 Sharding required.

    Guilds are routed to sessions by shard, as on Discord: see ``gateway``.
    """

    def __init__(
        self,
        *,
        bot_name: str = "citebot",
        interaction_deadline: float = 3.0,
        token_lifetime: float = 15 * 60,
        heartbeat_interval_ms: int = 41_250,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        enabled_privileged_intents: int = PRIVILEGED_INTENTS,
        recommended_shards: int = 1,
        max_concurrency: int = 1,
        session_start_total: int = 1000,
        max_guilds_per_session: int = 2500,
    ) -> None:
        self._ids = SnowflakeFactory()
        self.application_id = self._ids.next()
        self.bot_user = StandInUser(id=self.application_id, username=bot_name, bot=True)
        self.app_owner = StandInUser(id=self._ids.next(), username=f"{bot_name}-developer")
        encoded_id = base64.urlsafe_b64encode(str(self.bot_user.id).encode()).decode().rstrip("=")
        self.token = f"{encoded_id}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(27)}"
        """The only token the stand-in accepts (REST 401 and gateway close 4004 otherwise)."""
        self.interaction_deadline = interaction_deadline
        self.token_lifetime = token_lifetime
        self.bot_permissions = int(bot_permissions)
        self.enabled_privileged_intents = int(enabled_privileged_intents)
        self.recommended_shards = recommended_shards
        self.max_concurrency = max_concurrency
        self.session_start_total = session_start_total
        self.max_guilds_per_session = max_guilds_per_session

        self.guilds: dict[int, StandInGuild] = {}
        self.users: dict[int, StandInUser] = {
            self.bot_user.id: self.bot_user,
            self.app_owner.id: self.app_owner,
        }
        self.messages: dict[int, RecordedMessage] = {}
        self.attachments: dict[int, StandInAttachment] = {}
        self.interactions: dict[int, StandInInteraction] = {}
        self.interactions_by_token: dict[str, StandInInteraction] = {}
        self.requests: list[RecordedRequest] = []
        """Every HTTP request the client made (method, path, query, json, files, status)."""
        self.rejected: list[RejectedRequest] = []
        """Every request refused with a Discord error: (route, payload, error body)."""
        self.unhandled: list[RecordedRequest] = []
        """Requests to routes the stand-in does not implement (answered 404, and logged)."""
        self.identify: JSON | None = None
        """The last IDENTIFY payload, without its token."""
        self.gateway_params: dict[str, str] | None = None
        """The query of the last identified gateway connection (v, encoding, compress)."""
        self.session_starts: list[float] = []
        """When each IDENTIFY started a session (``time.monotonic()``)."""

        self._channels: dict[int, tuple[StandInGuild, StandInChannel]] = {}
        self._history: dict[int, list[RecordedMessage]] = {}
        self._commands: dict[int | None, list[JSON]] = {}
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._syncs: dict[int | None, int] = {}
        self._returned: set[int] = set()
        self._signal = Signal()
        self._sessions: dict[str, GatewayConnection] = {}
        self._client_tasks: set[asyncio.Task[None]] = set()
        self._gateway = Gateway(self, heartbeat_interval_ms)
        self._rest = RestApi(self)
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._patch = contextlib.ExitStack()

    # --- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> DiscordStandIn:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1 and point discord.py at it."""
        app = web.Application(middlewares=[self._rest.middleware])
        app.router.add_get("/", self._gateway.handle)
        app.add_routes(self._rest.routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._patch.enter_context(discord_py_pointed_at(self.api_url, self.gateway_url))
        log.info("Discord stand-in listening on %s", self.base_url)

    async def stop(self) -> None:
        """Close gateway connections, stop the server and restore discord.py."""
        self._patch.close()
        await self._gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """What ``discord.http.Route.BASE`` is set to."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` is set to (also the resume URL)."""
        return f"ws://127.0.0.1:{self._port}/"

    @contextlib.asynccontextmanager
    async def running(self, client: discord.Client) -> AsyncIterator[asyncio.Task[None]]:
        """Run ``client.start(self.token)`` for the block; then ``await client.close()``.

        If the client dies (e.g. an exception in ``setup_hook``), the stand-in's waits
        fail at once with that exception instead of timing out, and so does leaving the
        block.
        """
        task = asyncio.create_task(client.start(self.token), name="discord.py client")
        self._client_tasks.add(task)
        task.add_done_callback(lambda _: self._signal.notify())
        try:
            yield task
        finally:
            self._client_tasks.discard(task)
            await client.close()
            await asyncio.wait({task}, timeout=5)
            if not task.done():
                task.cancel()
        failure = task.exception() if task.done() and not task.cancelled() else None
        if failure is not None:
            raise RuntimeError("the discord.py client stopped with an exception") from failure

    # --- the gateway's side (GatewayHost) -------------------------------------------

    def guild_count(self, shard: tuple[int, int]) -> int:
        """How many guilds a session on ``shard`` would hold."""
        return len(self._guilds_on(shard))

    async def gateway_identified(self, connection: GatewayConnection) -> None:
        """Send READY and one GUILD_CREATE per guild of the session's shard; mark it ready."""
        self._sessions[connection.session_id] = connection
        self.session_starts.append(time.monotonic())
        self.identify = connection.identify
        self.gateway_params = connection.params
        guilds = self._guilds_on(connection.shard)
        connection.dispatch("READY", self._ready_payload(connection, guilds))
        sent = [
            connection.dispatch("GUILD_CREATE", self._guild_create(guild, connection.intents))
            for guild in guilds
        ]
        await asyncio.gather(*sent)
        connection.ready = True
        self._signal.notify()

    async def gateway_resumed(self, connection: GatewayConnection, data: JSON) -> bool:
        """RESUME a previous session on a new connection (no replay of missed events)."""
        previous = self._sessions.get(str(data.get("session_id")))
        if previous is None or data.get("token") != self.token:
            return False
        previous.ready = False
        connection.session_id, connection.sequence = previous.session_id, previous.sequence
        connection.identify = previous.identify
        self._sessions[connection.session_id] = connection
        await connection.dispatch("RESUMED", {})
        connection.ready = True
        self._signal.notify()
        return True

    async def gateway_request_members(self, connection: GatewayConnection, data: JSON) -> None:
        """Answer REQUEST_GUILD_MEMBERS (op 8) with one GUILD_MEMBERS_CHUNK per guild."""
        guild_ids = data.get("guild_id")
        for guild_id in guild_ids if isinstance(guild_ids, list) else [guild_ids]:
            guild = self.guilds.get(int(guild_id or 0))
            if guild is None:
                continue
            wanted = {int(user_id) for user_id in data.get("user_ids") or []}
            query = (data.get("query") or "").lower()
            if wanted:
                members = [m for m in guild.members.values() if m.id in wanted]
            else:
                members = [
                    m for m in guild.members.values() if m.user.username.lower().startswith(query)
                ]
            limit = int(data.get("limit") or 0)
            chunk: JSON = {
                "guild_id": str(guild.id),
                "members": [m.to_payload() for m in (members[:limit] if limit else members)],
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [str(user_id) for user_id in wanted - set(guild.members)],
            }
            if data.get("nonce") is not None:
                chunk["nonce"] = data["nonce"]
            connection.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    def gateway_closed(self, connection: GatewayConnection) -> None:
        """Note that one of the bot's connections went away."""
        connection.ready = False
        self._signal.notify()

    def gateway_bot_payload(self) -> JSON:
        """GET /gateway/bot: the URL, the recommended shards and the session start limit."""
        day_ms = 24 * 60 * 60 * 1000
        now = time.monotonic()
        recent = [start for start in self.session_starts if (now - start) * 1000 < day_ms]
        reset_after = int(day_ms - (now - recent[0]) * 1000) if recent else 0
        return {
            "url": self.gateway_url.rstrip("/"),
            "shards": self.recommended_shards,
            "session_start_limit": {
                "total": self.session_start_total,
                "remaining": max(self.session_start_total - len(recent), 0),
                "reset_after": reset_after,
                "max_concurrency": self.max_concurrency,
            },
        }

    @property
    def connected_shards(self) -> list[tuple[int, int]]:
        """The ``(shard_id, num_shards)`` of every ready session of the bot, sorted."""
        return sorted(c.shard for c in self._sessions.values() if c.ready)

    def _guilds_on(self, shard: tuple[int, int]) -> list[StandInGuild]:
        shard_id, count = shard
        return [guild for guild in self.guilds.values() if shard_of(guild.id, count) == shard_id]

    def _connections_for(self, guild_id: int | None) -> list[GatewayConnection]:
        """The ready sessions that get a guild's events (routed by shard, as on Discord)."""
        return [c for c in self._sessions.values() if c.ready and c.receives(guild_id)]

    def _ready_payload(self, connection: GatewayConnection, guilds: list[StandInGuild]) -> JSON:
        flags = sum(
            flag
            for intent, flag in APP_FLAG_FOR_INTENT.items()
            if self.enabled_privileged_intents & intent
        )
        user = self.bot_user.to_payload()
        user.update({"verified": True, "mfa_enabled": False, "email": None, "flags": 0})
        payload: JSON = {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(guild.id), "unavailable": True} for guild in guilds],
            "session_id": connection.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
        }
        shard = (connection.identify or {}).get("shard")
        if shard is not None:
            payload["shard"] = shard
        return payload

    def _guild_create(self, guild: StandInGuild, intents: int) -> JSON:
        # Without GUILD_MEMBERS, Discord only sends the bot's own member.
        members = list(guild.members.values())
        if not intents & Intent.GUILD_MEMBERS:
            members = [guild.members[self.bot_user.id]]
        return guild.to_create_payload(members)

    def application_payload(self) -> JSON:
        """GET /oauth2/applications/@me."""
        flags = sum(
            flag
            for intent, flag in APP_FLAG_FOR_INTENT.items()
            if self.enabled_privileged_intents & intent
        )
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot": self.bot_user.to_payload(),
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.app_owner.to_payload(),
            "team": None,
            "verify_key": secrets.token_hex(32),
            "flags": flags,
            "hook": True,
            "is_monetized": False,
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "rpc_origins": [],
            "tags": [],
            "approximate_guild_count": len(self.guilds),
            "integration_types_config": {"0": {}},
        }

    # --- application commands --------------------------------------------------------

    def sync_commands(self, guild_id: int | None, commands: list[JSON]) -> list[JSON]:
        """Bulk-overwrite commands in a scope (None = global); ids survive re-syncs by name."""
        registered = []
        for command in commands:
            kind = int(command.get("type", 1))
            key = (guild_id, command["name"], kind)
            command_id = self._command_ids.setdefault(key, self._ids.next())
            stored: JSON = {
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "contexts": None,
                "integration_types": [0],
                "nsfw": False,
                **command,
                "id": str(command_id),
                "application_id": str(self.application_id),
                "version": str(self._ids.next()),
                "type": kind,
            }
            if guild_id is not None:
                stored["guild_id"] = str(guild_id)
            registered.append(stored)
        self._commands[guild_id] = registered
        self._syncs[guild_id] = self._syncs.get(guild_id, 0) + 1
        self._signal.notify()
        return registered

    def registered_commands(self, guild_id: int | None = None) -> list[JSON]:
        """The commands registered in one scope (None = global)."""
        return list(self._commands.get(guild_id, []))

    @property
    def commands(self) -> list[JSON]:
        """Every registered command: global ones first, then each guild's."""
        return [command for scope in self._commands.values() for command in scope]

    async def wait_for_command_sync(
        self, timeout: float = 10.0, *, guild: StandInGuild | None = None
    ) -> list[JSON]:
        """Wait for the bot's command sync; return the registered commands.

        With ``guild``, wait for that guild's sync and return its commands; otherwise wait
        for any sync and return all commands.
        """

        def check() -> list[JSON] | None:
            self._raise_if_client_died()
            if guild is not None:
                return self.registered_commands(guild.id) if self._syncs.get(guild.id) else None
            return self.commands if self._syncs else None

        return await self._signal.wait_for(
            check, timeout, lambda: "the bot did not sync its commands"
        )

    # --- waiting --------------------------------------------------------------------

    async def wait_until_ready(self, timeout: float = 10.0, *, sessions: int = 1) -> None:
        """Wait until the bot IDENTIFYed and every guild was sent to one of its sessions.

        With shards, that is once the sessions of all the guilds' shards are ready, and
        at least ``sessions`` sessions are (shards without guilds count only there).
        """

        def check() -> bool | None:
            self._raise_if_client_died()
            ready = len(self.connected_shards) >= sessions
            served = all(self._connections_for(guild_id) for guild_id in self.guilds)
            return True if ready and served else None

        await self._signal.wait_for(
            check, timeout, lambda: "the bot did not connect to the gateway"
        )

    async def wait_for_channel_message(
        self,
        channel: StandInChannel,
        timeout: float = 10.0,
        *,
        predicate: Callable[[RecordedMessage], bool] | None = None,
    ) -> RecordedMessage:
        """Return the oldest message the bot POSTed to ``channel`` not yet returned here.

        ``predicate`` skips messages it rejects; skipped messages stay available to later
        calls.
        """

        def check() -> RecordedMessage | None:
            self._raise_if_client_died()
            for message in self._history.get(channel.id, []):
                if (
                    message.author is self.bot_user
                    and message.webhook_id is None
                    and message.id not in self._returned
                    and (predicate is None or predicate(message))
                ):
                    self._returned.add(message.id)
                    return message
            return None

        return await self._signal.wait_for(
            check, timeout, lambda: f"the bot posted no (matching) message in #{channel.name}"
        )

    async def wait_for_edit(
        self,
        message: RecordedMessage,
        timeout: float = 10.0,
        *,
        predicate: Callable[[RecordedMessage], bool],
    ) -> RecordedMessage:
        """Return ``message`` once the bot has edited it so that ``predicate`` holds."""

        def check() -> RecordedMessage | None:
            self._raise_if_client_died()
            edited = message.edited_at is not None and not message.deleted
            return message if edited and predicate(message) else None

        return await self._signal.wait_for(
            check, timeout, lambda: f"message {message.id} was not edited as expected"
        )

    def channel_messages(self, channel: StandInChannel) -> list[RecordedMessage]:
        """Everything visible in the channel, oldest first (users', bot's, interaction replies)."""
        return [m for m in self._history.get(channel.id, []) if not m.deleted and not m.ephemeral]

    def _raise_if_client_died(self) -> None:
        for task in self._client_tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise RuntimeError("the discord.py client stopped") from task.exception()

    def _require_connections(self, guild: StandInGuild) -> list[GatewayConnection]:
        connections = self._connections_for(guild.id)
        if not connections:
            raise RuntimeError(
                f"no session of the bot gets the events of {guild.name!r}: "
                "await wait_until_ready() first (or start the client running its shard)"
            )
        return connections

    def build_message(
        self,
        channel: StandInChannel,
        author: StandInUser,
        body: JSON,
        files: Sequence[UploadedFile],
        *,
        referenced: RecordedMessage | None = None,
    ) -> RecordedMessage:
        """A new message from a create body (not yet published)."""
        guild = self.guilds[channel.guild_id]
        message = RecordedMessage(
            id=self._ids.next(),
            channel=channel,
            guild=guild,
            author=author,
            content=body.get("content") or "",
            embeds=[{"type": "rich", **embed} for embed in body.get("embeds") or []],
            components=list(body.get("components") or []),
            flags=int(body.get("flags") or 0),
            allowed_mentions=body.get("allowed_mentions"),
            tts=bool(body.get("tts")),
            attachments=self._attachments_for(body, files, []),
        )
        if referenced is not None:
            message.type = MESSAGE_TYPE_REPLY
            message.referenced_message = referenced
            message.message_reference = {
                "type": 0,
                "message_id": str(referenced.id),
                "channel_id": str(referenced.channel_id),
                "guild_id": str(guild.id),
            }
        self._resolve_mentions(message)
        return message

    def interaction_message(
        self, interaction: StandInInteraction, body: JSON, files: Sequence[UploadedFile]
    ) -> RecordedMessage:
        """A reply or follow-up to an interaction, published (MESSAGE_CREATE unless ephemeral)."""
        message = self.build_message(interaction.channel, self.bot_user, body, files)
        message.type = (
            MESSAGE_TYPE_CHAT_INPUT_COMMAND if interaction.type == 2 else MESSAGE_TYPE_DEFAULT
        )
        message.webhook_id = self.application_id
        message.application_id = self.application_id
        message.interaction_metadata = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": interaction.member.user.to_payload(),
            "authorizing_integration_owners": {"0": str(interaction.guild.id)},
            "name": interaction.name,
        }
        if interaction.original is not None:
            message.interaction_metadata["original_response_message_id"] = str(
                interaction.original.id
            )
        self.publish(message)
        return message

    def edit_message(
        self, message: RecordedMessage, body: JSON, files: Sequence[UploadedFile]
    ) -> None:
        """Apply an edit body (only the fields present) and clear the loading state."""
        if "content" in body:
            message.content = body["content"] or ""
        if "embeds" in body:
            message.embeds = [{"type": "rich", **embed} for embed in body["embeds"] or []]
        if "components" in body:
            message.components = list(body["components"] or [])
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        if "flags" in body:
            suppress = int(body["flags"] or 0) & SUPPRESS_EMBEDS
            message.flags = (message.flags & ~SUPPRESS_EMBEDS) | suppress
        if "attachments" in body or files:
            message.attachments = self._attachments_for(body, files, message.attachments)
        message.flags &= ~LOADING
        message.edited_at = utcnow()
        self._resolve_mentions(message)
        if not message.ephemeral:
            for connection in self._connections_for(message.guild_id):
                connection.dispatch("MESSAGE_UPDATE", self._message_event(message, connection))
        self._signal.notify()

    def delete_message(self, message: RecordedMessage) -> None:
        """Mark a message deleted (MESSAGE_DELETE unless ephemeral)."""
        message.deleted = True
        if not message.ephemeral:
            self._announce(
                message.guild_id,
                "MESSAGE_DELETE",
                {
                    "id": str(message.id),
                    "channel_id": str(message.channel_id),
                    "guild_id": str(message.guild_id),
                },
            )
        self._signal.notify()

    def publish(self, message: RecordedMessage) -> asyncio.Future[list[None]] | None:
        """Store a new message and queue MESSAGE_CREATE for the bot (unless ephemeral).

        Returns the future of the dispatches (to the sessions of the message's shard), or
        None when the bot does not get the event.
        """
        self.messages[message.id] = message
        self._history[message.channel_id].append(message)
        message.channel.last_message_id = message.id
        message.channel.message_count += 1
        self._signal.notify()
        if message.ephemeral:
            return None
        sent = []
        for connection in self._connections_for(message.guild_id):
            if connection.intents & Intent.GUILD_MESSAGES:
                event = self._message_event(message, connection)
                sent.append(connection.dispatch("MESSAGE_CREATE", event))
            else:
                log.info("not delivering message %s: no GUILD_MESSAGES intent", message.id)
        return asyncio.gather(*sent) if sent else None

    def _message_event(self, message: RecordedMessage, connection: GatewayConnection) -> JSON:
        payload = message.to_payload()
        visible = (
            connection.intents & Intent.MESSAGE_CONTENT
            or message.author is self.bot_user
            or self.bot_user in message.mentions
        )
        if not visible:
            payload.update(content="", embeds=[], attachments=[], components=[])
            payload.pop("poll", None)
        return payload

    def _attachments_for(
        self, body: JSON, files: Sequence[UploadedFile], existing: list[StandInAttachment]
    ) -> list[StandInAttachment]:
        uploads = {upload.index: upload for upload in files}
        listed = body.get("attachments")
        if listed is None:
            listed = [{"id": index} for index in uploads]
            kept = list(existing)
        else:
            kept = []
        by_id = {attachment.id: attachment for attachment in existing}
        for entry in listed:
            key = int(entry.get("id", -1))
            if key in by_id:
                kept.append(by_id[key])
            elif key in uploads:
                upload = uploads[key]
                content_type = (
                    None
                    if upload.content_type == "application/octet-stream"
                    else upload.content_type
                )
                kept.append(
                    self.add_attachment(
                        entry.get("filename") or upload.filename, upload.data, content_type
                    )
                )
        return kept

    def _resolve_mentions(self, message: RecordedMessage) -> None:
        """Who is pinged, per the content and ``allowed_mentions`` (everything if it is absent)."""
        allowed = message.allowed_mentions
        parse = (
            set(allowed.get("parse") or [])
            if allowed is not None
            else {"users", "roles", "everyone"}
        )
        allowed_users = {int(u) for u in (allowed or {}).get("users") or []}
        allowed_roles = {int(r) for r in (allowed or {}).get("roles") or []}
        users: list[StandInUser] = []
        for raw in _USER_MENTION.findall(message.content):
            user = self.users.get(int(raw))
            if (
                user is not None
                and user not in users
                and ("users" in parse or user.id in allowed_users)
            ):
                users.append(user)
        referenced = message.referenced_message
        replied_user = allowed is None or bool(allowed.get("replied_user"))
        if referenced is not None and replied_user and referenced.author not in users:
            users.append(referenced.author)
        message.mentions = users
        guild = message.guild
        message.mention_roles = [
            int(raw)
            for raw in dict.fromkeys(_ROLE_MENTION.findall(message.content))
            if guild is not None
            and int(raw) in guild.roles
            and ("roles" in parse or int(raw) in allowed_roles)
        ]
        member = guild.members.get(message.author.id) if guild is not None else None
        can_ping_everyone = (
            member is not None
            and guild is not None
            and bool(guild.permissions_for(member) & Permission.MENTION_EVERYONE)
        )
        message.mention_everyone = (
            ("@everyone" in message.content or "@here" in message.content)
            and "everyone" in parse
            and can_ping_everyone
        )
