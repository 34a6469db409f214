"""Builders shared by the tests: knowledge bases, cases, failures, progress recorders.

Tests import from here (never from each other), so one change to a record's shape is
one change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RecordedProgress:
    """A ``kb.progress.Progress`` that remembers what it was told."""

    started: list[tuple[str, int]] = field(default_factory=list)
    advanced: list[int] = field(default_factory=list)

    def start(self, label: str, total: int) -> None:
        self.started.append((label, total))

    def advance(self, n: int = 1) -> None:
        self.advanced.append(n)
