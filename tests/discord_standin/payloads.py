"""The Discord world the stand-in serves (users, guilds, roles, channels, members).

Every object renders itself as the JSON that Discord's API v10 sends, following
https://discord.com/developers/docs (user, guild, role, channel and guild member objects).
Snowflakes are real snowflakes (timestamp in the top bits), so ``created_at`` works in
discord.py.
"""

from __future__ import annotations

import functools
import itertools
import operator
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum, IntFlag
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000


class Permission(IntFlag):
    """Discord permission bits (https://discord.com/developers/docs/topics/permissions)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38
    MODERATE_MEMBERS = 1 << 40
    SEND_POLLS = 1 << 49
    USE_EXTERNAL_APPS = 1 << 50


ALL_PERMISSIONS = Permission(functools.reduce(operator.or_, Permission))

DEFAULT_EVERYONE_PERMISSIONS = (
    Permission.CREATE_INSTANT_INVITE
    | Permission.ADD_REACTIONS
    | Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.CHANGE_NICKNAME
    | Permission.USE_APPLICATION_COMMANDS
    | Permission.CREATE_PUBLIC_THREADS
    | Permission.SEND_MESSAGES_IN_THREADS
    | Permission.SEND_POLLS
)
"""What ``@everyone`` may do in a new guild (a typical community-server set)."""

DEFAULT_BOT_PERMISSIONS = (
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.SEND_MESSAGES_IN_THREADS
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ADD_REACTIONS
    | Permission.USE_APPLICATION_COMMANDS
)
"""What the bot's managed role grants: the scopes a bot invite link usually asks for."""


class Intent(IntFlag):
    """Gateway intents the stand-in looks at (https://discord.com/developers/docs/events/gateway)."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    MESSAGE_CONTENT = 1 << 15


PRIVILEGED_INTENTS = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT


class ChannelType(IntEnum):
    """The channel types the stand-in can create."""

    GUILD_TEXT = 0
    PUBLIC_THREAD = 11


class SnowflakeFactory:
    """Hands out unique, time-ordered Discord snowflakes."""

    def __init__(self) -> None:
        self._increment = itertools.count()

    def next(self) -> int:
        """Return a fresh snowflake for the current time."""
        return self._at(int(time.time() * 1000) - DISCORD_EPOCH_MS)

    def next_on_shard(self, shard_id: int, shard_count: int) -> int:
        """A fresh snowflake that ``(id >> 22) % shard_count`` routes to ``shard_id``.

        Its timestamp is set back by less than ``shard_count`` milliseconds to get there.
        """
        if not 0 <= shard_id < shard_count:
            raise ValueError(f"shard {shard_id} is not in [0, {shard_count})")
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return self._at(millis - (millis - shard_id) % shard_count)

    def _at(self, millis: int) -> int:
        return (millis << 22) | (next(self._increment) & 0xFFF)


def iso(moment: datetime) -> str:
    """Render a timestamp the way Discord does (ISO 8601 with offset)."""
    return moment.isoformat()


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


@dataclass(eq=False)
class StandInUser:
    """A Discord user (a person or the bot)."""

    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        """``<@id>``, the text that mentions this user in message content."""
        return f"<@{self.id}>"

    def to_payload(self) -> JSON:
        """The user object."""
        payload: JSON = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
        }
        if self.bot:
            payload["bot"] = True
        return payload


@dataclass(eq=False)
class StandInRole:
    """A guild role. The role whose id equals the guild id is ``@everyone``."""

    id: int
    guild_id: int
    name: str
    permissions: int
    position: int
    managed: bool = False
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        """``<@&id>`` (or ``@everyone``)."""
        return "@everyone" if self.id == self.guild_id else f"<@&{self.id}>"

    def to_payload(self) -> JSON:
        """The role object."""
        payload: JSON = {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(int(self.permissions)),
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }
        if self.bot_id is not None:
            payload["tags"] = {"bot_id": str(self.bot_id)}
        return payload


@dataclass(eq=False)
class StandInChannel:
    """A guild text channel, or a public thread inside one."""

    id: int
    guild_id: int
    name: str
    type: ChannelType
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    owner_id: int | None = None
    created_at: datetime = field(default_factory=utcnow)
    last_message_id: int | None = None
    message_count: int = 0

    @property
    def mention(self) -> str:
        """``<#id>``."""
        return f"<#{self.id}>"

    @property
    def is_thread(self) -> bool:
        """Whether this is a thread."""
        return self.type is ChannelType.PUBLIC_THREAD

    def to_payload(self) -> JSON:
        """The channel object."""
        last = str(self.last_message_id) if self.last_message_id else None
        if self.is_thread:
            return {
                "id": str(self.id),
                "type": int(self.type),
                "guild_id": str(self.guild_id),
                "parent_id": str(self.parent_id),
                "owner_id": str(self.owner_id),
                "name": self.name,
                "last_message_id": last,
                "rate_limit_per_user": 0,
                "flags": 0,
                "message_count": self.message_count,
                "total_message_sent": self.message_count,
                "member_count": 1,
                "applied_tags": [],
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": iso(self.created_at),
                    "locked": False,
                    "create_timestamp": iso(self.created_at),
                },
            }
        return {
            "id": str(self.id),
            "type": int(self.type),
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "topic": self.topic,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": last,
            "flags": 0,
        }


