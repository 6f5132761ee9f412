"""The bot: intents, shards, cogs loaded as extensions, slash commands synced, errors explained."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import cast

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.access import RateLimit
from bot.rendering import NO_PINGS, explain
from bot.views import MoreSources, VoteButton
from retrieval.engine import Engine
from retrieval.errors import CitebotError

log = logging.getLogger(__name__)

EXTENSIONS = (
    "bot.cogs.ask",
    "bot.cogs.mentions",
    "bot.cogs.admin",
    "bot.cogs.feeds",
    "bot.cogs.stats",
)


class CitebotTree(app_commands.CommandTree):
    """The slash-command tree; turns a command's errors into a reply for the person."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, CitebotError):
            message = explain(cause)
        else:
            command = interaction.command.name if interaction.command else "?"
            log.error("/%s failed", command, exc_info=cause)
            message = "Sorry, something went wrong; it has been logged."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True, allowed_mentions=NO_PINGS)
            else:
                await interaction.response.send_message(
                    message, ephemeral=True, allowed_mentions=NO_PINGS
                )
        except discord.HTTPException:
            log.warning("could not tell the user that /%s failed", interaction.command)


class CitebotBot(commands.AutoShardedBot):
    """citebot on Discord: answers /ask and mentions from ``engine``, plus admin commands.

    Sharded: without ``shard_count`` the bot runs every shard Discord recommends (GET
    /gateway/bot); with it, only ``shard_ids`` (all of them if None), so that several
    processes can share the servers, each running its own shards.

    Args:
        engine: the open engine every cog calls.
        progress_interval: seconds between /reindex progress edits.
        extensions: the cogs to load (one failing to load does not stop the others).
        shard_count: the total number of shards, over every process (None: Discord's).
        shard_ids: the shards this process runs (needs ``shard_count``).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        progress_interval: float = 3.0,
        extensions: Sequence[str] = EXTENSIONS,
        shard_count: int | None = None,
        shard_ids: Sequence[int] | None = None,
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = True  # the question text of a mention
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=NO_PINGS,
            help_command=None,
            tree_cls=CitebotTree,
            shard_count=shard_count,
            # None is discord.py's own default (every shard), though its type says list
            shard_ids=cast(list[int], None if shard_ids is None else list(shard_ids)),
        )
        self.engine = engine
        self.progress_interval = progress_interval
        self.rate_limit = RateLimit(engine.settings.ask_burst, engine.settings.ask_per_minute)
        self._extension_names = tuple(extensions)
        self._watcher: asyncio.Task[None] | None = None

    async def setup_hook(self) -> None:
        self.add_dynamic_items(MoreSources, VoteButton)  # answers' buttons, from any process
        # a reindex run in a terminal is served within seconds, without a restart
        self._watcher = asyncio.create_task(self.engine.watch_published())
        await self.load_extensions()
        synced = await self.tree.sync()
        log.info("synced %d commands: %s", len(synced), ", ".join(c.name for c in synced))

    async def launch_shard(
        self, gateway: yarl.URL, shard_id: int, *, initial: bool = False
    ) -> None:
        """Connect one shard, unless the bot was closed meanwhile.

        discord.py retries a shard that failed to connect every 5 s, forever, even once
        the bot is closed: a SIGTERM while the shards connect would never end the process.
        """
        if not self.is_closed():
            await super().launch_shard(gateway, shard_id, initial=initial)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        await super().close()

    async def load_extensions(self) -> list[str]:
        """Load every extension that can be loaded; log the others. Returns those loaded."""
        loaded = []
        for name in self._extension_names:
            try:
                await self.load_extension(name)
            except Exception:
                log.exception("could not load %s; the bot runs without it", name)
            else:
                loaded.append(name)
        return loaded

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: a mention is a question, answered by the mentions cog."""

    async def on_ready(self) -> None:
        log.info(
            "connected as %s to %d servers on shards %s of %s",
            self.user,
            len(self.guilds),
            sorted(self.shards),
            self.shard_count,
        )
