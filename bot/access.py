"""Where the bot answers (allowed channels) and how often (the per-user /ask cooldown)."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

import discord


def home_channel_id(channel: object) -> int | None:
    """The channel that counts for the allowed-channel check: a thread's parent, else itself."""
    if isinstance(channel, discord.Thread):
        return channel.parent_id
    channel_id = getattr(channel, "id", None)
    return channel_id if isinstance(channel_id, int) else None


def answers_in(channel: object, allowed: Collection[int]) -> bool:
    """Whether the bot answers in ``channel`` (every channel when ``allowed`` is empty)."""
    return not allowed or home_channel_id(channel) in allowed


class Cooldown:
    """At most one question per user every ``seconds`` (0 turns it off)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: dict[int, float] = {}

    def retry_after(self, user_id: int) -> float | None:
        """Seconds until ``user_id`` may ask again, or None (and the question counts now)."""
        if self.seconds <= 0:
            return None
        now = self._clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self.seconds:
            return self.seconds - (now - last)
        self._last[user_id] = now
        if len(self._last) > 1000:  # forget users whose cooldown is over
            self._last = {u: t for u, t in self._last.items() if now - t < self.seconds}
        return None
