"""Figures about a knowledge base: one computation for the terminal (`kb stats`) and the site.

Everything is counted in one pass over a loaded ``KnowledgeBase``. "Failures" are the
counted ones (entries whose ``kind`` is not ``failure`` are reported apart). Missing values are
counted under ``none``, never guessed.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from kb.cache import RecordCache
from kb.errors import InvalidKbError, Severity, UsageError
from kb.filters import Filters, Selection, case_platform, failure_services, select
from kb.lifecycle import failure_changed, is_withdrawn
from kb.models import Failure, Impact, Status
from kb.names import NONE, gap_key, gap_text, normalise_language
from kb.store import CASE_FILE, KnowledgeBase, LoadedCase, scan_files
from kb.totals import totals_disagreement

UNCATEGORISED = "Uncategorised"
OTHER = "(other)"
"""The column that gathers what does not fit when a table is narrowed."""


class Dimension(StrEnum):
    """What failures can be counted by (`kb stats --by`)."""

    impact = "impact"
    category = "category"
    service = "service"
    platform = "platform"
    language = "language"
    case = "case"


def _case_values(case: LoadedCase) -> dict[Dimension, tuple[str, ...]]:
    task = case.case.task
    return {
        Dimension.platform: (case_platform(case.case),),
        Dimension.language: (normalise_language(task.language if task else None),),
        Dimension.case: (case.id,),
    }


def _failure_values(
    failure: Failure, case_values: dict[Dimension, tuple[str, ...]]
) -> dict[Dimension, tuple[str, ...]]:
    return {
        Dimension.impact: (failure.impact.value if failure.impact else NONE,),
        Dimension.category: (failure.category or NONE,),
        Dimension.service: failure_services(failure),
        **case_values,
    }


def _matches(values: dict[Dimension, tuple[str, ...]], sel: Selection) -> bool:
    return sel.matches(
        impact=values[Dimension.impact][0],
        category=values[Dimension.category][0],
        services=values[Dimension.service],
        platform=values[Dimension.platform][0],
    )


@dataclass(frozen=True)
class _Row:
    """One selected failure with its values along every dimension."""

    case: LoadedCase
    path: str
    failure: Failure
    values: dict[Dimension, tuple[str, ...]]


def _select(kb: KnowledgeBase, sel: Selection) -> Iterable[tuple[LoadedCase, list[_Row], list[_Row]]]:
    """Each selected case with its selected counted failures and its selected non-failures
    (withdrawn records are never selected)."""
    for case in kb.cases:
        case_values = _case_values(case)
        if case.case.withdrawn or not sel.accepts_platform(case_values[Dimension.platform][0]):
            continue
        counted: list[_Row] = []
        others: list[_Row] = []
        for loaded in case.failures:
            if loaded.failure.withdrawn or not sel.accepts_change(failure_changed(case, loaded)):
                continue
            values = _failure_values(loaded.failure, case_values)
            if _matches(values, sel):
                row = _Row(case, str(loaded.path), loaded.failure, values)
                (counted if loaded.failure.is_failure else others).append(row)
        if sel.on_failures and not counted and not others:
            continue
        yield case, counted, others


# -- the figures -----------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryCount:
    """A category's title (from the taxonomy; the key itself when it is not there) and failure count."""

    title: str
    count: int


@dataclass(frozen=True)
class Spread:
    """Failures per case: the median and the largest."""

    median: float
    max: int


@dataclass(frozen=True)
class Finding:
    """A record that lacks something: its path and, for totals, the disagreement."""

    path: str
    note: str = ""


