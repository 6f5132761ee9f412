"""Shared fixtures: settings on a temporary data folder, small real article files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval.settings import Settings, load_settings
from tests.fakes import HashingEmbedder

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = PROJECT_ROOT / "samples" / "articles"
SHARED = PROJECT_ROOT.parent / "shared"
SEED = SHARED / "seed" / "000_e43f7010d83bf6bd.txt"


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """An empty collection folder the test fills."""
    folder = tmp_path / "collection"
    folder.mkdir()
    return folder


@pytest.fixture
def settings(tmp_path: Path, collection: Path) -> Settings:
    """Default settings pointed at a temporary collection and data folder, reader off
    (tests of what the reader decides pass a reader in)."""
    return load_settings(
        collection=collection, data_dir=tmp_path / "data", min_confidence=0.0, reader=False
    )


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def seed_file() -> Path:
    """The seed article from ../shared; skipped where ../shared is absent."""
    if not SEED.exists():
        pytest.skip("../shared/seed is not available in this checkout")
    return SEED


def copy_samples(target: Path, names: list[str] | None = None) -> list[Path]:
    """Copy shipped sample articles (all, or those named) into ``target``."""
    copied = []
    for path in sorted(SAMPLES.glob("*.txt")):
        if names is None or path.stem in names:
            copied.append(Path(shutil.copy(path, target / path.name)))
    return copied
