"""Settings: a typed schema loaded from ``config/citebot.toml``, overridden by ``CITEBOT_*``.

Validated once at start; an invalid value raises :class:`SettingsError` naming the
setting and the reason. Secrets (the Discord token) are not settings: they are read
from the environment by the bot only and never stored here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from retrieval.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "citebot.toml"
ENV_PREFIX = "CITEBOT_"


class Settings(BaseSettings):
    """Every setting, with its type and bounds; see config/citebot.toml for what each does."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    collection: Path
    data_dir: Path
    model: str = "packaged"
    encoder: Literal["onnx-int8", "sentence-transformers"] = "onnx-int8"
    passage_tokens: int = Field(128, ge=32, le=512)
    retrieval_mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    top_k: int = Field(3, ge=1, le=10)
    max_passages_per_article: int = Field(2, ge=1, le=10)
    min_confidence: float = Field(0.383, ge=0.0, le=1.0)
    ask_concurrency: int = Field(4, ge=1, le=64)
    ask_queue: int = Field(200, ge=1, le=10_000)
    ask_wait_seconds: float = Field(10.0, gt=0.0, le=600.0)
    reader: bool = True
    reader_depth: int = Field(5, ge=1, le=30)
    bold_threshold: float = Field(0.5, ge=0.0, le=1.0)
    admin_roles: list[int] = Field(default_factory=list)
    allowed_channels: list[int] = Field(default_factory=list)
    ask_burst: int = Field(3, ge=1, le=100)
    ask_per_minute: float = Field(6.0, ge=0.0, le=600.0)
    log_retention_days: int = Field(30, ge=1, le=3650)
    ingest_max_bytes: int = Field(2_000_000, ge=1, le=25_000_000)
    ingest_extensions: list[str] = Field(
        default_factory=lambda: [".txt", ".md", ".jsonl", ".html", ".htm"]
    )

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
        config_file = Path(os.environ.get(f"{ENV_PREFIX}CONFIG", DEFAULT_CONFIG))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, config_file))

    def model_path(self) -> Path:
        """The model directory: the packaged all-MiniLM-L6-v2 or the configured folder."""
        if self.model == "packaged":
            from retrieval.embedding import packaged_model_path

            return packaged_model_path()
        return Path(self.model)


def load_settings(**overrides: object) -> Settings:
    """Load and validate the settings; relative paths from the file are project-relative.

    Raises:
        SettingsError: a setting is invalid or the config file is unreadable.
    """
    config_file = Path(os.environ.get(f"{ENV_PREFIX}CONFIG", DEFAULT_CONFIG))
    if not config_file.is_file():
        raise SettingsError(f"config file {config_file} not found (set {ENV_PREFIX}CONFIG)")
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "settings"
        env_name = f"{ENV_PREFIX}{name.split('.')[0].upper()}"
        raise SettingsError(
            f"setting {name!r} ({env_name} or {config_file.name}): {first['msg']}"
        ) from None
    except ValueError as error:  # e.g. TOML syntax, or a CITEBOT_ list that is not JSON
        raise SettingsError(f"settings: {error}") from None
    base = config_file.resolve().parent.parent
    updates: dict[str, object] = {}
    for name in ("collection", "data_dir"):
        value: Path = getattr(settings, name)
        from_env = f"{ENV_PREFIX}{name.upper()}" in os.environ or name in overrides
        if not value.is_absolute():
            updates[name] = (Path.cwd() if from_env else base) / value
    if settings.model != "packaged" and not settings.model_path().is_dir():
        raise SettingsError(f"setting 'model': {settings.model} is not a model directory")
    return settings.model_copy(update=updates)
