"""Who may use the bot where: allowed channels, the rate limit, admins, mention text."""

from __future__ import annotations

from datetime import UTC, datetime

import discord
import pytest

from bot.access import NOT_HERE, RateLimit, answers_in, home_channel_id, is_admin, refusal
from bot.cogs.mentions import question_text


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_a_steady_rate() -> None:
    """Three quick questions pass, the fourth waits for the steady rate; others are not held."""
    clock = Clock()
    limit = RateLimit(3, 6.0, clock)
    assert [limit.retry_after(1) for _ in range(3)] == [None, None, None]
    clock.now += 4.0
    assert limit.retry_after(1) == pytest.approx(6.0)
    assert limit.retry_after(2) is None
    clock.now += 6.0
    assert limit.retry_after(1) is None
    assert limit.retry_after(1) == pytest.approx(10.0)


def test_refused_questions_do_not_count() -> None:
    """Asking again while refused does not push the retry time further away."""
    clock = Clock()
    limit = RateLimit(1, 60.0, clock)
    assert limit.retry_after(1) is None
    assert limit.retry_after(1) == pytest.approx(1.0)
    clock.now += 0.5
    assert limit.retry_after(1) == pytest.approx(0.5)


def test_idle_users_refill_to_the_burst_only() -> None:
    """After a long pause a user gets the burst again, not more."""
    clock = Clock()
    limit = RateLimit(3, 6.0, clock)
    clock.now += 3600
    assert [limit.retry_after(1) is None for _ in range(4)] == [True, True, True, False]


def test_idle_users_are_forgotten() -> None:
    """Users whose bucket has refilled are dropped once many are tracked."""
    clock = Clock()
    limit = RateLimit(3, 6.0, clock)
    for user in range(RateLimit.TRACKED):
        limit.retry_after(user)
    clock.now += 60
    limit.retry_after(-1)
    assert limit.tracked == 1


def test_rate_zero_is_off() -> None:
    """With ask_per_minute 0, every question is answered."""
    limit = RateLimit(1, 0.0, Clock())
    assert [limit.retry_after(1) for _ in range(5)] == [None] * 5


def test_stats_and_ask_refusals_name_the_reason() -> None:
    """Outside the allowed channels the channel is the reason; then the rate, with the wait."""
    limit = RateLimit(1, 6.0, Clock())
    now = datetime(2024, 3, 7, tzinfo=UTC)
    assert refusal(discord.Object(12), 1, [10], limit, now) == NOT_HERE
    assert refusal(discord.Object(10), 1, [10], limit, now) is None
    refused = refusal(discord.Object(10), 1, [10], limit, now)
    assert refused is not None and refused.startswith("You are asking too fast: try again in 10 s")


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


EDITORS, DESK, COPIED_EDITORS = 1187362539001729044, 1187362539001729045, 1290000000000000001
"""Role ids: the real Editors and Desk roles, and another role someone also named "Editors"."""


@pytest.mark.parametrize(
    ("permissions", "role_ids", "admin_roles", "expected"),
    [
        (discord.Permissions(manage_guild=True), [], [], True),
        (discord.Permissions(administrator=True), [], [], True),
        (discord.Permissions(send_messages=True), [EDITORS], [EDITORS, DESK], True),
        (discord.Permissions(send_messages=True), [COPIED_EDITORS, DESK], [DESK], True),
        (discord.Permissions(send_messages=True), [COPIED_EDITORS], [EDITORS], False),
        (discord.Permissions(manage_messages=True), [COPIED_EDITORS, 7], [EDITORS, DESK], False),
        (discord.Permissions.none(), [EDITORS], [], False),
        (discord.Permissions.none(), [], [], False),
    ],
)
def test_admins_are_server_managers_or_listed_role_ids(
    permissions: discord.Permissions, role_ids: list[int], admin_roles: list[int], expected: bool
) -> None:
    """Manage Server, Administrator or a role whose id is in admin_roles is an admin."""
    assert is_admin(permissions, role_ids, admin_roles) is expected


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
