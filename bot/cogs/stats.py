"""/stats: what is indexed and when the index was last rebuilt."""

from __future__ import annotations

import contextlib

import discord
from discord import app_commands
from discord.ext import commands

from bot.access import refused_here, server_collection
from bot.client import CitebotBot
from bot.rendering import NO_PINGS, render_stats
from retrieval.errors import NotIndexedError
from retrieval.index.collection import SHARED


class StatsCog(commands.Cog):
    """Shows the engine's index statistics, in the allowed channels, within the rate limit."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot
        self.engine = bot.engine

    @app_commands.command(name="stats", description="How many articles are indexed, and when.")
    @app_commands.guild_only()
    async def stats(self, interaction: discord.Interaction) -> None:
        if await refused_here(
            interaction, self.engine.settings.allowed_channels, self.bot.rate_limit
        ):
            return
        await interaction.response.defer()
        own = server_collection(interaction.guild_id or 0)
        shown = [(own, "This server's articles")]
        if self.engine.settings.include_shared:
            shown.append((SHARED, "Shared articles"))
        found = []
        for collection, label in shown:
            with contextlib.suppress(NotIndexedError):
                found.append((label, await self.engine.stats(collection)))
        if not found:
            raise NotIndexedError("nothing is indexed yet")
        await interaction.followup.send(render_stats(found), allowed_mentions=NO_PINGS)


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(StatsCog(bot))
