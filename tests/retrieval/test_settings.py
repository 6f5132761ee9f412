"""Settings come from config/citebot.toml, CITEBOT_* overrides them, bad values stop the start."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.errors import SettingsError
from retrieval.settings import load_settings
from tests.conftest import PROJECT_ROOT


def test_defaults_from_the_shipped_file() -> None:
    """The shipped settings index the sample collection with the packaged model."""
    settings = load_settings()
    assert settings.collection == PROJECT_ROOT / "samples" / "articles"
    assert settings.model == "packaged"
    assert settings.model_path().joinpath("config.json").exists()


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """CITEBOT_<SETTING> overrides the file; relative paths are taken from where you are."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CITEBOT_COLLECTION", "news")
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("CITEBOT_TOP_K", "5")
    monkeypatch.setenv("CITEBOT_ADMIN_ROLES", "[1187362539001729044, 1187362539001729045]")
    settings = load_settings()
    assert settings.collection == tmp_path / "news"
    assert settings.data_dir == tmp_path / "index"
    assert settings.top_k == 5
    assert settings.admin_roles == [1187362539001729044, 1187362539001729045]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CITEBOT_TOP_K", "0", "'top_k'"),
        ("CITEBOT_PASSAGE_TOKENS", "many", "'passage_tokens'"),
        ("CITEBOT_ENCODER", "gpu", "'encoder'"),
        ("CITEBOT_MODEL", "/no/such/model", "'model'"),
        ("CITEBOT_ALLOWED_CHANNELS", "general", "allowed_channels"),
        ("CITEBOT_ADMIN_ROLES", '["Editors"]', "admin_roles"),
    ],
)
def test_invalid_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    """An invalid value raises SettingsError naming the setting."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_unknown_setting_in_file_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A misspelt setting in the file is an error, not silently ignored."""
    config = tmp_path / "config" / "citebot.toml"
    config.parent.mkdir()
    config.write_text('collection = "a"\ndata_dir = "b"\ntop_kk = 3\n')
    monkeypatch.setenv("CITEBOT_CONFIG", str(config))
    with pytest.raises(SettingsError, match="top_kk"):
        load_settings()


def test_an_installed_citebot_runs_without_a_settings_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no config/ folder to be found, the defaults apply, relative to where you are."""
    import retrieval.settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(retrieval.settings, "_CHECKOUT", tmp_path / "site-packages")
    settings = load_settings()
    assert settings.collection == tmp_path / "articles"
    assert settings.data_dir == tmp_path / "data"
    assert settings.reader
