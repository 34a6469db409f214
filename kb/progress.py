"""Progress: one protocol for every long-running library function (render, import, export).

A front-end passes an object with ``start(label, total)`` and ``advance(n)``; the library
calls ``start`` once it knows how much work there is, then ``advance`` as the work gets
done. The library never draws anything itself (the CLI draws a progress bar).
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Told how much work there is, then how much got done."""

    def start(self, label: str, total: int) -> None:
        """``total`` steps of work called ``label`` begin (called once, before any ``advance``)."""

    def advance(self, n: int = 1) -> None:
        """``n`` more steps are done."""


class NoProgress:
    """A ``Progress`` that reports nothing (the default)."""

    def start(self, label: str, total: int) -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None


NO_PROGRESS = NoProgress()
