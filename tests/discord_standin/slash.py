"""Turn a test's ``{"option": value}`` into the ``data`` of an APPLICATION_COMMAND interaction.

Values are typed by the registered command's option types, and checked the way Discord's
client checks them before it lets a user submit (choices, lengths, ranges, channel types).
See https://discord.com/developers/docs/interactions/application-commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .payloads import (
    JSON,
    StandInAttachment,
    StandInChannel,
    StandInGuild,
    StandInMember,
    StandInRole,
    StandInUser,
)

SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING = 3
INTEGER = 4
BOOLEAN = 5
USER = 6
CHANNEL = 7
ROLE = 8
MENTIONABLE = 9
NUMBER = 10
ATTACHMENT = 11

OptionValue = (
    str
    | int
    | float
    | bool
    | StandInUser
    | StandInMember
    | StandInChannel
    | StandInRole
    | StandInAttachment
)


def build_command_data(
    command: JSON,
    name: str,
    options: Mapping[str, OptionValue],
    guild: StandInGuild,
    invoker: StandInMember,
) -> JSON:
    """The interaction ``data`` for invoking ``name`` ("ask", or "config set" for subcommands)."""
    parts = name.split()
    schema: list[JSON] = command.get("options") or []
    path: list[JSON] = []
    for part in parts[1:]:
        level = next(
            (
                o
                for o in schema
                if o["name"] == part and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)
            ),
            None,
        )
        if level is None:
            raise ValueError(
                f"/{command['name']} has no subcommand {part!r} on the way to {name!r}"
            )
        path.append(level)
        schema = level.get("options") or []
    if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in schema):
        raise ValueError(f"/{name} needs a subcommand: {[o['name'] for o in schema]}")

    known = {o["name"]: o for o in schema}
    unknown = set(options) - set(known)
    if unknown:
        raise ValueError(f"/{name} has no option(s) {sorted(unknown)}; it has {sorted(known)}")
    missing = [o["name"] for o in schema if o.get("required") and o["name"] not in options]
    if missing:
        raise ValueError(f"/{name} requires option(s) {missing}")

    resolved: dict[str, JSON] = {}
    values: list[JSON] = [
        {
            "name": key,
            "type": known[key]["type"],
            "value": _option_value(known[key], value, guild, invoker, resolved),
        }
        for key, value in options.items()
    ]
    for level in reversed(path):
        values = [{"name": level["name"], "type": level["type"], "options": values}]

    data: JSON = {"id": command["id"], "name": command["name"], "type": 1, "options": values}
    if resolved:
        data["resolved"] = resolved
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def _option_value(
    schema: JSON, value: Any, guild: StandInGuild, invoker: StandInMember, resolved: dict[str, JSON]
) -> Any:
    kind, name = schema["type"], schema["name"]

    def wrong(expected: str) -> ValueError:
        return ValueError(f"option {name!r} takes {expected}, got {value!r}")

    if kind == BOOLEAN:
        if not isinstance(value, bool):
            raise wrong("a bool")
        return value
    if kind == STRING:
        if not isinstance(value, str):
            raise wrong("a str")
        _check_range(name, len(value), schema.get("min_length"), schema.get("max_length"), "length")
    elif kind in (INTEGER, NUMBER):
        integer_only = kind == INTEGER
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (integer_only and isinstance(value, float))
        ):
            raise wrong("an int" if integer_only else "a number")
        _check_range(name, value, schema.get("min_value"), schema.get("max_value"), "value")
    else:
        return str(_resolve(schema, value, guild, invoker, resolved))
    choices = [c["value"] for c in schema.get("choices") or []]
    if choices and value not in choices:
        raise ValueError(f"option {name!r} must be one of {choices}, got {value!r}")
    return value


def _check_range(name: str, value: float, low: float | None, high: float | None, what: str) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"option {name!r} {what} {value} is outside [{low}, {high}]")


_EXPECTED = {
    USER: "a user or member",
    CHANNEL: "a channel",
    ROLE: "a role",
    MENTIONABLE: "a user, member or role",
    ATTACHMENT: "an attachment",
}
_PARTIAL_CHANNEL_KEYS = frozenset(
    {
        "id",
        "name",
        "type",
        "parent_id",
        "guild_id",
        "topic",
        "position",
        "nsfw",
        "flags",
        "last_message_id",
        "rate_limit_per_user",
        "thread_metadata",
    }
)


def _resolve(
    schema: JSON, value: Any, guild: StandInGuild, invoker: StandInMember, resolved: dict[str, JSON]
) -> int:
    """Add the object to ``resolved`` (users/members/roles/channels/attachments); return its id."""
    kind = schema["type"]
    if isinstance(value, StandInMember):
        value = value.user
    if isinstance(value, StandInUser) and kind in (USER, MENTIONABLE):
        resolved.setdefault("users", {})[str(value.id)] = value.to_payload()
        member = guild.members.get(value.id)
        if member is not None:
            permissions = guild.permissions_for(member)
            resolved.setdefault("members", {})[str(value.id)] = member.to_payload(
                with_user=False, permissions=permissions
            )
        return value.id
    if isinstance(value, StandInRole) and kind in (ROLE, MENTIONABLE):
        resolved.setdefault("roles", {})[str(value.id)] = value.to_payload()
        return value.id
    if isinstance(value, StandInChannel) and kind == CHANNEL:
        allowed = schema.get("channel_types")
        if allowed and int(value.type) not in allowed:
            raise ValueError(
                f"option {schema['name']!r} accepts channel types {allowed}, not {int(value.type)}"
            )
        partial = {k: v for k, v in value.to_payload().items() if k in _PARTIAL_CHANNEL_KEYS}
        partial["permissions"] = str(guild.permissions_for(invoker))
        resolved.setdefault("channels", {})[str(value.id)] = partial
        return value.id
    if isinstance(value, StandInAttachment) and kind == ATTACHMENT:
        resolved.setdefault("attachments", {})[str(value.id)] = value.to_payload()
        return value.id
    expected = _EXPECTED.get(kind, f"option type {kind}")
    raise ValueError(f"option {schema['name']!r} takes {expected}, got {value!r}")