@dataclass(frozen=True)
class Integrity:
    """Records that disagree with themselves or lack what a complete analysis has."""

    totals_disagree: list[Finding] = field(default_factory=list)
    without_fix: list[Finding] = field(default_factory=list)
    without_root_cause: list[Finding] = field(default_factory=list)
    without_docs: list[Finding] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One `path: what is wrong` line per finding, in the order of ``items``."""
        return [f"{f.path}: {f.note or name.replace('_', ' ')}" for name, found in self.items() for f in found]

    def items(self) -> list[tuple[str, list[Finding]]]:
        return [
            ("totals_disagree", self.totals_disagree),
            ("without_fix", self.without_fix),
            ("without_root_cause", self.without_root_cause),
            ("without_docs", self.without_docs),
        ]


@dataclass(frozen=True)
class Stats:
    """The knowledge base at a glance. Dicts are in display order (most first, or the natural order)."""

    cases: int
    failures: int
    published: int
    drafts: int
    not_failures: int
    withdrawn: int
    """Withdrawn failures (and failures of withdrawn cases), never counted anywhere else."""
    by_impact: dict[str, int]
    by_category: dict[str, CategoryCount]
    by_service: dict[str, int]
    by_platform: dict[str, int]
    by_language: dict[str, int]
    knowledge_gaps: dict[str, int]
    failures_per_case: Spread
    integrity: Integrity

    def as_dict(self, *, details: bool = False) -> dict[str, Any]:
        """Plain data with stable keys (for `--json` and the site); paths only with ``details``."""
        data: dict[str, Any] = {
            "cases": self.cases,
            "failures": self.failures,
            "published": self.published,
            "drafts": self.drafts,
            "not_failures": self.not_failures,
            "withdrawn": self.withdrawn,
            "by_impact": dict(self.by_impact),
            "by_category": {k: {"title": v.title, "count": v.count} for k, v in self.by_category.items()},
            "by_service": dict(self.by_service),
            "by_platform": dict(self.by_platform),
            "by_language": dict(self.by_language),
            "knowledge_gaps": dict(self.knowledge_gaps),
            "failures_per_case": {"median": self.failures_per_case.median, "max": self.failures_per_case.max},
            "integrity": {name: len(found) for name, found in self.integrity.items()},
        }
        if details:
            data["integrity_details"] = {
                name: [{"path": f.path, "note": f.note} if f.note else {"path": f.path} for f in found]
                for name, found in self.integrity.items()
            }
        return data


def compute_stats(kb: KnowledgeBase, *, filters: Filters | None = None, top_gaps: int = 10) -> Stats:
    """Count everything in one pass over the loaded knowledge base."""
    if top_gaps < 0:
        raise UsageError(f"the number of knowledge gaps to show must be 0 or more, not {top_gaps}")
    sel = select(kb, filters)
    counts: dict[Dimension, Counter[str]] = {d: Counter() for d in Dimension}
    gaps: Counter[str] = Counter()
    gap_spellings: dict[str, Counter[str]] = {}
    per_case: list[int] = []
    status: Counter[Status] = Counter()
    not_failures = 0
    integrity = Integrity()
    for case, rows, others in _select(kb, sel):
        per_case.append(len(rows))
        not_failures += len(others)
        summary = case.case.summary
        if summary is not None:
            in_case = {gap_key(g): gap_text(g) for g in reversed(summary.knowledge_gaps)}  # first spelling wins
            for key, text in in_case.items():
                if key:
                    gaps[key] += 1
                    gap_spellings.setdefault(key, Counter())[text] += 1
            if summary.written_totals:
                reason = totals_disagreement(summary.written_totals, (f.failure for f in case.failures))
                if reason:
                    integrity.totals_disagree.append(Finding(str(case.path / CASE_FILE), reason))
        for row in rows:
            status[row.failure.status] += 1
            for dimension, values in row.values.items():
                counter = counts[dimension]
                for value in values:
                    counter[value] += 1
            _check_complete(row, integrity)
    return Stats(
        cases=len(per_case),
        failures=sum(per_case),
        published=status[Status.published],
        drafts=status[Status.draft],
        not_failures=not_failures,
        withdrawn=sum(is_withdrawn(case, loaded) for case in kb.cases for loaded in case.failures),
        by_impact={level.value: counts[Dimension.impact][level.value] for level in Impact}
        | {NONE: counts[Dimension.impact][NONE]},
        by_category=_categories(kb, counts[Dimension.category]),
        by_service=_most_first(counts[Dimension.service]),
        by_platform=_most_first(counts[Dimension.platform]),
        by_language=_most_first(counts[Dimension.language]),
        knowledge_gaps={_spelling(gap_spellings[k]): n for k, n in list(_most_first(gaps).items())[:top_gaps]},
        failures_per_case=Spread(float(statistics.median(per_case)) if per_case else 0.0, max(per_case, default=0)),
        integrity=integrity,
    )


def _check_complete(row: _Row, integrity: Integrity) -> None:
    failure = row.failure
    fix = failure.ideal_response
    if fix is None or not (fix.text.strip() or (fix.code or "").strip() or fix.reference):
        integrity.without_fix.append(Finding(row.path))
    if not (failure.root_cause or "").strip():
        integrity.without_root_cause.append(Finding(row.path))
    if not failure.docs:
        integrity.without_docs.append(Finding(row.path))


def _most_first(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def _spelling(spellings: Counter[str]) -> str:
    """The most used spelling of a gap (ties: the first in sort order), so output is stable."""
    return min(spellings.items(), key=lambda item: (-item[1], item[0]))[0]


def _categories(kb: KnowledgeBase, counted: Counter[str]) -> dict[str, CategoryCount]:
    titles = {c.id: c.title for c in kb.taxonomy.categories} if kb.taxonomy else {}
    keys = [*titles, *sorted(k for k in counted if k not in titles and k != NONE), NONE]
    return {key: CategoryCount(titles.get(key, UNCATEGORISED if key == NONE else key), counted[key]) for key in keys}


# -- counting by one or two dimensions ---------------------------------------------------


@dataclass(frozen=True)
class CrossTab:
    """Failures counted by one dimension (``cols`` empty) or two (rows by columns).

    A failure with several values along a dimension (several services) counts once
    under each; ``row_totals`` and ``total`` count every failure once.
    """

    dims: tuple[Dimension, ...]
    rows: list[str]
    cols: list[str]
    cells: dict[tuple[str, str], int]
    row_totals: dict[str, int]
    total: int

    def count(self, row: str, col: str = "") -> int:
        return self.cells.get((row, col), 0)

    def as_dict(self) -> dict[str, Any]:
        """``by``, ``counts`` (row -> n, or row -> col -> n without zeros), ``failures``."""
        counts: dict[str, Any]
        if not self.cols:
            counts = {row: self.row_totals[row] for row in self.rows}
        else:
            counts = {
                row: {col: self.cells[(row, col)] for col in self.cols if self.cells.get((row, col))}
                for row in self.rows
            }
        return {"by": [d.value for d in self.dims], "counts": counts, "failures": self.total}


def dimension(name: str) -> Dimension:
    """The dimension called ``name``, or a ``UsageError`` listing the choices."""
    try:
        return Dimension(name.strip().lower())
    except ValueError:
        raise UsageError(f"cannot count by `{name}`; choose from {', '.join(d.value for d in Dimension)}") from None


def crosstab(
    kb: KnowledgeBase,
    rows: Dimension | str,
    cols: Dimension | str | None = None,
    *,
    filters: Filters | None = None,
    max_cols: int | None = None,
) -> CrossTab:
    """Count the selected failures by ``rows`` (and ``cols``: `kb stats --by A --by B`).

    ``max_cols`` keeps the most frequent columns and gathers the rest under ``(other)``,
    counting each failure there once, so a table fits a terminal.
    """
    if max_cols is not None and max_cols < 2:
        raise UsageError(f"a table needs room for at least 2 columns, not {max_cols}")
    rows, cols = dimension(rows), None if cols is None else dimension(cols)
    sel = select(kb, filters)
    selected = [row for _, counted, _ in _select(kb, sel) for row in counted]
    row_totals: Counter[str] = Counter(v for row in selected for v in row.values[rows])
    col_order: list[str] = []
    if cols is not None:
        col_totals: Counter[str] = Counter(v for row in selected for v in row.values[cols])
        col_order = _ordered(kb, cols, col_totals)
        if max_cols is not None and len(col_order) > max_cols:
            kept = set(sorted(col_order, key=lambda c: (-col_totals[c], c))[: max_cols - 1])
            col_order = [c for c in col_order if c in kept] + [OTHER]
    shown = set(col_order)
    cells: Counter[tuple[str, str]] = Counter()
    for row in selected:
        across = [""] if cols is None else list(dict.fromkeys(v if v in shown else OTHER for v in row.values[cols]))
        for value in row.values[rows]:
            for col in across:
                cells[(value, col)] += 1
    dims = (rows,) if cols is None else (rows, cols)
    row_order = _ordered(kb, rows, row_totals)
    return CrossTab(dims, row_order, col_order, dict(cells), {r: row_totals[r] for r in row_order}, len(selected))


def _ordered(kb: KnowledgeBase, dimension: Dimension, totals: Counter[str]) -> list[str]:
    """The values present, in the dimension's natural order (levels, taxonomy, cases) or most first."""
    if dimension is Dimension.impact:
        natural = [level.value for level in Impact]
    elif dimension is Dimension.category:
        natural = [c.id for c in kb.taxonomy.categories] if kb.taxonomy else []
    elif dimension is Dimension.case:
        natural = [c.id for c in kb.cases]
    else:
        natural = []
    place = {value: i for i, value in enumerate(natural)}
    present = [v for v in totals if totals[v] and v != NONE]
    present.sort(key=lambda v: (place.get(v, len(place)), -totals[v], v))
    return present + ([NONE] if totals[NONE] else [])


