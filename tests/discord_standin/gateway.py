"""Discord's gateway protocol over an aiohttp websocket.

Follows https://discord.com/developers/docs/events/gateway: the client connects with
``?v=10&encoding=json&compress=zlib-stream``; the server sends HELLO (op 10), the client
IDENTIFYs (op 2) and gets READY then one GUILD_CREATE per guild; heartbeats (op 1) are
ACKed (op 11). With ``zlib-stream`` every server frame goes through ONE zlib compressor
per connection and is flushed with Z_SYNC_FLUSH, so each binary frame ends in
``00 00 ff ff``. Close codes are Discord's (4004 bad token, 4014 disallowed intents, ...).

Sharding (https://discord.com/developers/docs/events/gateway#sharding): an IDENTIFY may
carry ``shard: [shard_id, num_shards]``; the connection then gets the events of the guilds
with ``(guild_id >> 22) % num_shards == shard_id`` (without it: every guild, as shard
[0, 1]), and events without a guild go to shard 0 only. A shard outside [0, num_shards)
is closed with 4010, a session that would hold too many guilds (Discord: 2500) with 4011.
Several sessions may identify with the same shard, as Discord allows: each gets its events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import zlib
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from .payloads import JSON, PRIVILEGED_INTENTS

log = logging.getLogger("discord_standin.gateway")

HELLO = 10
HEARTBEAT = 1
HEARTBEAT_ACK = 11
IDENTIFY = 2
PRESENCE_UPDATE = 3
VOICE_STATE_UPDATE = 4
RESUME = 6
REQUEST_GUILD_MEMBERS = 8
INVALID_SESSION = 9
DISPATCH = 0

CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_INVALID_SHARD = 4010
CLOSE_SHARDING_REQUIRED = 4011
CLOSE_INVALID_API_VERSION = 4012
CLOSE_INVALID_INTENTS = 4013
CLOSE_DISALLOWED_INTENTS = 4014


class ZlibStream:
    """Discord's ``zlib-stream`` transport compression: one shared context per connection."""

    def __init__(self) -> None:
        self._context = zlib.compressobj()

    def compress(self, data: bytes) -> bytes:
        """Compress one gateway message, ending it with a sync flush (``00 00 ff ff``)."""
        return self._context.compress(data) + self._context.flush(zlib.Z_SYNC_FLUSH)


class ZstdStream:
    """Discord's ``zstd-stream``: discord.py asks for it instead when ``zstandard`` is installed."""

    def __init__(self) -> None:
        import zstandard

        self._flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK
        self._context = zstandard.ZstdCompressor().compressobj()

    def compress(self, data: bytes) -> bytes:
        """Compress one gateway message as a flushed block of the shared frame."""
        return bytes(self._context.compress(data) + self._context.flush(self._flush))


COMPRESSORS: dict[str, type[ZlibStream] | type[ZstdStream]] = {
    "zlib-stream": ZlibStream,
    "zstd-stream": ZstdStream,
}


class GatewayConnection:
    """One client websocket: its session, sequence number, compression and IDENTIFY.

    Outgoing payloads go through one queue and one writer task, so they leave (and pass
    through the shared compressor) in exactly the order they were sent, even when test
    code and request handlers send at the same time.
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        compressor: ZlibStream | ZstdStream | None,
        params: dict[str, str],
    ) -> None:
        self.ws = ws
        self.params = params
        self.compressor = compressor
        self.session_id = secrets.token_hex(16)
        self.sequence = 0
        self.identify: JSON | None = None
        self.ready = False
        """READY and the GUILD_CREATEs were sent (or the session was resumed)."""
        # Items are (payload, written); a None payload is a barrier that writes nothing.
        self._queue: asyncio.Queue[tuple[JSON | None, asyncio.Future[None]]] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_forever(), name="stand-in gateway writer")

    @property
    def intents(self) -> int:
        """The intents sent in IDENTIFY (0 before it)."""
        return int((self.identify or {}).get("intents", 0))

    @property
    def shard(self) -> tuple[int, int]:
        """``(shard_id, num_shards)`` from IDENTIFY; an unsharded session is shard 0 of 1."""
        shard_id, count = (self.identify or {}).get("shard") or (0, 1)
        return int(shard_id), int(count)

    def receives(self, guild_id: int | None) -> bool:
        """Whether this session gets a guild's events (no guild: shard 0 only)."""
        shard_id, count = self.shard
        return shard_id == (0 if guild_id is None else shard_of(guild_id, count))

    def send(self, payload: JSON | None) -> asyncio.Future[None]:
        """Queue one payload; the future resolves once written (or dropped: socket closed)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((payload, future))
        return future

    def dispatch(self, event: str, data: Any) -> asyncio.Future[None]:
        """Queue an op 0 DISPATCH with the next sequence number."""
        self.sequence += 1
        return self.send({"op": DISPATCH, "t": event, "s": self.sequence, "d": data})

    async def close(self, code: int, reason: str) -> None:
        """Close with a gateway close code, after everything already queued is written."""
        await self.send(None)
        log.info("closing gateway connection: %s %s", code, reason)
        await self.ws.close(code=code, message=reason.encode())

    def stop(self) -> None:
        """Stop the writer task (the socket is gone)."""
        self._writer.cancel()

    async def _write_forever(self) -> None:
        while True:
            payload, future = await self._queue.get()
            if payload is not None and not self.ws.closed:
                text = json.dumps(payload, separators=(",", ":"))
                try:
                    if self.compressor is None:
                        await self.ws.send_str(text)
                    else:
                        await self.ws.send_bytes(self.compressor.compress(text.encode()))
                except ConnectionError:
                    log.debug("gateway socket closed while sending %s", payload.get("t"))
            if not future.done():
                future.set_result(None)


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that gets a guild's events: Discord's ``(guild_id >> 22) % num_shards``."""
    return (guild_id >> 22) % shard_count


