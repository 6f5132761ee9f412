"""/feeds add, remove and list (admins), and the reports of the scheduled refresh.

The engine polls every collection's feeds every ``feed_refresh_minutes`` and indexes what
is new or edited. Every refresh is reported in the collection's report channel (the one
its last /feeds add named, or ran in): one that added or updated stories, or whose failures
changed, in a new message; a quiet one by editing the last report's "checked" line, so
the channel shows each refresh without a message every few minutes saying nothing new.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands

from bot.access import server_collection
from bot.client import CitebotBot
from bot.cogs.background import AdminWork
from bot.rendering import NO_PINGS, code_text, render_feeds, render_quiet_refresh, render_refresh
from retrieval.feeds.refresh import RefreshReport
from retrieval.feeds.registry import PostedReport

log = logging.getLogger(__name__)


class FeedsCog(AdminWork):
    """Feeds a server follows, and their scheduled refresh."""

    feeds = app_commands.Group(
        name="feeds",
        description="News feeds this server follows (admins).",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: CitebotBot) -> None:
        super().__init__(bot)
        self._stop = asyncio.Event()
        self._follower: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self._follower = asyncio.create_task(self.engine.follow_feeds(self._post, self._stop))

    async def cog_unload(self) -> None:
        """Stop the schedule, letting a refresh under way finish (and report) first."""
        self._stop.set()
        if self._follower is not None:
            await self._follower
        await super().cog_unload()

    @feeds.command(name="add", description="Follow an RSS or Atom feed (admins).")
    @app_commands.describe(
        url="The feed's address (RSS or Atom).",
        report_channel="Where this server's refresh reports go (default: this channel).",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2000],
        report_channel: discord.TextChannel | None = None,
    ) -> None:
        if not await self._allowed(interaction):
            return
        # acknowledged first: opening a server's collection may take longer than Discord waits
        await interaction.response.defer(ephemeral=True)
        collection = server_collection(interaction.guild_id or 0)
        reports_to = report_channel.id if report_channel else interaction.channel_id
        log.info("feed added to %s by %s", collection, interaction.user.id)
        self._in_background(
            interaction, self._first_refresh(interaction, collection, url, reports_to)
        )

    async def _first_refresh(
        self,
        interaction: discord.Interaction,
        collection: str,
        url: str,
        reports_to: int | None,
    ) -> None:
        """Follow the feed and poll it at once, so the admin sees whether it works."""
        await self.engine.add_feed(url, collection=collection, report_channel=reports_to)
        report = await self.engine.refresh_feeds(collection=collection, only=url)
        title = f"Following {code_text(url, 300)}."
        await self._report(interaction, render_refresh(report, title=title))

    @feeds.command(name="remove", description="Stop following a feed; its stories stay.")
    @app_commands.describe(url="The feed's address, as /feeds list shows it.")
    async def remove(
        self, interaction: discord.Interaction, url: app_commands.Range[str, 1, 2000]
    ) -> None:
        if not await self._allowed(interaction):
            return
        await interaction.response.defer(ephemeral=True)
        collection = server_collection(interaction.guild_id or 0)
        if await self.engine.remove_feed(url, collection=collection):
            text = f"No longer following {code_text(url, 300)}; its stories stay indexed."
        else:
            text = f"This server does not follow {code_text(url, 300)} (see /feeds list)."
        await self._report(interaction, text)

    @feeds.command(name="list", description="The feeds this server follows (admins).")
    async def list_feeds(self, interaction: discord.Interaction) -> None:
        if not await self._allowed(interaction):
            return
        await interaction.response.defer(ephemeral=True)
        collection = server_collection(interaction.guild_id or 0)
        await self._report(interaction, render_feeds(await self.engine.feeds(collection)))

    async def _post(self, collection: str, report: RefreshReport) -> None:
        """The refresh's summary in the collection's report channel: a new message when
        there is news (stories, or other failures), else the last report edited to say
        when it was checked again. A feed that stays down is listed once, not each time."""
        channel_id = await self.engine.report_channel(collection)
        if channel_id is None:
            log.info(
                "feed refresh of %s: %d added, no report channel", collection, len(report.added)
            )
            return
        channel = self.bot.get_partial_messageable(channel_id)
        failures = tuple(sorted((failure.url, failure.reason) for failure in report.failed))
        last = await self.engine.last_report(collection)
        try:
            if (
                last is not None
                and last.channel_id == channel_id
                and last.failures == failures
                and not report.saved
            ):
                quiet = render_quiet_refresh(last.text, discord.utils.utcnow())
                message = channel.get_partial_message(last.message_id)
                await message.edit(content=quiet, allowed_mentions=NO_PINGS)
                return
        except discord.NotFound:  # deleted by someone: this report is a new message
            pass
        except discord.HTTPException as error:
            log.warning("could not update the feed report of %s: %s", collection, error)
            return
        text = render_refresh(report)
        try:
            posted = await channel.send(text, allowed_mentions=NO_PINGS)
        except discord.HTTPException as error:
            log.warning("could not post the feed report of %s: %s", collection, error)
            return
        await self.engine.remember_report(
            PostedReport(channel_id, posted.id, text, failures), collection=collection
        )


async def setup(bot: CitebotBot) -> None:
    await bot.add_cog(FeedsCog(bot))
