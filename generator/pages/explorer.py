"""The explorer's data: every counted failure as compact JSON, for a small script that filters, sorts and pages.

One browse page serves any knowledge base size: instead of a static list per facet
(44,000 entries of HTML at 5,000 cases), the page loads

- ``data/facets.json``: the facet values (impact, category, service, platform,
  language) and, per failure, small integers into them, plus the cases' display titles;
- ``data/titles-N.json``: failure ids and display titles in shards of ``SHARD`` rows,
  fetched only for the rows on screen.

Values come from the records through ``kb.facets.facets_of`` (services inherited from
the task are flagged), the same normalisers ``kb stats`` counts with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from generator.pages.browse import PLATFORM_NAMES
from generator.pages.session import PerCase
from generator.pages.titles import case_title, plain_title
from kb.facets import facets_of
from kb.models import Impact
from kb.names import NONE
from kb.stats import UNCATEGORISED
from kb.store import KnowledgeBase, LoadedCase

__all__ = ["SHARD", "ExplorerData", "explorer_data"]

SHARD = 4000
"""Failures per title shard: a page of results needs one or two (about 100 KB compressed each)."""
_SOURCE = {"record": 0, "inferred": 1, "task": 2, NONE: 3}


@dataclass(frozen=True)
class ExplorerData:
    """The explorer's files (path under the site -> JSON text) and the counts its page states."""

    files: dict[str, str]
    failures: int
    cases: int


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class _Values:
    """A facet's values, numbered in first-seen order, with display names."""

    def __init__(self, names: dict[str, str] | None = None) -> None:
        self.index: dict[str, int] = {}
        self.names = names or {}

    def __call__(self, key: str) -> int:
        if key not in self.index:
            self.index[key] = len(self.index)
        return self.index[key]

    def to_json(self) -> list[list[str]]:
        return [[key, self.names.get(key, key)] for key in self.index]


@dataclass(frozen=True)
class _Rows:
    """One case's part of the explorer's data, with facet values as keys (numbered when the files are put together)."""

    case: tuple[str, str, str | None, str | None, int, str]
    """Id, display title, platform and language (None without counted failures), flags, the original's id."""
    failures: tuple[tuple[str, str, tuple[str, ...], int, int, str, str], ...]
    """Per counted failure: impact, category, services, where they came from, flags, id, display title."""


def _rows(case: LoadedCase) -> _Rows:
    counted = [loaded.failure for loaded in case.failures if loaded.failure.is_failure]
    flags = (1 if case.case.duplicate_of else 0) | (2 if not counted else 0)
    first = facets_of(counted[0], case.case) if counted else None
    described = (
        case.id,
        case_title(case.case),
        first.platform if first else None,
        first.language if first else None,
        flags,
        case.case.duplicate_of or "",
    )
    failures = []
    for failure in counted:
        facets = facets_of(failure, case.case)
        ideal = failure.ideal_response
        model = failure.model_response
        has_fix = bool(ideal and (ideal.text.strip() or (ideal.code or "").strip()))
        has_code = bool((model and (model.code or "").strip()) or (ideal and (ideal.code or "").strip()))
        failures.append(
            (
                failure.impact.value if failure.impact else NONE,
                failure.category or NONE,
                tuple(facets.services),
                _SOURCE[facets.services_from],
                (1 if has_fix else 0) | (2 if has_code else 0) | (4 if facets.inferred else 0),
                failure.id,
                plain_title(failure.title),
            )
        )
    return _Rows(described, tuple(failures))


def explorer_data(kb: KnowledgeBase, kept: PerCase[_Rows] | None = None) -> ExplorerData:
    """The explorer's JSON files for a loaded knowledge base (each case's rows from ``kept`` when it holds them)."""
    impact = _Values({level.value: level.label for level in Impact} | {NONE: "No level"})
    for level in Impact:
        impact(level.value)
    impact(NONE)
    titles = {c.id: c.title for c in kb.taxonomy.categories} if kb.taxonomy else {}
    category = _Values(titles | {NONE: UNCATEGORISED})
    service = _Values({NONE: "No service named"})
    platform = _Values(PLATFORM_NAMES | {NONE: "No platform"})
    language = _Values({NONE: "No language"})
    cases: list[list[Any]] = []
    columns: dict[str, list[Any]] = {k: [] for k in ("case", "impact", "category", "services", "from", "flags")}
    shard_rows: list[list[str]] = []
    for case_number, case in enumerate(sorted(kb.cases, key=lambda c: c.id)):
        rows = kept.get(case) if kept is not None else None
        if rows is None:
            rows = _rows(case) if kept is None else kept.put(case, _rows(case))
        ident, title, on, written_in, flags, original = rows.case
        cases.append(
            [
                ident,
                title,
                platform(on) if on is not None else -1,
                language(written_in) if written_in is not None else -1,
                flags,
                original,
            ]
        )
        for severity, kind, services, source, marks, failure_id, failure_title in rows.failures:
            columns["case"].append(case_number)
            columns["impact"].append(impact(severity))
            columns["category"].append(category(kind))
            columns["services"].append([service(s) for s in services] or [service(NONE)])
            columns["from"].append(source)
            columns["flags"].append(marks)
            shard_rows.append([failure_id, failure_title])
    index = {
        "version": 1,
        "shard": SHARD,
        "facets": {
            "impact": impact.to_json(),
            "category": category.to_json(),
            "service": service.to_json(),
            "platform": platform.to_json(),
            "language": language.to_json(),
        },
        "cases": cases,
        "rows": columns,
    }
    files = {"data/facets.json": _dumps(index)}
    for number, start in enumerate(range(0, len(shard_rows), SHARD)):
        files[f"data/titles-{number}.json"] = _dumps(shard_rows[start : start + SHARD])
    return ExplorerData(files, len(shard_rows), len(cases))
