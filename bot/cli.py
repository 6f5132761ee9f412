"""The ``citebot`` console script: the engine's CLI plus ``citebot run`` for the bot."""

from __future__ import annotations

import logging

from retrieval.cli import app, run


@app.command("run")
def run_bot() -> None:
    """Start the Discord bot (token from DISCORD_TOKEN or a .env file)."""
    from bot.app import start

    # a server process says what it does: reindex summaries, versions served, refusals
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    run(start)


def main() -> None:
    """Console entry point."""
    app()
