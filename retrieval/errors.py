"""The engine's exceptions. The CLI and the bot each turn them into a message for a person."""


class CitebotError(Exception):
    """Base of every error the engine expects and explains."""


class SettingsError(CitebotError):
    """A setting is missing or invalid; the message names the setting and the reason."""


class ArticleError(CitebotError):
    """An article file cannot be read or parsed."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IndexMismatchError(CitebotError):
    """The index on disk was built with another model or vector dimension."""


class IndexBusyError(CitebotError):
    """A reindex is already running."""


class NotIndexedError(CitebotError):
    """No index exists yet in the data folder."""


class RemovalRefusedError(CitebotError):
    """A reindex would remove most of the index (an empty or unmounted folder, say)."""


class EngineBusyError(CitebotError):
    """Too many questions at once: this one is turned away rather than queued forever."""
