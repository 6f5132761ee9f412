"""The data folder: index generations swapped in atomically, and a reindex lock.

Layout::

    data/
      CURRENT             name of the generation being served (replaced with os.replace)
      generations/<name>/ store.sqlite, vectors.faiss, lexical/, manifest.json
      activity.sqlite     feedback and question log (outlives generations)
      encoders/           cached quantized encoders
      reindex.lock

A reindex writes a new generation beside the served one and only then points
CURRENT at it, so an interrupted run leaves the previous index serving. A generation is
complete once its ``manifest.json`` is written (the last file of a build).

Several processes may serve one data folder (the bot, and ``citebot index`` in a
terminal). Each holds a shared lock on ``generations/<name>/readers.lock`` for as long
as it serves that generation, and a generation is deleted only when an exclusive lock
on that file can be taken: no process ever loses the index it is answering from.
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

MANIFEST_FILE = "manifest.json"
"""Written last: a generation without it is half-built."""
READERS_LOCK = "readers.lock"


class Hold:
    """A shared lock on a generation: while held, no process deletes it.

    Raises:
        FileNotFoundError: the generation was deleted before the lock was taken (read
            CURRENT again).
    """

    def __init__(self, generation: Path) -> None:
        self.generation = generation
        self._handle = open(generation / READERS_LOCK, "a+")  # noqa: SIM115 (held open)
        fcntl.flock(self._handle, fcntl.LOCK_SH)
        if not is_complete(generation):
            self.release()
            raise FileNotFoundError(f"{generation} is gone")

    def release(self) -> None:
        if not self._handle.closed:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()


class DataFolder:
    """Paths and generation bookkeeping inside the data folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._warned: tuple[str | None, str | None] | None = None
        """The damaged CURRENT last warned about and its fallback: the watcher reads
        CURRENT every few seconds, and one warning per damage is enough."""
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
        """The generation to serve, or None before the first index.

        An empty or corrupt CURRENT, or one naming a missing or half-built generation,
        falls back to the newest complete generation, with a warning.
        """
        pointer = self.root / "CURRENT"
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            name = None
        except (OSError, UnicodeDecodeError):
            name = ""
        folder = self.root / "generations" / name if name and "/" not in name else None
        if folder is not None and is_complete(folder):
            self._warned = None
            return folder
        complete = self.complete_generations()
        if name is None and not complete:
            return None
        fallback = complete[-1] if complete else None
        state = (name, fallback.name if fallback else None)
        if self._warned != state:
            self._warned = state
            if fallback is not None:
                log.warning(
                    "%s names no complete index (%r); serving the newest complete one, %s",
                    pointer,
                    name,
                    fallback.name,
                )
            else:
                log.warning("%s names no complete index (%r) and there is none", pointer, name)
        return fallback

    def complete_generations(self) -> list[Path]:
        """Complete generations, oldest first (their names sort by build time)."""
        return sorted(p for p in (self.root / "generations").iterdir() if is_complete(p))

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
        """Delete generations other than ``keep`` that no process serves: old ones and
        leftovers of interrupted runs. Call it holding the reindex lock (nothing is
        being built then)."""
        for folder in (self.root / "generations").iterdir():
            if folder in keep or not folder.is_dir():
                continue
            if not _delete_unless_held(folder):
                log.debug("keeping %s: another process still serves it", folder.name)

    def tidy(self) -> None:
        """At start, unless a reindex runs now: delete the versions interrupted reindexes
        half-built, and the old ones no process serves any more."""
        try:
            with self.reindex_lock():
                current = self.current()
                for folder in (self.root / "generations").iterdir():
                    if folder == current or not folder.is_dir():
                        continue
                    state = "old" if is_complete(folder) else "half-built"
                    if _delete_unless_held(folder):
                        log.info("removed the %s index version %s", state, folder.name)
        except IndexBusyError:
            log.debug("a reindex is running: old and half-built versions are left to it")

    def hold(self, generation: Path) -> Hold:
        """A shared lock on ``generation`` for as long as this process serves it."""
        return Hold(generation)

    @contextlib.contextmanager
    def reindex_lock(self) -> Iterator[None]:
        """Hold the reindex lock, across processes; raise IndexBusyError if it is taken."""
        with self._lock("reindex.lock", "a reindex is already running"):
            yield

    @contextlib.contextmanager
    def feeds_lock(self) -> Iterator[None]:
        """Hold the feed-refresh lock, across processes (several bot shards follow the
        same feeds: one of them polls); raise IndexBusyError if it is taken."""
        with self._lock("feeds.lock", "another process is refreshing these feeds"):
            yield

    @contextlib.contextmanager
    def _lock(self, name: str, busy: str) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / name, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexBusyError(busy) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def is_complete(generation: Path) -> bool:
    """Whether the generation was built to the end."""
    return (generation / MANIFEST_FILE).is_file()


def _delete_unless_held(generation: Path) -> bool:
    """Delete ``generation`` if no process holds it; True when deleted.

    The exclusive lock is kept while deleting, so a process about to hold the
    generation waits, then finds it gone (see :class:`Hold`).
    """
    with open(generation / READERS_LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        shutil.rmtree(generation, ignore_errors=True)
        return True


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
