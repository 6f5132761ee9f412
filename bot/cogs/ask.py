"""/ask: a question answered with quoted, cited passages."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.access import refused_here, server_collection
from bot.client import CitebotBot
from bot.rendering import NO_PINGS
from bot.views import answer_message


class AskCog(commands.Cog):
    """Answers /ask from the engine, in the allowed channels, within the rate limit."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot
        self.engine = bot.engine

    @app_commands.command(name="ask", description="Ask a question about the indexed news articles.")
    @app_commands.describe(
        question="Your question, in plain words.",
        private="Only you see the question and the answer.",
    )
    @app_commands.guild_only()
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, 500],
        private: bool = False,
    ) -> None:
        if await refused_here(
            interaction, self.engine.settings.allowed_channels, self.bot.rate_limit
        ):
            return
        # Acknowledge within Discord's 3 seconds; the engine then works in its own threads.
        await interaction.response.defer(ephemeral=private)
        embeds, view = await answer_message(
            self.engine,
            question,
            asker=interaction.user.id,
            asked_at=interaction.created_at,
            collection=server_collection(interaction.guild_id or 0),
            private=private,
        )
        await interaction.followup.send(
            embeds=embeds, view=view, ephemeral=private, allowed_mentions=NO_PINGS
        )


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(AskCog(bot))
