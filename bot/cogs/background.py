"""Admin work that runs after the command has been acknowledged, and reports when done."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import discord
from discord.ext import commands

from bot.access import admin_or_refuse
from bot.client import CitebotBot
from bot.rendering import NO_PINGS, explain, limit_content
from retrieval.errors import CitebotError

log = logging.getLogger(__name__)


class AdminWork(commands.Cog):
    """A cog whose admin commands start engine work in the background: the reply is
    edited with the outcome, and a closing bot waits for the work first."""

    def __init__(self, bot: CitebotBot) -> None:
        self.bot = bot
        self.engine = bot.engine
        self._work: set[asyncio.Task[None]] = set()

    async def cog_unload(self) -> None:
        """Let running engine work finish and report, so the engine is never closed under it."""
        if self._work:
            log.info("waiting for the running reindex to finish")
            await asyncio.gather(*self._work, return_exceptions=True)

    async def _allowed(self, interaction: discord.Interaction) -> bool:
        return await admin_or_refuse(interaction, self.engine.settings.admin_roles)

    def _in_background(
        self, interaction: discord.Interaction, work: Coroutine[Any, Any, None]
    ) -> None:
        """Run engine work and its replies as a task that :meth:`cog_unload` waits for."""
        task = asyncio.create_task(self._reporting_errors(interaction, work))
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _reporting_errors(
        self, interaction: discord.Interaction, work: Coroutine[Any, Any, None]
    ) -> None:
        try:
            await work
        except CitebotError as error:
            await self._report(interaction, explain(error))
        except Exception:
            log.exception("/%s failed", _name(interaction))
            await self._report(interaction, "Sorry, something went wrong; it has been logged.")

    async def _edit(self, interaction: discord.Interaction, text: str) -> bool:
        """Edit the reply; a failed edit (e.g. an expired token) does not stop the work.

        Returns whether the reply was edited."""
        try:
            await interaction.edit_original_response(content=text, allowed_mentions=NO_PINGS)
        except discord.HTTPException as error:
            log.info("could not update the /%s reply: %s", _name(interaction), error)
            return False
        return True

    async def _report(self, interaction: discord.Interaction, text: str) -> None:
        """The outcome in the reply; once the interaction token has expired (15 minutes
        after the command) in a message to the channel, else to the admin directly."""
        if await self._edit(interaction, text):
            return
        note = f"<@{interaction.user.id}>, your /{_name(interaction)} has ended:\n{text}"
        note = limit_content(note)
        for target in (interaction.channel, interaction.user):
            if not isinstance(target, discord.abc.Messageable):
                continue
            try:
                await target.send(note, allowed_mentions=NO_PINGS)
                return
            except discord.HTTPException as error:
                log.info(
                    "could not post the /%s outcome to %s: %s", _name(interaction), target, error
                )
        log.warning("the outcome of /%s reached nobody on Discord", _name(interaction))


def _name(interaction: discord.Interaction) -> str:
    return interaction.command.name if interaction.command else "?"
