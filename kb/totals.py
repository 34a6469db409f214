"""Totals derived from a case's failures (never stored), and reading hand-written ones."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from kb.models import Failure, Impact

NO_LEVEL = "no level"


def counted(failures: Iterable[Failure]) -> list[Failure]:
    """The failures that count as failures (entries reporting a success do not)."""
    return [f for f in failures if f.is_failure]


def impact_counts(failures: Iterable[Failure]) -> Counter[Impact | None]:
    return Counter(f.impact for f in counted(failures))


def totals_line(failures: Iterable[Failure]) -> str:
    """`3 (2 Critical, 1 High)`: the total, then the count of each level present, most severe first."""
    counts = impact_counts(failures)
    total = sum(counts.values())
    parts = [f"{counts[level]} {level.label}" for level in Impact if counts[level]]
    if counts[None]:
        parts.append(f"{counts[None]} {NO_LEVEL}")
    return f"{total} ({', '.join(parts)})" if parts else str(total)


_NUMBER_WORD = re.compile(r"(?<!\d)(\d{1,9})(?!\d)\s*+(?:x\s*+)?\**+\s*+(critical|high|medium|low)\b", re.IGNORECASE)
_LEVEL_NUMBER = re.compile(
    r"\b(critical|high|medium|low)\b\**+\s*+(?:issues?|failures?)?\**+\s*+[:=(]\s*+(\d{1,9})(?!\d)", re.IGNORECASE
)
_TOTAL = re.compile(r"^\D*?(\d{1,9})(?!\d)")


def parse_totals(text: str) -> tuple[int | None, dict[Impact, int]]:
    """Read a hand-written totals line: `3 (2 Critical, 1 High)`, `Critical: 2, High: 1`, ..."""
    by_level: dict[Impact, int] = {}
    for number, word in _NUMBER_WORD.findall(text):
        by_level[Impact(word.lower())] = by_level.get(Impact(word.lower()), 0) + int(number)
    if not by_level:
        for word, number in _LEVEL_NUMBER.findall(text):
            by_level[Impact(word.lower())] = by_level.get(Impact(word.lower()), 0) + int(number)
    match = _TOTAL.match(text)
    total = (
        int(match.group(1)) if match and not text.lstrip().lower().startswith(tuple(i.value for i in Impact)) else None
    )
    return total, by_level


def totals_disagreement(written: str, failures: Iterable[Failure]) -> str | None:
    """Why a hand-written totals line disagrees with the records, or None when it agrees."""
    failures = list(failures)
    counts = impact_counts(failures)
    actual_total = sum(counts.values())
    total, by_level = parse_totals(written)
    reasons = []
    if total is not None and total != actual_total:
        reasons.append(f"total {total} written, {actual_total} recorded")
    for level, number in by_level.items():
        if counts[level] != number:
            reasons.append(f"{number} {level.label} written, {counts[level]} recorded")
    if not reasons:
        return None
    return f"written totals `{written.strip()}` disagree with the records ({'; '.join(reasons)}; records say {totals_line(failures)})"