@dataclass(eq=False)
class StandInMember:
    """A user's membership of one guild."""

    user: StandInUser
    guild_id: int
    role_ids: list[int]
    nick: str | None = None
    joined_at: datetime = field(default_factory=utcnow)

    @property
    def id(self) -> int:
        """The member's user id."""
        return self.user.id

    @property
    def mention(self) -> str:
        """``<@id>``."""
        return self.user.mention

    def to_payload(self, *, with_user: bool = True, permissions: int | None = None) -> JSON:
        """The guild member object; partial (no ``user``) inside messages and resolved data."""
        payload: JSON = {
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(role_id) for role_id in self.role_ids],
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            payload["user"] = self.user.to_payload()
        if permissions is not None:
            payload["permissions"] = str(int(permissions))
        return payload


@dataclass(eq=False)
class StandInGuild:
    """A guild with its roles, channels and members, keyed by id."""

    id: int
    name: str
    owner_id: int = 0
    created_at: datetime = field(default_factory=utcnow)
    roles: dict[int, StandInRole] = field(default_factory=dict)
    channels: dict[int, StandInChannel] = field(default_factory=dict)
    members: dict[int, StandInMember] = field(default_factory=dict)

    @property
    def everyone_role(self) -> StandInRole:
        """The ``@everyone`` role."""
        return self.roles[self.id]

    @property
    def owner(self) -> StandInMember:
        """The guild's owner."""
        return self.members[self.owner_id]

    def permissions_for(self, member: StandInMember) -> int:
        """The member's guild-wide permissions (owner and administrators get everything)."""
        if member.id == self.owner_id:
            return int(ALL_PERMISSIONS)
        permissions = self.everyone_role.permissions
        for role_id in member.role_ids:
            permissions |= self.roles[role_id].permissions
        if permissions & Permission.ADMINISTRATOR:
            return int(ALL_PERMISSIONS)
        return int(permissions)

    def to_create_payload(self, members: list[StandInMember]) -> JSON:
        """The GUILD_CREATE dispatch data, with the given members in it."""
        channels = [c for c in self.channels.values() if not c.is_thread]
        threads = [c for c in self.channels.values() if c.is_thread]
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "max_members": 500000,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [role.to_payload() for role in self.roles.values()],
            "joined_at": iso(self.created_at),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "members": [member.to_payload() for member in members],
            "channels": [channel.to_payload() for channel in channels],
            "threads": [thread.to_payload() for thread in threads],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


@dataclass(eq=False)
class StandInAttachment:
    """A file the stand-in serves at ``url`` (an option value, or a message's attachment)."""

    id: int
    filename: str
    data: bytes
    content_type: str
    url: str

    def to_payload(self) -> JSON:
        """The attachment object."""
        return {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
        }
