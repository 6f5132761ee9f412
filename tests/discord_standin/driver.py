"""Driving the bot as users would: slash commands, button clicks and messages.

Mixed into :class:`~tests.discord_standin.server.DiscordStandIn`: each call sends what
Discord would send the bot on the gateway and returns what the test then inspects.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from .gateway import GatewayConnection
from .payloads import (
    JSON,
    Permission,
    SnowflakeFactory,
    StandInAttachment,
    StandInChannel,
    StandInGuild,
    StandInMember,
    StandInUser,
)
from .records import RecordedMessage, StandInInteraction
from .slash import OptionValue, build_command_data

if TYPE_CHECKING:
    from .rest import UploadedFile

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


class HasId(Protocol):
    """Anything with a Discord id (stand-in objects, or discord.py's own models)."""

    @property
    def id(self) -> int: ...


class Driver:
    """invoke_slash, click_button and send_message (state lives on the stand-in itself)."""

    _ids: SnowflakeFactory
    application_id: int
    bot_user: StandInUser
    users: dict[int, StandInUser]
    interactions: dict[int, StandInInteraction]
    interactions_by_token: dict[str, StandInInteraction]
    interaction_deadline: float
    _commands: dict[int | None, list[JSON]]

    @property
    def commands(self) -> list[JSON]:
        raise NotImplementedError

    def _require_connections(self, guild: StandInGuild) -> list[GatewayConnection]:
        raise NotImplementedError

    def find_channel(self, channel_id: int | str) -> tuple[StandInGuild, StandInChannel] | None:
        raise NotImplementedError

    def add_attachment(
        self, filename: str, data: bytes, content_type: str | None = None
    ) -> StandInAttachment:
        raise NotImplementedError

    def build_message(
        self,
        channel: StandInChannel,
        author: StandInUser,
        body: JSON,
        files: Sequence[UploadedFile],
        *,
        referenced: RecordedMessage | None = None,
    ) -> RecordedMessage:
        raise NotImplementedError

    def publish(self, message: RecordedMessage) -> asyncio.Future[list[None]] | None:
        raise NotImplementedError

    async def invoke_slash(
        self,
        guild: StandInGuild,
        channel: StandInChannel,
        member: StandInMember,
        name: str,
        options: Mapping[str, OptionValue] | None = None,
        *,
        attachments: Mapping[str, tuple[str, bytes, str]] | None = None,
        locale: str = "en-US",
    ) -> StandInInteraction:
        """Have ``member`` run ``/name`` in ``channel``: dispatch INTERACTION_CREATE (type 2)
        to the sessions of the guild's shard.

        ``name`` may include subcommands ("config set"). Option values are typed by the
        registered command (str, int, float, bool, or stand-in users/members, channels,
        roles and attachments). ``attachments`` maps attachment options to
        ``(filename, bytes, content_type)``; the bot can download them from the stand-in.
        Raises ValueError for options Discord's client would not let a user send, and
        PermissionError if the command's ``default_member_permissions`` hide it from the member.
        """
        connections = self._require_connections(guild)
        command = self._find_command(guild, name.split()[0])
        required = int(command.get("default_member_permissions") or 0)
        granted = guild.permissions_for(member)
        if required and granted & required != required and not granted & Permission.ADMINISTRATOR:
            raise PermissionError(
                f"{member.user.username} lacks default_member_permissions {required} for /{name}"
            )
        values: dict[str, OptionValue] = dict(options or {})
        for option_name, (filename, content, content_type) in (attachments or {}).items():
            values[option_name] = self.add_attachment(filename, content, content_type)
        data = build_command_data(command, name, values, guild, member)
        return await self._dispatch_interaction(
            connections, 2, name, data, guild, channel, member, locale=locale
        )

    async def click_button(
        self,
        target: StandInInteraction | RecordedMessage,
        custom_id: str,
        member: StandInMember,
        *,
        locale: str = "en-US",
    ) -> StandInInteraction:
        """Have ``member`` click a button the bot sent: dispatch INTERACTION_CREATE (type 3).

        ``target`` is the message, or an interaction whose messages are searched (newest
        first) for the button.
        """
        if isinstance(target, RecordedMessage):
            candidates = [target]
        else:
            candidates = [
                *reversed(target.messages),
                *([target.source_message] if target.source_message else []),
            ]
        message = next((m for m in candidates if m.find_component(custom_id) is not None), None)
        if message is None:
            available = [
                c.get("custom_id")
                for m in candidates
                for c in m.iter_components()
                if c.get("custom_id")
            ]
            raise ValueError(
                f"no component with custom_id {custom_id!r}; the messages have {available}"
            )
        component = message.find_component(custom_id)
        assert component is not None
        if component.get("disabled"):
            raise ValueError(f"the component {custom_id!r} is disabled")
        if message.guild is None:
            raise ValueError("only guild messages are supported")
        data = {"custom_id": custom_id, "component_type": component["type"]}
        return await self._dispatch_interaction(
            self._require_connections(message.guild),
            3,
            custom_id,
            data,
            message.guild,
            message.channel,
            member,
            locale=locale,
            source=message,
        )

    async def send_message(
        self,
        channel: StandInChannel,
        member: StandInMember,
        content: str = "",
        *,
        mentions: Iterable[HasId] = (),
        reference: RecordedMessage | None = None,
        attachments: Sequence[StandInAttachment] = (),
    ) -> RecordedMessage:
        """Have ``member`` post a message: dispatch MESSAGE_CREATE.

        ``<@id>`` mentions in ``content`` are found as Discord finds them; ``mentions``
        adds more. Like Discord, the bot only gets it with the GUILD_MESSAGES intent, and
        without MESSAGE_CONTENT its content/embeds/attachments are blanked unless the
        message mentions the bot.
        """
        found = self.find_channel(channel.id)
        if found is None:
            raise ValueError(f"unknown channel {channel.id}")
        self._require_connections(found[0])
        body: JSON = {"content": content}
        message = self.build_message(channel, member.user, body, [], referenced=reference)
        message.attachments = list(attachments)
        for extra in mentions:
            user = self.users.get(extra.id)
            if user is None:
                raise ValueError(f"mentions: no stand-in user has id {extra.id}")
            if user not in message.mentions:
                message.mentions.append(user)
        sent = self.publish(message)
        if sent is not None:
            await sent
        return message

    async def _dispatch_interaction(
        self,
        connections: list[GatewayConnection],
        kind: int,
        name: str,
        data: JSON,
        guild: StandInGuild,
        channel: StandInChannel,
        member: StandInMember,
        *,
        locale: str,
        source: RecordedMessage | None = None,
    ) -> StandInInteraction:
        interaction_id = self._ids.next()
        token = secrets.token_urlsafe(48)
        permissions = guild.permissions_for(member)
        bot_permissions = guild.permissions_for(guild.members[self.bot_user.id])
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "guild_id": str(guild.id),
            "channel": {**channel.to_payload(), "permissions": str(permissions)},
            "channel_id": str(channel.id),
            "member": member.to_payload(permissions=permissions),
            "token": token,
            "version": 1,
            "app_permissions": str(bot_permissions),
            "locale": locale,
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if source is not None:
            payload["message"] = source.to_payload()
        interaction = StandInInteraction(
            id=interaction_id,
            token=token,
            type=kind,
            name=name,
            guild=guild,
            channel=channel,
            member=member,
            payload=payload,
            deadline=self.interaction_deadline,
            source_message=source,
        )
        self.interactions[interaction_id] = interaction
        self.interactions_by_token[token] = interaction
        await asyncio.gather(*(c.dispatch("INTERACTION_CREATE", payload) for c in connections))
        return interaction

    def _find_command(self, guild: StandInGuild, name: str) -> JSON:
        for scope in (guild.id, None):
            for command in self._commands.get(scope, []):
                if command["name"] == name and command["type"] == 1:
                    return command
        names = sorted(c["name"] for c in self.commands)
        raise ValueError(f"/{name} is not registered for guild {guild.name!r}; registered: {names}")

    # --- messages (shared by the REST handlers and the drivers) ------------------------
