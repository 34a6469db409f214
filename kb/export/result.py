"""What an export wrote: shared by the exporter and the dataset card (so neither imports the other)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    out: Path
    format: str
    splits: dict[str, int]
    """Rows per split, in train/validation/test order."""
    skipped: dict[str, int]
    """Failures not exported, by reason (`draft`, `no model code`, ...)."""
    redacted: int
    """Credentials replaced by placeholders (with ``redact=True``)."""
    files: list[Path] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.splits.values())
