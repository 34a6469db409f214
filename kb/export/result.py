"""What an export wrote: shared by the exporter and the dataset card (so neither imports the other)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    out: Path
    format: str
    splits: dict[str, int]
    """Rows per split, in train/validation/test order."""
    skipped: dict[str, int]
    """Rows not exported, by reason (`draft`, `no model code`, `placeholder in code`, `exact duplicate row`...)."""
    redacted: int
    """Credentials replaced by placeholders (with ``redact=True``)."""
    file_format: str = "jsonl"
    clusters: dict[str, int] = field(default_factory=dict)
    """Cases exported, clusters of near-duplicate cases, clusters of more than one case, cases in those."""
    lengths: dict[str, Any] = field(default_factory=dict)
    """Token-length figures of the rows written (see ``kb.export.lengths``)."""
    mix: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    """Rows per impact, category, platform and language."""
    files: list[Path] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.splits.values())
