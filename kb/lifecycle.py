"""A record's life: its dates, withdrawal and successor, and the `kb check` rules about them.

Dates are fields of the records (``published``, ``modified``), so every output built from
them (the site's feed, `kb stats --since`) is a function of the files alone. `kb add`
writes both; `kb import` takes ``published`` from the task's ``startedAt``; `kb check
--fix-dates` (:mod:`kb.dates`) sets ``modified`` from git. A record without ``modified``
was last changed when it was published; a failure without dates has its case's.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from pathlib import Path

from kb.aliases import Names, alias_problems
from kb.errors import Problem
from kb.models import SCHEMA_VERSION, Case, Failure
from kb.store import CASE_FILE, KnowledgeBase, LoadedCase, LoadedFailure
from kb.summary import CaseSummary, FailureSummary
from kb.yamlio import problem_at


def today() -> datetime.date:
    """Today's date in UTC, or the day of ``$SOURCE_DATE_EPOCH`` when set (reproducible runs)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.datetime.fromtimestamp(int(epoch), datetime.UTC).date()
    return datetime.datetime.now(datetime.UTC).date()


def last_changed(record: Case | Failure) -> datetime.date | None:
    """When a record's content last changed: ``modified``, else ``published``."""
    return record.modified or record.published


def case_changed(case: LoadedCase) -> datetime.date | None:
    """When a case last changed: the latest date of its `case.yaml` and its failures."""
    dates = [d for d in (last_changed(case.case), *(last_changed(f.failure) for f in case.failures)) if d]
    return max(dates, default=None)


def case_published(case: LoadedCase) -> datetime.date | None:
    """When a case was published: its own ``published``, else its earliest failure's."""
    if case.case.published:
        return case.case.published
    return min((f.failure.published for f in case.failures if f.failure.published), default=None)


def failure_changed(case: LoadedCase, loaded: LoadedFailure) -> datetime.date | None:
    """When a failure last changed: its own dates, else its case's."""
    return last_changed(loaded.failure) or last_changed(case.case)


def is_withdrawn(case: LoadedCase, loaded: LoadedFailure | None = None) -> bool:
    """Whether the case, or the failure of it, is withdrawn (a withdrawn case withdraws its failures)."""
    return case.case.withdrawn is not None or (loaded is not None and loaded.failure.withdrawn is not None)


def live(kb: KnowledgeBase) -> KnowledgeBase:
    """The knowledge base without its withdrawn cases (their failures go with them)."""
    cases = [case for case in kb.cases if case.case.withdrawn is None]
    return KnowledgeBase(kb.root, kb.taxonomy, cases, kb.problems)


# -- kb check ------------------------------------------------------------------------------


def outdated(case: LoadedCase) -> int:
    """How many of the case's records are in an older format than ``SCHEMA_VERSION`` (kb reads them; `kb upgrade` rewrites them)."""
    versions = [case.case.version, *(loaded.failure.version for loaded in case.failures)]
    return sum(1 for version in versions if version < SCHEMA_VERSION)


def check_lifecycle(cases: Sequence[CaseSummary], names: Names) -> list[Problem]:
    """Aliases unique, links resolving, withdrawn records linked only with a note (``names``: ``names_from(cases)``)."""
    withdrawn = {ref for case in cases for ref, failure in case.refs() if case.withdrawn or failure.withdrawn}
    problems = alias_problems(cases)
    for case in cases:
        problems.extend(_case_successor(case, names))
        for ref, failure in case.refs():
            problems.extend(_failure_links(case, ref, failure, names, withdrawn))
    return problems


def case_dates(case: LoadedCase) -> list[Problem]:
    """Dates in order in the case's records (a rule of one case: dates are read of no other)."""
    problems = _dates(case.path / CASE_FILE, case.case)
    for loaded in case.failures:
        problems.extend(_dates(loaded.path, loaded.failure))
    return problems


def _dates(path: Path, record: Case | Failure) -> list[Problem]:
    problems = []
    if record.published and record.modified and record.modified < record.published:
        message = f"`modified` {record.modified} is before `published` {record.published}"
        problems.append(problem_at(path, ("modified",), message))
    if record.withdrawn and record.published and record.withdrawn.date < record.published:
        message = f"`withdrawn.date` {record.withdrawn.date} is before `published` {record.published}"
        problems.append(problem_at(path, ("withdrawn", "date"), message))
    return problems


def _case_successor(case: CaseSummary, names: Names) -> list[Problem]:
    successor = case.superseded_by
    if successor is None:
        return []
    target = names.resolve_case(successor)
    if target is None:
        return [problem_at(case.case_file, ("superseded_by",), f"`superseded_by` names no case: `{successor}`")]
    if target == case.id:
        return [problem_at(case.case_file, ("superseded_by",), "`superseded_by` names the case itself")]
    return []


def _failure_links(
    case: CaseSummary, own: str, failure: FailureSummary, names: Names, withdrawn: set[str]
) -> list[Problem]:
    problems: list[Problem] = []
    if failure.superseded_by is None and not failure.related:
        return problems
    path = case.failure_path(failure)
    if failure.superseded_by is not None:
        target = names.resolve(failure.superseded_by)
        if target is None:
            message = f"`superseded_by` names no failure of the knowledge base: `{failure.superseded_by}`"
            problems.append(problem_at(path, ("superseded_by",), message))
        elif target == own:
            problems.append(problem_at(path, ("superseded_by",), "`superseded_by` names the failure itself"))
    seen: dict[str, str] = {}
    for i, (ref, bare) in enumerate(failure.related):
        target = names.resolve(ref)
        if target is not None and target in seen:
            message = f"`related` links `{target}` twice (`{seen[target]}` and `{ref}`)"
            problems.append(problem_at(path, ("related", i), message))
        if target is not None:
            seen.setdefault(target, ref)
        if bare and target in withdrawn:
            message = f"`related` links the withdrawn failure `{ref}`: remove the link, or write it as {{ref, note}}"
            problems.append(problem_at(path, ("related", i), message))
    return problems