# -- the terminal view, as plain rows ----------------------------------------------------


@dataclass(frozen=True)
class TableView:
    """A table to show: plain strings only (the front-end escapes and styles them)."""

    title: str
    headers: tuple[str, ...]
    rows: Sequence[Sequence[str]]
    align: str
    """One letter a column: `l`eft or `r`ight."""
    more: int = 0
    """Rows left out (only the top ones are shown)."""


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}%" if total else "-"


def _top(title: str, headers: tuple[str, ...], counts: dict[str, int], total: int, top: int) -> TableView:
    items = list(counts.items())
    rows = [(name, str(n), _share(n, total)) for name, n in items[:top]]
    return TableView(title, headers, rows, "lrr", more=max(0, len(items) - top))


def stats_tables(stats: Stats, *, top: int = 10) -> list[TableView]:
    """The tables `kb stats` shows, each at most ``top`` rows long."""
    total = stats.failures
    spread = stats.failures_per_case
    overview = TableView(
        "Knowledge base",
        ("", "count"),
        [
            ("cases", str(stats.cases)),
            ("failures", str(total)),
            ("  published", str(stats.published)),
            ("  drafts", str(stats.drafts)),
            ("entries that are not failures", str(stats.not_failures)),
            ("withdrawn", str(stats.withdrawn)),
            ("failures per case: median", f"{spread.median:g}"),
            ("failures per case: max", str(spread.max)),
        ],
        "lr",
    )
    impact = TableView(
        "Failures by impact",
        ("impact", "failures", "share"),
        [(Impact(k).label if k != NONE else "no level", str(n), _share(n, total)) for k, n in stats.by_impact.items()],
        "lrr",
    )
    used = sorted(((k, c) for k, c in stats.by_category.items() if c.count), key=lambda item: (-item[1].count, item[0]))
    category = TableView(
        "Failures by category",
        ("category", "key", "failures"),
        [(c.title, k, str(c.count)) for k, c in used[:top]],
        "llr",
        more=max(0, len(used) - top),
    )
    gaps = list(stats.knowledge_gaps.items())
    return [
        overview,
        impact,
        category,
        _top("Failures by AWS service", ("service", "failures", "share"), stats.by_service, total, top),
        _top("Failures by platform", ("platform", "failures", "share"), stats.by_platform, total, top),
        _top("Failures by language", ("language", "failures", "share"), stats.by_language, total, top),
        TableView(
            "Top knowledge gaps",
            ("knowledge gap", "cases"),
            [(text, str(n)) for text, n in gaps[:top]],
            "lr",
            more=max(0, len(gaps) - top),
        ),
        TableView(
            "Integrity",
            ("check", "records"),
            [(name.replace("_", " "), str(len(found))) for name, found in stats.integrity.items()],
            "lr",
        ),
    ]


