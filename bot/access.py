"""Where the bot answers (allowed channels) and how often (a per-user rate limit)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable
from datetime import datetime

import discord

from bot.rendering import NO_PINGS, retry_text

log = logging.getLogger(__name__)

NOT_HERE = "I do not answer questions in this channel."
REFUSAL = "Sorry, only server managers and the bot's admin roles can do that."


def home_channel_id(channel: object) -> int | None:
    """The channel that counts for the allowed-channel check: a thread's parent, else itself."""
    if isinstance(channel, discord.Thread):
        return channel.parent_id
    channel_id = getattr(channel, "id", None)
    return channel_id if isinstance(channel_id, int) else None


def answers_in(channel: object, allowed: Collection[int]) -> bool:
    """Whether the bot answers in ``channel`` (every channel when ``allowed`` is empty)."""
    return not allowed or home_channel_id(channel) in allowed


class RateLimit:
    """A token bucket per user: ``burst`` questions at once, then ``per_minute`` a minute.

    A user's bucket refills at the steady rate up to ``burst``; a question takes one
    token. Full buckets are forgotten once many users are tracked, so memory is bounded
    by the users who asked within the last ``burst / per_minute`` minutes.
    ``per_minute`` 0 turns the limit off.
    """

    TRACKED = 1000
    """Users tracked before the full buckets are forgotten."""

    def __init__(
        self, burst: int, per_minute: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = burst
        self.per_second = per_minute / 60
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}
        """user id -> (tokens, when they were counted)"""

    @property
    def tracked(self) -> int:
        """How many users' buckets are held in memory."""
        return len(self._buckets)

    def _tokens(self, user_id: int, now: float) -> float:
        tokens, counted = self._buckets.get(user_id, (self.burst, now))
        return min(self.burst, tokens + (now - counted) * self.per_second)

    def retry_after(self, user_id: int) -> float | None:
        """Seconds until ``user_id`` may ask again, or None (and the question counts now)."""
        if self.per_second <= 0:
            return None
        now = self._clock()
        tokens = self._tokens(user_id, now)
        if tokens < 1:
            return (1 - tokens) / self.per_second
        self._buckets[user_id] = (tokens - 1, now)
        if len(self._buckets) > self.TRACKED:
            self._buckets = {
                user: bucket
                for user, bucket in self._buckets.items()
                if self._tokens(user, now) < self.burst
            }
        return None


async def refused_here(
    interaction: discord.Interaction, allowed: Collection[int], limit: RateLimit
) -> bool:
    """Tell the user privately why a command is not answered here and now (see
    :func:`refusal`); True when it was refused."""
    refused = refusal(
        interaction.channel, interaction.user.id, allowed, limit, discord.utils.utcnow()
    )
    if refused is None:
        return False
    await interaction.response.send_message(refused, ephemeral=True, allowed_mentions=NO_PINGS)
    return True


def refusal(
    channel: object, user_id: int, allowed: Collection[int], limit: RateLimit, now: datetime
) -> str | None:
    """Why a command is not answered here and now (the channel, then the rate), else None.

    A command that is answered counts against the user's rate.
    """
    if not answers_in(channel, allowed):
        return NOT_HERE
    retry = limit.retry_after(user_id)
    return None if retry is None else retry_text(retry, now)


def is_admin(
    permissions: discord.Permissions, role_ids: Iterable[int], admin_roles: Collection[int]
) -> bool:
    """Manage Server (or Administrator), or a role whose id is in the settings' admin_roles.

    Ids, not names: anyone allowed to make a role could give it an admin role's name.
    """
    if permissions.manage_guild or permissions.administrator:
        return True
    return any(role_id in admin_roles for role_id in role_ids)


async def admin_or_refuse(interaction: discord.Interaction, admin_roles: Collection[int]) -> bool:
    """Check, in the command itself, that the user is an admin; refuse politely if not.

    ``default_permissions`` only hides a command in Discord's client; it is no check.
    """
    user = interaction.user
    roles = [role.id for role in user.roles] if isinstance(user, discord.Member) else []
    if is_admin(interaction.permissions, roles, admin_roles):
        return True
    name = interaction.command.name if interaction.command else "?"
    log.info("refused /%s to user %s", name, user.id)
    await interaction.response.send_message(REFUSAL, ephemeral=True, allowed_mentions=NO_PINGS)
    return False


def server_collection(guild_id: int) -> str:
    """The collection of a Discord server: its own uploads and feeds."""
    return f"server-{guild_id}"
