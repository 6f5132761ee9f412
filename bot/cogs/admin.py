"""/reindex and /ingest: admin commands that change the index."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Coroutine, Iterable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.access import server_collection
from bot.client import CitebotBot
from bot.rendering import (
    NO_PINGS,
    explain,
    limit_content,
    render_ingest,
    render_progress,
    render_summary,
)
from retrieval.errors import CitebotError
from retrieval.index.collection import SHARED
from retrieval.types import IngestReport, SkippedFile

log = logging.getLogger(__name__)

REFUSAL = "Sorry, only server managers and the bot's admin roles can do that."
BUSY = "A reindex is already running; its progress shows in the reply to whoever started it."


def is_admin(
    permissions: discord.Permissions, role_ids: Iterable[int], admin_roles: Collection[int]
) -> bool:
    """Manage Server (or Administrator), or a role whose id is in the settings' admin_roles.

    Ids, not names: anyone allowed to make a role could give it an admin role's name.
    """
    if permissions.manage_guild or permissions.administrator:
        return True
    return any(role_id in admin_roles for role_id in role_ids)


class Progress:
    """The latest (stage, done, total) of a reindex; written from a worker thread."""

    def __init__(self) -> None:
        self.latest: tuple[str, int, int] = ("starting", 0, 0)

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.latest = (stage, done, total)  # one assignment: safe to read from the loop


class AdminCog(commands.Cog):
    """Reindexing and ingesting, for admins only; the work outlives a closing bot."""

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
        """Check, in the command itself, that the user is an admin; refuse politely if not.

        ``default_permissions`` only hides the command in Discord's client; it is no check.
        """
        user = interaction.user
        roles = [role.id for role in user.roles] if isinstance(user, discord.Member) else []
        if is_admin(interaction.permissions, roles, self.engine.settings.admin_roles):
            return True
        log.info("refused /%s to user %s", _name(interaction), user.id)
        await interaction.response.send_message(REFUSAL, ephemeral=True, allowed_mentions=NO_PINGS)
        return False

    async def _begin(self, interaction: discord.Interaction) -> bool:
        """Refuse non-admins and a second run; otherwise acknowledge (privately) at once."""
        if not await self._allowed(interaction):
            return False
        for collection, _ in self._collections(interaction):
            if await self.engine.reindexing(collection):
                await interaction.response.send_message(
                    BUSY, ephemeral=True, allowed_mentions=NO_PINGS
                )
                return False
        await interaction.response.defer(ephemeral=True)
        return True

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

    @app_commands.command(name="reindex", description="Bring the index up to date (admins).")
    @app_commands.describe(
        confirm="Go ahead even if more than half of the indexed articles would be removed."
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def reindex(self, interaction: discord.Interaction, confirm: bool = False) -> None:
        if await self._begin(interaction):
            self._in_background(interaction, self._reindex(interaction, confirm))

    def _collections(self, interaction: discord.Interaction) -> list[tuple[str, str]]:
        """(collection, title) of what /reindex brings up to date: the shared collection
        (when this server's answers include it), then the server's own."""
        own = (server_collection(interaction.guild_id or 0), "This server's articles reindexed.")
        if not self.engine.settings.include_shared:
            return [own]
        return [(SHARED, "Reindex finished."), own]

    async def _reindex(self, interaction: discord.Interaction, confirm: bool) -> None:
        """Reindex, editing the reply with progress every few seconds, then the summaries."""
        summaries: list[str] = []
        for collection, title in self._collections(interaction):
            progress = Progress()
            task = asyncio.create_task(
                self.engine.reindex(collection=collection, allow_removal=confirm, progress=progress)
            )
            shown: tuple[str, int, int] | None = None
            while not task.done():
                await asyncio.wait({task}, timeout=self.bot.progress_interval)
                if not task.done() and progress.latest != shown:
                    shown = progress.latest
                    await self._edit(interaction, render_progress(*shown))
            summary = task.result()
            log.info("reindex of %s by %s: %s", collection, interaction.user.id, summary)
            summaries.append(render_summary(summary, title=title))
        await self._report(interaction, limit_content("\n\n".join(summaries)))

    @app_commands.command(name="ingest", description="Add article files and reindex (admins).")
    @app_commands.describe(
        file1="An article file (.txt, .md, .jsonl, .html).",
        file2="Another article file.",
        file3="Another article file.",
        file4="Another article file.",
        file5="Another article file.",
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def ingest(
        self,
        interaction: discord.Interaction,
        file1: discord.Attachment,
        file2: discord.Attachment | None = None,
        file3: discord.Attachment | None = None,
        file4: discord.Attachment | None = None,
        file5: discord.Attachment | None = None,
    ) -> None:
        if not await self._begin(interaction):
            return
        limit = self.engine.settings.ingest_max_bytes
        files: list[tuple[str, bytes]] = []
        too_big: list[SkippedFile] = []
        for attachment in (file1, file2, file3, file4, file5):
            if attachment is None:
                continue
            if attachment.size > limit:  # refused before downloading it
                too_big.append(SkippedFile(attachment.filename, f"larger than {limit} bytes"))
                continue
            files.append((attachment.filename, await attachment.read()))
        self._in_background(interaction, self._ingest(interaction, files, too_big))

    async def _ingest(
        self,
        interaction: discord.Interaction,
        files: list[tuple[str, bytes]],
        too_big: list[SkippedFile],
    ) -> None:
        """Save and index the files, then say what was added and what was skipped, and why."""
        collection = server_collection(interaction.guild_id or 0)
        report = await self.engine.ingest(files, collection=collection) if files else IngestReport()
        report.rejected[:0] = too_big
        log.info("ingest by %s: saved %s", interaction.user.id, report.saved)
        await self._report(interaction, render_ingest(report))


def _name(interaction: discord.Interaction) -> str:
    return interaction.command.name if interaction.command else "?"


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(AdminCog(bot))
