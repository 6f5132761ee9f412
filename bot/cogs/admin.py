"""/reindex and /ingest: admin commands that change the index."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands

from bot.access import server_collection
from bot.client import CitebotBot
from bot.cogs.background import AdminWork
from bot.rendering import (
    NO_PINGS,
    code_text,
    explain,
    fit,
    limit_content,
    render_ingest,
    render_progress,
    render_summary,
)
from retrieval.errors import CitebotError
from retrieval.feeds.refresh import FetchError
from retrieval.index.collection import SHARED
from retrieval.types import IngestReport, SkippedFile

log = logging.getLogger(__name__)

NOTHING_TO_INGEST = "Attach an article file, or give the url of a page, to /ingest."
BUSY = "A reindex is already running; its progress shows in the reply to whoever started it."


class Progress:
    """The latest (stage, done, total) of a reindex; written from a worker thread."""

    def __init__(self) -> None:
        self.latest: tuple[str, int, int] = ("starting", 0, 0)

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.latest = (stage, done, total)  # one assignment: safe to read from the loop


class AdminCog(AdminWork):
    """Reindexing and ingesting, for admins only; the work outlives a closing bot."""

    async def _begin(self, interaction: discord.Interaction) -> bool:
        """Refuse non-admins; acknowledge (privately) at once, since opening a server's
        collection may take longer than Discord waits; then refuse a second run."""
        if not await self._allowed(interaction):
            return False
        await interaction.response.defer(ephemeral=True)
        for collection, _ in self._collections(interaction):
            if await self.engine.reindexing(collection):
                await self._edit(interaction, BUSY)
                return False
        return True

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
        editable = True  # until an edit fails: the token expires 15 minutes after the command
        for collection, title in self._collections(interaction):
            progress = Progress()
            task = asyncio.create_task(
                self.engine.reindex(collection=collection, allow_removal=confirm, progress=progress)
            )
            shown: tuple[str, int, int] | None = None
            while not task.done():
                await asyncio.wait({task}, timeout=self.bot.progress_interval)
                if editable and not task.done() and progress.latest != shown:
                    shown = progress.latest
                    editable = await self._edit(interaction, render_progress(*shown))
            summary = task.result()
            log.info("reindex of %s by %s: %s", collection, interaction.user.id, summary)
            summaries.append(render_summary(summary, title=title))
        await self._report(interaction, limit_content("\n\n".join(summaries)))

    @app_commands.command(name="ingest", description="Add article files and reindex (admins).")
    @app_commands.describe(
        url="A web page to fetch and index as an article.",
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
        url: app_commands.Range[str, 1, 2000] | None = None,
        file1: discord.Attachment | None = None,
        file2: discord.Attachment | None = None,
        file3: discord.Attachment | None = None,
        file4: discord.Attachment | None = None,
        file5: discord.Attachment | None = None,
    ) -> None:
        if url is None and file1 is None:
            await interaction.response.send_message(
                NOTHING_TO_INGEST, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
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
        self._in_background(interaction, self._ingest(interaction, url, files, too_big))

    async def _ingest(
        self,
        interaction: discord.Interaction,
        url: str | None,
        files: list[tuple[str, bytes]],
        too_big: list[SkippedFile],
    ) -> None:
        """Fetch and index the page, save and index the files, then say what was added
        and what was skipped, and why."""
        collection = server_collection(interaction.guild_id or 0)
        parts: list[str] = []
        if url is not None:
            parts.append(await self._ingest_link(collection, url))
        if files or too_big:
            report = (
                await self.engine.ingest(files, collection=collection) if files else IngestReport()
            )
            report.rejected[:0] = too_big
            parts.append(render_ingest(report))
        log.info(
            "ingest by %s (%d files, link: %s)", interaction.user.id, len(files), url is not None
        )
        await self._report(interaction, limit_content("\n\n".join(parts)))

    async def _ingest_link(self, collection: str, url: str) -> str:
        """Fetch, keep and index the page; what was added, or why nothing was."""
        try:
            article, summary = await self.engine.add_link(url, collection=collection)
        except FetchError as error:
            return f"Could not add {code_text(url, 300)}: {fit(error.reason, 500)}"
        except CitebotError as error:  # busy: the page is kept and indexed next time
            return f"{code_text(url, 300)} is saved, not indexed yet: {explain(error)}"
        added = f"**Added:** {fit(article.title, 300)}\n"
        return added + render_summary(summary, title="Index updated.")


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(AdminCog(bot))
