"""Fixtures for end-to-end tests that run discord.py against the local Discord stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.discord_standin import DiscordStandIn
from tests.e2e.world import INTERACTION_DEADLINE, world

__all__ = ["discord_server", "world"]


@pytest.fixture
async def discord_server() -> AsyncIterator[DiscordStandIn]:
    """A started stand-in with discord.py pointed at it (restored afterwards), giving
    :data:`~tests.e2e.world.INTERACTION_DEADLINE` to acknowledge an interaction."""
    async with DiscordStandIn(interaction_deadline=INTERACTION_DEADLINE) as server:
        yield server
