"""The buttons under an answer: a link per source, "More sources", 👍 and 👎.

"More sources" and the votes are :class:`discord.ui.DynamicItem` buttons: their custom
id (``citebot:more:<answer id>:<page>``, ``citebot:vote:<answer id>:up|down``) names
the answer the engine kept, so any process running the bot handles them, after a
restart too. A page is rebuilt by asking the engine the kept question again (answers
are cached); an answer no longer kept is said to have expired.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord

from bot.rendering import NO_PINGS, SOURCES_ASKED, AnswerPage, explain, more_label, render_answer
from retrieval.engine import Engine
from retrieval.errors import CitebotError
from retrieval.store.activity import VoteOutcome

if TYPE_CHECKING:
    from bot.client import CitebotBot

EXPIRED = "This answer has expired: ask the question again."
_ANSWER_ID = r"(?P<answer>[A-Za-z0-9_-]{1,40})"
"""An answer id as the engine makes them (16 characters), so custom ids stay short."""


async def answer_message(
    engine: Engine,
    question: str,
    *,
    asker: int,
    asked_at: datetime,
    collection: str,
    private: bool = False,
) -> tuple[list[discord.Embed], discord.ui.View]:
    """Ask ``engine``, keep the answer for its buttons; the first page and its buttons."""
    answer = await engine.ask(
        question, SOURCES_ASKED, collection=collection, asked_at=asked_at, private=private
    )
    answer_id = await engine.keep_answer(
        answer,
        user=str(asker),
        k=SOURCES_ASKED,
        asked_at=asked_at,
        private=private,
        collection=collection,
    )
    page = render_answer(answer, 0, engine.settings.top_k)
    return page.embeds, answer_view(answer_id, page)


def _engine(interaction: discord.Interaction[Any]) -> Engine:
    """The engine of the bot that got the click."""
    bot: CitebotBot = interaction.client
    return bot.engine


def answer_view(answer_id: str, page: AnswerPage) -> discord.ui.View:
    """Link buttons for the sources on ``page``, then the controls on a row of their own."""
    view = discord.ui.View(timeout=None)
    for source in page.links:
        view.add_item(discord.ui.Button(label=source.label, url=source.url))
    row = min(4, -(-len(page.links) // 5))
    if page.more:
        next_page = (page.page + 1) % page.pages
        view.add_item(MoreSources(answer_id, next_page, more_label(page), row=row))
    view.add_item(VoteButton(answer_id, +1, row=row))
    view.add_item(VoteButton(answer_id, -1, row=row))
    return view


class MoreSources(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"citebot:more:{_ANSWER_ID}:(?P<page>\d{{1,2}})",
):
    """Turns to ``page``: the asker's message itself, or a copy only the clicker sees."""

    def __init__(
        self, answer_id: str, page: int, label: str = "More sources", *, row: int | None = None
    ) -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            style=discord.ButtonStyle.secondary,
            label=label,
            custom_id=f"citebot:more:{answer_id}:{page}",
        )
        super().__init__(button, row=row)
        self.answer_id = answer_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> MoreSources:
        return cls(match["answer"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        engine = _engine(interaction)
        kept = await engine.kept_answer(self.answer_id, str(interaction.user.id))
        if kept is None or kept.question is None:
            await interaction.response.send_message(
                EXPIRED, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        # Another reader's click must not change what the asker sees, unless it is on a
        # copy that only this reader sees.
        message = interaction.message
        in_place = kept.yours or (message is not None and message.flags.ephemeral)
        await interaction.response.defer(ephemeral=not in_place, thinking=not in_place)
        try:
            answer = await engine.ask(
                kept.question,
                kept.k,
                collection=kept.collection,
                asked_at=kept.asked_at,
                logged=False,
            )
        except CitebotError as error:
            await interaction.followup.send(
                explain(error), ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        page = render_answer(answer, self.page, engine.settings.top_k)
        view = answer_view(self.answer_id, page)
        if in_place:
            await interaction.edit_original_response(
                embeds=page.embeds, view=view, allowed_mentions=NO_PINGS
            )
        else:
            await interaction.followup.send(
                embeds=page.embeds, view=view, ephemeral=True, allowed_mentions=NO_PINGS
            )


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=rf"citebot:vote:{_ANSWER_ID}:(?P<vote>up|down)",
):
    """👍 (+1) or 👎 (-1): stores the reader's vote on the answer, once per reader."""

    def __init__(self, answer_id: str, vote: int, *, row: int | None = None) -> None:
        self.answer_id = answer_id
        self.vote = vote
        self.symbol = "👍" if vote > 0 else "👎"
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            style=discord.ButtonStyle.secondary,
            emoji=self.symbol,
            custom_id=f"citebot:vote:{answer_id}:{'up' if vote > 0 else 'down'}",
        )
        super().__init__(button, row=row)

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> VoteButton:
        return cls(match["answer"], +1 if match["vote"] == "up" else -1)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        outcome = await _engine(interaction).record_vote(
            str(interaction.user.id), self.answer_id, self.vote
        )
        replies = {
            VoteOutcome.RECORDED: f"Thanks, your {self.symbol} is recorded.",
            VoteOutcome.ALREADY_VOTED: "You have already voted on this answer.",
            VoteOutcome.EXPIRED: EXPIRED,
        }
        await interaction.response.send_message(
            replies[outcome], ephemeral=True, allowed_mentions=NO_PINGS
        )
