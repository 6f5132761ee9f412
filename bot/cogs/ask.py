"""/ask: a question answered with quoted, cited passages."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.access import answers_in
from bot.client import CitebotBot
from bot.rendering import NO_PINGS, SOURCES_ASKED, retry_text
from bot.views import AnswerView


class AskCog(commands.Cog):
    """Answers /ask from the engine, in the allowed channels, within the cooldown."""

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
        settings = self.engine.settings
        if not answers_in(interaction.channel, settings.allowed_channels):
            await interaction.response.send_message(
                "I do not answer questions in this channel.",
                ephemeral=True,
                allowed_mentions=NO_PINGS,
            )
            return
        retry = self.bot.ask_cooldown.retry_after(interaction.user.id)
        if retry is not None:
            await interaction.response.send_message(
                retry_text(retry, discord.utils.utcnow()), ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        # Acknowledge within Discord's 3 seconds; the engine then works in its own threads.
        await interaction.response.defer(ephemeral=private)
        answer = await self.engine.ask(question, SOURCES_ASKED)
        view = AnswerView(self.engine, answer, page_size=settings.top_k)
        view.message = await interaction.followup.send(
            embeds=view.page.embeds,
            view=view,
            ephemeral=private,
            allowed_mentions=NO_PINGS,
            wait=True,
        )


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(AskCog(bot))
