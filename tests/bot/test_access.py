"""Who may use the bot where: allowed channels, the /ask cooldown, admins, mention text."""

from __future__ import annotations

import discord
import pytest

from bot.access import Cooldown, answers_in, home_channel_id
from bot.cogs.admin import is_admin
from bot.cogs.mentions import question_text


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_cooldown_tells_how_long_to_wait() -> None:
    """A second question within the cooldown gets the seconds left; another user is not held."""
    clock = Clock()
    cooldown = Cooldown(5.0, clock)
    assert cooldown.retry_after(1) is None
    clock.now += 1.5
    assert cooldown.retry_after(1) == pytest.approx(3.5)
    assert cooldown.retry_after(2) is None
    clock.now += 3.5
    assert cooldown.retry_after(1) is None


def test_cooldown_zero_is_off() -> None:
    """With a cooldown of 0 seconds, every question is answered."""
    cooldown = Cooldown(0.0, Clock())
    assert [cooldown.retry_after(1) for _ in range(3)] == [None, None, None]


@pytest.mark.parametrize(
    ("channel_id", "allowed", "expected"),
    [
        (10, [], True),
        (10, [10, 11], True),
        (12, [10, 11], False),
    ],
)
def test_answers_only_in_allowed_channels(
    channel_id: int, allowed: list[int], expected: bool
) -> None:
    """An empty allow-list means everywhere; otherwise only the listed channels."""
    assert answers_in(discord.Object(channel_id), allowed) is expected


def test_unknown_channel_is_not_allowed_when_a_list_is_set() -> None:
    """A channel the bot cannot identify is not answered in when channels are limited."""
    assert home_channel_id(None) is None
    assert answers_in(None, [10]) is False


@pytest.mark.parametrize(
    ("permissions", "roles", "admin_roles", "expected"),
    [
        (discord.Permissions(manage_guild=True), [], [], True),
        (discord.Permissions(administrator=True), [], [], True),
        (discord.Permissions(send_messages=True), ["Editors"], ["Editors"], True),
        (discord.Permissions(send_messages=True), ["Readers"], ["Editors"], False),
        (discord.Permissions.none(), [], [], False),
        (discord.Permissions(manage_messages=True), ["editors"], ["Editors"], False),
    ],
)
def test_admins_are_server_managers_or_named_roles(
    permissions: discord.Permissions, roles: list[str], admin_roles: list[str], expected: bool
) -> None:
    """Manage Server, Administrator or a role named in admin_roles (exact name) is an admin."""
    assert is_admin(permissions, roles, admin_roles) is expected


@pytest.mark.parametrize(
    ("content", "question"),
    [
        ("<@42> How many died?", "How many died?"),
        ("<@!42>   How many\n died? <@42>", "How many died?"),
        ("What about <@7>? <@42>", "What about <@7>?"),
        ("<@42>", ""),
    ],
)
def test_mention_is_stripped_from_the_question(content: str, question: str) -> None:
    """The bot's mention (either form, anywhere) is removed; other text stays."""
    assert question_text(content, 42) == question
