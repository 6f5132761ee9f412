"""The composition root: token, engine, bot, run; SIGINT/SIGTERM shut it all down cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Sequence

import discord
from dotenv import dotenv_values, find_dotenv

from bot.client import CitebotBot
from retrieval.engine import Engine
from retrieval.errors import CitebotError
from retrieval.settings import Settings

log = logging.getLogger(__name__)

TOKEN_VARIABLE = "DISCORD_TOKEN"


class DiscordSetupError(CitebotError):
    """The bot cannot connect to Discord as configured."""


class TokenError(DiscordSetupError):
    """The Discord token is missing or was rejected (the message never contains it)."""


def load_token() -> str:
    """DISCORD_TOKEN from the environment, else from a .env file (found from the cwd up).

    The .env file is read without copying it into the environment.

    Raises:
        TokenError: no token is set.
    """
    token = os.environ.get(TOKEN_VARIABLE)
    if not token:
        dotenv = find_dotenv(usecwd=True)
        token = dotenv_values(dotenv).get(TOKEN_VARIABLE) if dotenv else None
    token = (token or "").strip()
    if not token:
        raise TokenError(f"{TOKEN_VARIABLE} is not set (in the environment or a .env file)")
    return token


async def start(
    settings: Settings,
    *,
    shard_count: int | None = None,
    shard_ids: Sequence[int] | None = None,
) -> None:
    """Open the engine, run the bot until a signal or a fatal error, then close both.

    ``shard_count`` and ``shard_ids`` pick the shards this process runs (see
    :class:`CitebotBot`); without them it runs all the shards Discord recommends.

    Raises:
        TokenError: the token is missing or Discord rejected it.
        DiscordSetupError: Discord refused the intents the bot needs.
    """
    token = load_token()
    engine = await Engine.open(settings)
    try:
        await engine.warm_up()
        await serve(CitebotBot(engine, shard_count=shard_count, shard_ids=shard_ids), token)
    finally:
        await engine.close()


async def serve(bot: CitebotBot, token: str) -> None:
    """Run ``bot`` until SIGINT or SIGTERM, then close it (a running reindex finishes first).

    Raises:
        TokenError: Discord rejected the token.
        DiscordSetupError: Discord refused the intents the bot needs.
    """
    loop = asyncio.get_running_loop()
    closing: list[asyncio.Task[None]] = []

    def stop(signum: int) -> None:
        log.info("%s received: shutting down", signal.Signals(signum).name)
        if not closing:
            closing.append(asyncio.create_task(bot.close()))

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure:
        raise TokenError(f"Discord rejected the token in {TOKEN_VARIABLE}") from None
    except discord.PrivilegedIntentsRequired:
        raise DiscordSetupError(
            "Discord refused the Message Content intent: enable it for the bot in the "
            "Developer Portal (Bot > Privileged Gateway Intents)"
        ) from None
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if closing:
            await closing[0]