def crosstab_table(table: CrossTab, *, top: int | None = None) -> TableView:
    """The rows of a cross-tabulation (with a total column), or of a one-dimensional count.

    With ``top``, only the ``top`` largest rows are shown (in their usual order).
    """
    title = "Failures by " + " and ".join(d.value for d in table.dims)
    shown = table.rows
    if top is not None and len(shown) > top:
        place = {row: i for i, row in enumerate(shown)}
        largest = set(sorted(shown, key=lambda r: (-table.row_totals[r], place[r]))[:top])
        shown = [row for row in shown if row in largest]
    more = len(table.rows) - len(shown)
    if not table.cols:
        rows = [(r, str(table.row_totals[r]), _share(table.row_totals[r], table.total)) for r in shown]
        return TableView(title, (table.dims[0].value, "failures", "share"), rows, "lrr", more=more)
    cells = [(r, *(str(table.count(r, c)) for c in table.cols), str(table.row_totals[r])) for r in shown]
    headers = (f"{table.dims[0].value} \\ {table.dims[1].value}", *table.cols, "total")
    return TableView(title, headers, cells, "l" + "r" * (len(table.cols) + 1), more=more)


# -- the one call behind `kb stats` ---------------------------------------------------------


@dataclass(frozen=True)
class StatsReport:
    """What `kb stats` shows: plain data (for JSON), the tables, and the integrity findings."""

    data: dict[str, Any]
    tables: list[TableView]
    lines: list[str] = field(default_factory=list)
    """One `path: what is wrong` line per integrity finding (with ``details``)."""


