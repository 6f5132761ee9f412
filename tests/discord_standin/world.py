"""Building the stand-in's world: guilds, channels, threads, roles, members, attachments.

Mixed into :class:`~tests.discord_standin.server.DiscordStandIn`; objects added while a
bot is connected are announced to it on the gateway, as Discord does: to the sessions of
the guild's shard.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from urllib.parse import quote

from .gateway import GatewayConnection
from .payloads import (
    DEFAULT_EVERYONE_PERMISSIONS,
    JSON,
    ChannelType,
    Intent,
    SnowflakeFactory,
    StandInAttachment,
    StandInChannel,
    StandInGuild,
    StandInMember,
    StandInRole,
    StandInUser,
)
from .records import RecordedMessage


class WorldBuilder:
    """The add_* methods of the stand-in (state lives on the stand-in itself)."""

    _ids: SnowflakeFactory
    bot_user: StandInUser
    bot_permissions: int
    guilds: dict[int, StandInGuild]
    users: dict[int, StandInUser]
    attachments: dict[int, StandInAttachment]
    _channels: dict[int, tuple[StandInGuild, StandInChannel]]
    _history: dict[int, list[RecordedMessage]]

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    def _connections_for(self, guild_id: int | None) -> list[GatewayConnection]:
        raise NotImplementedError

    def _guild_create(self, guild: StandInGuild, intents: int) -> JSON:
        raise NotImplementedError

    def add_guild(
        self,
        name: str = "Test Guild",
        *,
        owner_name: str = "owner",
        shard: tuple[int, int] | None = None,
    ) -> StandInGuild:
        """Create a guild with ``@everyone``, an owner member and the bot (with a managed role).

        ``shard=(shard_id, num_shards)`` picks an id that lands on that shard (otherwise the
        id, hence the shard, depends on the clock).
        """
        guild_id = self._ids.next() if shard is None else self._ids.next_on_shard(*shard)
        guild = StandInGuild(id=guild_id, name=name)
        guild.roles[guild.id] = StandInRole(
            id=guild.id,
            guild_id=guild.id,
            name="@everyone",
            permissions=int(DEFAULT_EVERYONE_PERMISSIONS),
            position=0,
        )
        bot_role = StandInRole(
            id=self._ids.next(),
            guild_id=guild.id,
            name=self.bot_user.username,
            permissions=self.bot_permissions,
            position=1,
            managed=True,
            bot_id=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[self.bot_user.id] = StandInMember(self.bot_user, guild.id, [bot_role.id])
        owner = self._new_user(owner_name)
        guild.members[owner.id] = StandInMember(owner, guild.id, [])
        guild.owner_id = owner.id
        self.guilds[guild.id] = guild
        for connection in self._connections_for(guild.id):
            connection.dispatch("GUILD_CREATE", self._guild_create(guild, connection.intents))
        return guild

    def add_channel(
        self, guild: StandInGuild, name: str = "general", *, topic: str | None = None
    ) -> StandInChannel:
        """Create a text channel."""
        position = sum(1 for c in guild.channels.values() if not c.is_thread)
        channel = StandInChannel(
            id=self._ids.next(),
            guild_id=guild.id,
            name=name,
            type=ChannelType.GUILD_TEXT,
            position=position,
            topic=topic,
        )
        self._register_channel(guild, channel)
        self._announce(guild.id, "CHANNEL_CREATE", channel.to_payload())
        return channel

    def add_thread(
        self, guild: StandInGuild, *, parent: StandInChannel, name: str
    ) -> StandInChannel:
        """Create a public thread in ``parent`` (started by the guild owner)."""
        thread = StandInChannel(
            id=self._ids.next(),
            guild_id=guild.id,
            name=name,
            type=ChannelType.PUBLIC_THREAD,
            parent_id=parent.id,
            owner_id=guild.owner_id,
        )
        self._register_channel(guild, thread)
        self._announce(guild.id, "THREAD_CREATE", {**thread.to_payload(), "newly_created": True})
        return thread

    def add_role(self, guild: StandInGuild, name: str, *, permissions: int = 0) -> StandInRole:
        """Create a role with the given permission bits (see :class:`Permission`)."""
        role = StandInRole(
            id=self._ids.next(),
            guild_id=guild.id,
            name=name,
            permissions=int(permissions),
            position=len(guild.roles),
        )
        guild.roles[role.id] = role
        self._announce(
            guild.id, "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_payload()}
        )
        return role

    def add_member(
        self,
        guild: StandInGuild,
        username: str,
        *,
        permissions: int = 0,
        roles: Sequence[StandInRole] = (),
        nick: str | None = None,
        bot: bool = False,
    ) -> StandInMember:
        """Create a user and add them to the guild.

        ``permissions`` (e.g. ``Permission.MANAGE_GUILD``) gives the member a role of their
        own with those bits; ``roles`` assigns existing roles. Everyone also has
        ``@everyone``'s permissions.
        """
        user = self._new_user(username, bot=bot)
        role_ids = [role.id for role in roles]
        if permissions:
            role_ids.append(
                self.add_role(guild, f"{username} permissions", permissions=permissions).id
            )
        member = StandInMember(user, guild.id, role_ids, nick=nick)
        guild.members[user.id] = member
        for connection in self._connections_for(guild.id):
            if connection.intents & Intent.GUILD_MEMBERS:
                connection.dispatch(
                    "GUILD_MEMBER_ADD", {**member.to_payload(), "guild_id": str(guild.id)}
                )
        return member

    def add_attachment(
        self, filename: str, data: bytes, content_type: str | None = None
    ) -> StandInAttachment:
        """Store a file the stand-in serves at the returned attachment's ``url``."""
        attachment_id = self._ids.next()
        guessed = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        attachment = StandInAttachment(
            id=attachment_id,
            filename=filename,
            data=data,
            content_type=guessed,
            url=f"{self.base_url}/attachments/{attachment_id}/{quote(filename)}",
        )
        self.attachments[attachment_id] = attachment
        return attachment

    def _new_user(self, username: str, *, bot: bool = False) -> StandInUser:
        user = StandInUser(id=self._ids.next(), username=username, bot=bot)
        self.users[user.id] = user
        return user

    def _register_channel(self, guild: StandInGuild, channel: StandInChannel) -> None:
        guild.channels[channel.id] = channel
        self._channels[channel.id] = (guild, channel)
        self._history[channel.id] = []

    def _announce(self, guild_id: int | None, event: str, data: JSON) -> None:
        """Dispatch an event to the sessions that get the guild's events."""
        for connection in self._connections_for(guild_id):
            connection.dispatch(event, data)

    def find_channel(self, channel_id: int | str) -> tuple[StandInGuild, StandInChannel] | None:
        """The guild and channel for an id, if it exists."""
        key = str(channel_id)
        return self._channels.get(int(key)) if key.isdigit() else None
