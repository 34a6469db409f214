"""An imported case's life: its format version, when it was published, and the names it had.

A case gets ``published`` from its task's ``startedAt`` and ``aliases`` from the source's
own names and ids: the PR number in the task folder's name (`cdk-go-Pr2328` -> `pr2328`),
the folder's name when its slug is not the case id, and the metadata's `pr`, `task_id`
and `po_id` (also under `migrated_from`), each as a slug. An alias two imported
documents share, or that names an existing case, is ambiguous: ``settle_aliases`` drops it
from each of them, with a warning, so an import never gives `kb check` a duplicate alias.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from kb.models import SCHEMA_VERSION, Case, Failure, Task
from kb.store import case_dirs, scan_kb, slugify

_PR = re.compile(r"(?:^|[^a-z0-9])pr[-_ ]?(\d+)$", re.IGNORECASE)
_ID_KEYS = ("pr", "task_id", "po_id")


def published_of(task: Task | None) -> datetime.date | None:
    """The day (UTC) of the task's `startedAt`, when its metadata holds a readable one."""
    raw = task.metadata.get("startedAt") if task else None
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        moment = datetime.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC)
    return moment.date()


def source_aliases(case_id: str, name: str, task: Task | None) -> list[str]:
    """The source document's own names and ids as slugs, its case id left out (see the module docstring)."""
    found: list[str] = []
    pr = _PR.search(name.strip())
    if pr:
        found.append(f"pr{int(pr[1])}")
    found.append(slugify(name, 120))
    metadata = task.metadata if task else {}
    for place in (metadata, metadata.get("migrated_from")):
        if isinstance(place, dict):
            found.extend(_id(place.get(key), key) for key in _ID_KEYS)
    return [alias for alias in dict.fromkeys(found) if alias and alias != case_id]


def _id(value: Any, key: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return ""
    if key == "pr":
        digits = re.fullmatch(r"(?i)(?:pr[-_ ]?)?#?(\d+)", value.strip())
        return f"pr{int(digits[1])}" if digits else slugify(value, 120)
    return slugify(value, 120)


def date_records(
    case: Case, failures: list[Failure], task: Task | None, aliases: list[str]
) -> tuple[Case, list[Failure]]:
    """The case and failures in the current format, with the case's ``published`` date and ``aliases``."""
    case = case.model_copy(
        update={"schema_version": SCHEMA_VERSION, "published": published_of(task), "aliases": aliases}
    )
    return case, [f.model_copy(update={"schema_version": SCHEMA_VERSION}) for f in failures]


class Imported(Protocol):
    """What the import reports of one document (``kb.importer.driver.DocumentResult``)."""

    case_id: str
    aliases: list[str]
    warnings: list[tuple[str, str]]

    @property
    def imported(self) -> bool: ...


def settle_aliases(into: Path, results: Sequence[Imported]) -> set[str]:
    """Drop each alias that more than one case would answer to from the imported cases that claim it
    (``result.aliases``, with a warning); the ids of the cases that lost one, for the import to rewrite."""
    changed: set[str] = set()
    fresh = [r for r in results if r.imported and r.aliases]
    if not fresh:
        return changed
    ids = {r.case_id for r in results if r.imported}
    claims: dict[str, list[str]] = defaultdict(list)
    existing = [p.name for p in case_dirs(into) if p.name not in ids]
    for name in existing:
        claims[name].append(name)
    if existing:
        for loaded in scan_kb(into, cases=existing, slim=True).cases:
            for alias in loaded.case.aliases:
                claims[alias].append(loaded.id)
    for result in fresh:
        for alias in result.aliases:
            claims[alias].append(result.case_id)
    for name in ids:
        claims[name].append(name)
    for result in fresh:
        dropped = [a for a in result.aliases if len(claims[a]) > 1]
        if not dropped:
            continue
        result.aliases = [a for a in result.aliases if a not in dropped]
        changed.add(result.case_id)
        for alias in dropped:
            others = ", ".join(f"`{c}`" for c in sorted(set(claims[alias]) - {result.case_id}))
            result.warnings.append(("alias", f"alias `{alias}` is also a name of {others}; left out"))
    return changed
