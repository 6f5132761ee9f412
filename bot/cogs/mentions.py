"""Questions asked by mentioning the bot, answered as a reply."""

from __future__ import annotations

import logging
import re

import discord
from discord.ext import commands

from bot.access import answers_in, server_collection
from bot.client import CitebotBot
from bot.rendering import NO_PINGS, explain, retry_text
from bot.views import answer_message
from retrieval.errors import CitebotError

log = logging.getLogger(__name__)


def question_text(content: str, bot_id: int) -> str:
    """The message without the bot's mention(s), tidied."""
    return " ".join(re.sub(rf"<@!?{bot_id}>", " ", content).split())


class MentionsCog(commands.Cog):
    """Answers messages that mention the bot, in allowed channels and their threads."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot
        self.engine = bot.engine

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if message.author.bot or message.guild is None or me is None:
            return
        if not any(user.id == me.id for user in message.mentions):
            return
        if not answers_in(message.channel, self.engine.settings.allowed_channels):
            return
        question = question_text(message.content, me.id)
        if not question:
            await self._reply(message, "Ask me a question after the mention, or use /ask.")
            return
        retry = self.bot.rate_limit.retry_after(message.author.id)
        if retry is not None:
            await self._reply(message, retry_text(retry, discord.utils.utcnow()))
            return
        try:
            async with message.channel.typing():
                embeds, view = await answer_message(
                    self.engine,
                    question,
                    asker=message.author.id,
                    asked_at=message.created_at,
                    collection=server_collection(message.guild.id),
                )
        except CitebotError as error:
            await self._reply(message, explain(error))
            return
        await message.reply(
            embeds=embeds, view=view, mention_author=False, allowed_mentions=NO_PINGS
        )

    async def _reply(self, message: discord.Message, text: str) -> None:
        await message.reply(text, mention_author=False, allowed_mentions=NO_PINGS)


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(MentionsCog(bot))
