"""The inputs a read left out: a few named with their reasons, all of them counted."""

from __future__ import annotations

from dataclasses import dataclass, field

from retrieval.types import SKIPPED_LISTED, SkippedFile


@dataclass
class SkipReport:
    """Skipped inputs: the first ``SKIPPED_LISTED`` kept with their reasons, the rest counted.

    Memory stays bounded however many lines of a file are broken.
    """

    listed: list[SkippedFile] = field(default_factory=list)
    more: int = 0

    @property
    def total(self) -> int:
        """Every skipped input, listed or not."""
        return len(self.listed) + self.more

    def add(self, source: str, reason: str) -> None:
        if len(self.listed) < SKIPPED_LISTED:
            self.listed.append(SkippedFile(source, reason))
        else:
            self.more += 1

    def extend(self, other: SkipReport) -> None:
        taken = other.listed[: max(0, SKIPPED_LISTED - len(self.listed))]
        self.listed += taken
        self.more += other.total - len(taken)
