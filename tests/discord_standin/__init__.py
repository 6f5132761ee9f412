"""A stand-in for Discord that the unmodified discord.py client talks to over 127.0.0.1.

See :class:`DiscordStandIn` (``server.py``) for the API tests use. Modules:

- ``server``: the stand-in (world building, driving the bot, waiting, inspecting).
- ``gateway``: the websocket protocol (HELLO/IDENTIFY/READY, heartbeats, zlib-stream,
  routing guilds to shards).
- ``rest``: the REST routes discord.py calls, with auth, rate-limit headers and errors.
- ``limits``: Discord's message/command limits and its "Invalid Form Body" errors.
- ``slash``: typing slash-command options by the registered command.
- ``records`` / ``payloads``: what is recorded, and the Discord objects with their JSON.
"""

from .gateway import shard_of
from .limits import EPHEMERAL, LOADING, FormErrors, validate_commands, validate_message
from .payloads import (
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    ChannelType,
    Intent,
    Permission,
    StandInAttachment,
    StandInChannel,
    StandInGuild,
    StandInMember,
    StandInRole,
    StandInUser,
)
from .records import RecordedMessage, RecordedRequest, RejectedRequest, StandInInteraction
from .server import DiscordStandIn, discord_py_pointed_at

MANAGE_GUILD = Permission.MANAGE_GUILD
ADMINISTRATOR = Permission.ADMINISTRATOR

__all__ = [
    "ADMINISTRATOR",
    "ALL_PERMISSIONS",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "EPHEMERAL",
    "LOADING",
    "MANAGE_GUILD",
    "ChannelType",
    "DiscordStandIn",
    "FormErrors",
    "Intent",
    "Permission",
    "RecordedMessage",
    "RecordedRequest",
    "RejectedRequest",
    "StandInAttachment",
    "StandInChannel",
    "StandInGuild",
    "StandInInteraction",
    "StandInMember",
    "StandInRole",
    "StandInUser",
    "discord_py_pointed_at",
    "shard_of",
    "validate_commands",
    "validate_message",
]