def stats_report(
    root: Path | str,
    *,
    by: Sequence[str] = (),
    filters: Filters | None = None,
    top: int = 10,
    details: bool = False,
    max_cols: int | None = None,
) -> StatsReport:
    """Load the knowledge base at ``root`` and count it: the overview (``by`` empty), or the
    failures by one dimension or two (a cross-table at most ``max_cols`` columns wide)."""
    if len(by) > 2:
        raise UsageError(f"failures are counted by one or two dimensions (rows, then columns), not {len(by)}")
    root = Path(root)
    with RecordCache.open(root) as record_cache:
        scan = scan_files(root, record_cache, slim=True)  # slim records hold all stats reads (``slim_record``)
        errors = [p for p in scan.problems if p.severity is Severity.error]
        if errors:
            raise InvalidKbError(errors)
        asked = json.dumps([list(by), asdict(filters or Filters()), top, details, max_cols], default=_plain)
        key = hashlib.blake2b(f"{scan.content_key()}\0{asked}".encode(), digest_size=16).hexdigest()
        stored = record_cache.result("stats")
        if isinstance(stored, dict) and stored.get("key") == key:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                return _report_from(stored["report"])
        report = _stats_report(scan.load(), by, filters, top, details, max_cols)
        record_cache.put_results({"stats": {"key": key, "report": asdict(report)}})
    return report


def _report_from(data: dict[str, Any]) -> StatsReport:
    """A ``StatsReport`` as ``asdict`` gave it (from kb's cache: the counts of unchanged records)."""
    tables = [
        TableView(**{**t, "headers": tuple(t["headers"]), "rows": [tuple(row) for row in t["rows"]]})
        for t in data["tables"]
    ]
    return StatsReport(data["data"], tables, list(data["lines"]))


def _stats_report(
    kb: KnowledgeBase, by: Sequence[str], filters: Filters | None, top: int, details: bool, max_cols: int | None
) -> StatsReport:
    if by:
        table = crosstab(kb, by[0], by[1] if len(by) > 1 else None, filters=filters, max_cols=max_cols)
        return StatsReport(table.as_dict(), [crosstab_table(table, top=top)])
    stats = compute_stats(kb, filters=filters, top_gaps=top)
    lines = stats.integrity.lines() if details else []
    return StatsReport(stats.as_dict(details=details), stats_tables(stats, top=top), lines)


def _plain(value: Any) -> Any:
    """JSON for the values of filters: dates as ISO text, sets as sorted lists."""
    return value.isoformat() if isinstance(value, datetime.date) else sorted(value)
