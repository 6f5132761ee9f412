"""The buttons under an answer: a link per source, "More sources", 👍 and 👎."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord

from bot.rendering import NO_PINGS, AnswerPage, more_label, render_answer
from retrieval.engine import Engine
from retrieval.types import Answer

log = logging.getLogger(__name__)

VIEW_TIMEOUT = 14 * 60
"""Seconds the buttons work; under the 15 minutes an interaction token can edit its reply."""


class _Control(discord.ui.Button["AnswerView"]):
    """A button that calls ``action`` when clicked."""

    def __init__(
        self, action: Callable[[discord.Interaction], Awaitable[None]], emoji: str | None = None
    ) -> None:
        super().__init__(style=discord.ButtonStyle.secondary, emoji=emoji)
        self._action = action

    async def callback(self, interaction: discord.Interaction) -> None:
        await self._action(interaction)


class AnswerView(discord.ui.View):
    """Buttons for one answer; pages through its sources and stores votes.

    ``message`` is set by the sender, so that the buttons can be taken off when they expire.
    """

    def __init__(self, engine: Engine, answer: Answer, *, page_size: int) -> None:
        super().__init__(timeout=VIEW_TIMEOUT)
        self.engine = engine
        self.answer = answer
        self.message: discord.Message | None = None
        self._voters: set[int] = set()
        self._page_size = page_size
        self.page = render_answer(answer, 0, page_size)
        self._more = _Control(self._turn_page)
        self._up = _Control(self._vote_up, emoji="👍")
        self._down = _Control(self._vote_down, emoji="👎")
        self._lay_out(self.page)

    def _lay_out(self, page: AnswerPage) -> None:
        """Link buttons for the sources on ``page``, then the controls on a row of their own."""
        self.clear_items()
        for source in page.links:
            self.add_item(discord.ui.Button(label=source.label, url=source.url))
        row = min(4, -(-len(page.links) // 5))
        if page.more:
            self._more.label = more_label(page)
            self._more.row = row
            self.add_item(self._more)
        self._up.row = self._down.row = row
        self.add_item(self._up)
        self.add_item(self._down)

    async def _turn_page(self, interaction: discord.Interaction) -> None:
        self.page = render_answer(self.answer, self.page.page + 1, self._page_size)
        self._lay_out(self.page)
        await interaction.response.edit_message(
            embeds=self.page.embeds, view=self, allowed_mentions=NO_PINGS
        )

    async def _vote_up(self, interaction: discord.Interaction) -> None:
        await self._vote(interaction, +1)

    async def _vote_down(self, interaction: discord.Interaction) -> None:
        await self._vote(interaction, -1)

    async def _vote(self, interaction: discord.Interaction, vote: int) -> None:
        """Store the reader's vote with the question and the answer (once per reader)."""
        if interaction.user.id in self._voters:
            await interaction.response.send_message(
                "You have already voted on this answer.", ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        self._voters.add(interaction.user.id)
        await self.engine.record_vote(str(interaction.user.id), self.answer, vote)
        await interaction.response.send_message(
            f"Thanks, your {'👍' if vote > 0 else '👎'} is recorded.",
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    async def on_timeout(self) -> None:
        """Keep the link buttons and take off the ones that no longer work."""
        if self.message is None:
            return
        for item in (self._more, self._up, self._down):
            self.remove_item(item)
        try:
            await self.message.edit(view=self, allowed_mentions=NO_PINGS)
        except discord.HTTPException as error:
            log.debug("could not take the buttons off an expired answer: %s", error)