def valid_shard(shard: Any) -> bool:
    """An IDENTIFY ``shard`` field Discord accepts: ``[shard_id, num_shards]``, id in range."""
    if not isinstance(shard, list) or len(shard) != 2:
        return False
    shard_id, count = shard
    ints = all(isinstance(n, int) and not isinstance(n, bool) for n in shard)
    return ints and count >= 1 and 0 <= shard_id < count


class GatewayHost(Protocol):
    """What the gateway needs from the stand-in."""

    token: str
    enabled_privileged_intents: int
    max_guilds_per_session: int

    def guild_count(self, shard: tuple[int, int]) -> int:
        """How many guilds a session on ``shard`` would hold."""

    async def gateway_identified(self, connection: GatewayConnection) -> None:
        """Send READY and the GUILD_CREATEs."""

    async def gateway_resumed(self, connection: GatewayConnection, data: JSON) -> bool:
        """Take over a session; False if it cannot be resumed."""

    async def gateway_request_members(self, connection: GatewayConnection, data: JSON) -> None:
        """Answer op 8 with GUILD_MEMBERS_CHUNK."""

    def gateway_closed(self, connection: GatewayConnection) -> None:
        """Forget a connection that went away."""


class Gateway:
    """Serves the gateway websocket at ``/``."""

    def __init__(self, host: GatewayHost, heartbeat_interval_ms: int) -> None:
        self.host = host
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.connections: set[GatewayConnection] = set()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """The websocket handler."""
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        compression = request.query.get("compress")
        if compression is not None and compression not in COMPRESSORS:
            await ws.close(code=CLOSE_DECODE_ERROR, message=b"Unsupported compression.")
            return ws
        compressor = COMPRESSORS[compression]() if compression else None
        connection = GatewayConnection(ws, compressor, dict(request.query))
        if request.query.get("v") != "10":
            await connection.close(CLOSE_INVALID_API_VERSION, "Invalid API version.")
            return ws
        if request.query.get("encoding", "json") != "json":
            await connection.close(CLOSE_DECODE_ERROR, "Only encoding=json is supported.")
            return ws
        self.connections.add(connection)
        try:
            connection.send(
                {
                    "op": HELLO,
                    "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                    "s": None,
                    "t": None,
                }
            )
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    await connection.close(CLOSE_DECODE_ERROR, "Decode error.")
                    break
                try:
                    payload = json.loads(message.data)
                except ValueError:
                    await connection.close(CLOSE_DECODE_ERROR, "Decode error.")
                    break
                await self._handle(connection, payload)
        finally:
            connection.stop()
            self.connections.discard(connection)
            self.host.gateway_closed(connection)
        return ws

    async def close_all(self) -> None:
        """Close every open connection (server shutdown)."""
        for connection in list(self.connections):
            await connection.ws.close(code=1001, message=b"Stand-in shutting down.")

    async def _handle(self, connection: GatewayConnection, payload: JSON) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == HEARTBEAT:
            connection.send({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == IDENTIFY:
            await self._identify(connection, data or {})
        elif op == RESUME:
            if not await self.host.gateway_resumed(connection, data or {}):
                connection.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
        elif connection.identify is None:
            await connection.close(CLOSE_NOT_AUTHENTICATED, "Not authenticated.")
        elif op == REQUEST_GUILD_MEMBERS:
            await self.host.gateway_request_members(connection, data or {})
        elif op not in (PRESENCE_UPDATE, VOICE_STATE_UPDATE):
            log.warning("unknown gateway opcode %r", op)
            await connection.close(CLOSE_UNKNOWN_OPCODE, "Unknown opcode.")

    async def _identify(self, connection: GatewayConnection, data: JSON) -> None:
        if connection.identify is not None:
            await connection.close(CLOSE_ALREADY_AUTHENTICATED, "Already authenticated.")
            return
        if data.get("token") != self.host.token:
            await connection.close(CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0:
            await connection.close(CLOSE_INVALID_INTENTS, "Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS & ~self.host.enabled_privileged_intents:
            await connection.close(CLOSE_DISALLOWED_INTENTS, "Disallowed intent(s).")
            return
        shard = data.get("shard", [0, 1])
        if not valid_shard(shard):
            await connection.close(CLOSE_INVALID_SHARD, "Invalid shard.")
            return
        if self.host.guild_count((shard[0], shard[1])) > self.host.max_guilds_per_session:
            await connection.close(CLOSE_SHARDING_REQUIRED, "Sharding required.")
            return
        connection.identify = {key: value for key, value in data.items() if key != "token"}
        await self.host.gateway_identified(connection)
