"""The data folder: index generations swapped in atomically, and a reindex lock.

Layout::

    data/
      CURRENT             name of the generation being served (replaced with os.replace)
      generations/<name>/ store.sqlite, vectors.faiss, lexical/, manifest.json
      activity.sqlite     feedback and question log (outlives generations)
      encoders/           cached quantized encoders
      reindex.lock

A reindex writes a new generation beside the served one and only then points
CURRENT at it, so an interrupted run leaves the previous index serving.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from retrieval.errors import IndexBusyError, SettingsError

log = logging.getLogger(__name__)


class DataFolder:
    """Paths and generation bookkeeping inside the data folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            (root / "generations").mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SettingsError(f"data_dir: cannot create {root}: {error.strerror}") from error

    @property
    def activity_db(self) -> Path:
        return self.root / "activity.sqlite"

    @property
    def encoder_cache(self) -> Path:
        return self.root / "encoders"

    def current(self) -> Path | None:
        """The generation being served, or None before the first index."""
        pointer = self.root / "CURRENT"
        if not pointer.exists():
            return None
        folder = self.root / "generations" / pointer.read_text(encoding="utf-8").strip()
        return folder if folder.is_dir() else None

    def new_generation(self) -> Path:
        """A fresh, empty generation folder (not served until :meth:`publish`)."""
        name = datetime.now(UTC).strftime("g-%Y%m%dT%H%M%S%fZ")
        folder = self.root / "generations" / name
        folder.mkdir()
        return folder

    def publish(self, generation: Path) -> None:
        """Serve ``generation`` from now on: an atomic rename of the CURRENT pointer."""
        _fsync_tree(generation)
        temporary = self.root / "CURRENT.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(generation.name)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.root / "CURRENT")
        _fsync_dir(self.root)

    def remove_stale(self, keep: set[Path]) -> None:
        """Delete generations other than ``keep``: old ones and leftovers of interrupted runs."""
        for folder in (self.root / "generations").iterdir():
            if folder not in keep:
                shutil.rmtree(folder, ignore_errors=True)

    @contextlib.contextmanager
    def reindex_lock(self) -> Iterator[None]:
        """Hold the reindex lock, across processes; raise IndexBusyError if it is taken."""
        with open(self.root / "reindex.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexBusyError("a reindex is already running") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
