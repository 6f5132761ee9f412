"""Settings: a typed schema, read from ``config/citebot.toml``, overridden by ``CITEBOT_*``.

Validated once at start; an invalid value raises :class:`SettingsError` naming the
setting and the reason. Secrets (the Discord token) are not settings: they are read
from the environment by the bot only and never stored here.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from retrieval.errors import SettingsError
from retrieval.types import EncoderKind, Mode

ENV_PREFIX = "CITEBOT_"
CONFIG_NAME = Path("config") / "citebot.toml"
_CHECKOUT = Path(__file__).resolve().parent.parent
"""The repository, when citebot runs from a clone (its config/ is not installed)."""


class Settings(BaseSettings):
    """Every setting, with its type and bounds; see config/citebot.toml for what each does."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    collection: Path = Path("articles")
    data_dir: Path = Path("data")
    model: str = "packaged"
    encoder: EncoderKind = "onnx-int8"
    passage_tokens: int = Field(128, ge=32, le=512)
    retrieval_mode: Mode = "hybrid"
    top_k: int = Field(3, ge=1, le=10)
    max_passages_per_article: int = Field(2, ge=1, le=10)
    min_confidence: float = Field(0.17, ge=0.0, le=1.0)
    ask_concurrency: int = Field(4, ge=1, le=64)
    ask_queue: int = Field(200, ge=1, le=10_000)
    ask_wait_seconds: float = Field(10.0, gt=0.0, le=600.0)
    include_shared: bool = True
    reader: bool = True
    reader_depth: int = Field(3, ge=1, le=30)
    bold_threshold: float = Field(0.955, ge=0.0, le=1.0)
    admin_roles: list[int] = Field(default_factory=list)
    allowed_channels: list[int] = Field(default_factory=list)
    ask_burst: int = Field(3, ge=1, le=100)
    ask_per_minute: float = Field(6.0, ge=0.0, le=600.0)
    log_retention_days: int = Field(30, ge=1, le=3650)
    ingest_max_bytes: int = Field(2_000_000, ge=1, le=25_000_000)
    ingest_extensions: list[str] = Field(
        default_factory=lambda: [".txt", ".md", ".jsonl", ".html", ".htm"]
    )
    feed_refresh_minutes: float = Field(15.0, ge=0.01, le=1440.0)
    feed_report_channel: int | None = None
    fetch_allow_private: bool = False

    @field_validator("ingest_extensions")
    @classmethod
    def _dotted(cls, value: list[str]) -> list[str]:
        return [v.lower() if v.startswith(".") else f".{v.lower()}" for v in value]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        found = config_file()
        if found is None:
            return (init_settings, env_settings)
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, found))

    def model_path(self) -> Path:
        """The model directory: the packaged all-MiniLM-L6-v2 or the configured folder."""
        if self.model == "packaged":
            from retrieval.models.embedder import packaged_model_path

            return packaged_model_path()
        return Path(self.model)


def config_file() -> Path | None:
    """The settings file: $CITEBOT_CONFIG, else config/citebot.toml in the current folder,
    else the one of the repository citebot runs from; None when there is none (an
    installed citebot run elsewhere: the schema's defaults, relative to where you are)."""
    named = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if named:
        return Path(named)
    for candidate in (Path.cwd() / CONFIG_NAME, _CHECKOUT / CONFIG_NAME):
        if candidate.is_file():
            return candidate
    return None


def load_settings(**overrides: object) -> Settings:
    """Load and validate the settings; relative paths from the file are relative to the
    folder holding its config/ folder, others to the current folder.

    Raises:
        SettingsError: a setting is invalid or the config file is unreadable.
    """
    found = config_file()
    if found is not None and not found.is_file():
        raise SettingsError(f"config file {found} not found (set {ENV_PREFIX}CONFIG)")
    source = found.name if found is not None else "the defaults"
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "settings"
        env_name = f"{ENV_PREFIX}{name.split('.')[0].upper()}"
        raise SettingsError(f"setting {name!r} ({env_name} or {source}): {first['msg']}") from None
    except ValueError as error:  # e.g. TOML syntax, or a CITEBOT_ list that is not JSON
        raise SettingsError(f"settings: {error}") from None
    base = found.resolve().parent.parent if found is not None else Path.cwd()
    updates: dict[str, object] = {}
    for name in ("collection", "data_dir"):
        value: Path = getattr(settings, name)
        from_env = f"{ENV_PREFIX}{name.upper()}" in os.environ or name in overrides
        if not value.is_absolute():
            updates[name] = (Path.cwd() if from_env else base) / value
    if settings.model != "packaged" and not settings.model_path().is_dir():
        raise SettingsError(f"setting 'model': {settings.model} is not a model directory")
    return settings.model_copy(update=updates)
