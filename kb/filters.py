"""Which failures a command looks at: one filter type for `kb stats`, `kb export` and the site.

Values of one filter are alternatives; filters combine with AND. Names are compared as
:mod:`kb.names` spells them (`--service lambda` selects a failure listing "AWS Lambda",
`--platform "AWS CDK"` the cases on `cdk`); ``none`` selects a missing value.
"""

from __future__ import annotations

import datetime
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kb.errors import UsageError
from kb.models import Case, Failure, Impact
from kb.names import NONE, normalise_platform, normalise_service, normalise_services
from kb.store import KnowledgeBase


@dataclass(frozen=True)
class Filters:
    """The filter values as given (by options or a caller); see the module docstring."""

    impact: Sequence[str] = ()
    category: Sequence[str] = ()
    service: Sequence[str] = ()
    platform: Sequence[str] = ()
    since: datetime.date | None = None
    """Only failures changed on or after this day (``kb.lifecycle.failure_changed``)."""

    @property
    def on_failures(self) -> bool:
        """True when a filter looks at the failure itself, not only at its case."""
        return bool(self.impact or self.category or self.service or self.since)

    def describe(self) -> list[str]:
        """One `name: values` line per filter in use (for a dataset card)."""
        named = [
            ("impact", self.impact),
            ("category", self.category),
            ("service", self.service),
            ("platform", self.platform),
        ]
        lines = [f"{name}: {', '.join(sorted(set(values)))}" for name, values in named if values]
        return lines + ([f"changed since: {self.since.isoformat()}"] if self.since else [])


def failure_services(failure: Failure) -> tuple[str, ...]:
    """The failure's services as counted and filtered: normalised, or (`none`,) when it names none."""
    return tuple(normalise_services(failure.services)) or (NONE,)


def case_platform(case: Case) -> str:
    """The case's platform as counted and filtered (`none` when the task gives none)."""
    return normalise_platform(case.task.platform if case.task else None)


@dataclass(frozen=True)
class Selection:
    """Filters checked against a knowledge base and normalised, ready to test failures."""

    impact: frozenset[str]
    category: frozenset[str]
    service: frozenset[str]
    platform: frozenset[str]
    on_failures: bool
    since: datetime.date | None = None

    def accepts_change(self, changed: datetime.date | None) -> bool:
        """True when a failure last changed on ``changed`` passes ``since`` (an undated one does not)."""
        return self.since is None or (changed is not None and changed >= self.since)

    def accepts_platform(self, platform: str) -> bool:
        return not self.platform or platform in self.platform

    def matches(self, *, impact: str, category: str, services: Iterable[str], platform: str) -> bool:
        """True when values already normalised (missing ones as `none`) pass every filter."""
        return (
            (not self.impact or impact in self.impact)
            and (not self.category or category in self.category)
            and (not self.service or not self.service.isdisjoint(services))
            and self.accepts_platform(platform)
        )

    def accepts(self, case: Case, failure: Failure) -> bool:
        """True when the failure (of ``case``) passes every filter."""
        return self.matches(
            impact=failure.impact.value if failure.impact else NONE,
            category=failure.category or NONE,
            services=failure_services(failure),
            platform=case_platform(case),
        )


def select(kb: KnowledgeBase, filters: Filters | None) -> Selection:
    """Check ``filters`` against ``kb`` (unknown impact or category: ``UsageError``) and normalise them."""
    filters = filters or Filters()
    impacts = {value.strip().lower() for value in filters.impact}
    _refuse_unknown("impact", impacts, [level.value for level in Impact] + [NONE])
    categories = {value.strip().lower() for value in filters.category}
    known = [c.id for c in kb.taxonomy.categories] if kb.taxonomy else []
    used = {f.failure.category for c in kb.cases for f in c.failures if f.failure.category}
    _refuse_unknown("category", categories, [*known, *sorted(used - set(known)), NONE])
    return Selection(
        impact=frozenset(impacts),
        category=frozenset(categories),
        service=frozenset(NONE if v.strip().lower() == NONE else normalise_service(v) for v in filters.service),
        platform=frozenset(normalise_platform(v) for v in filters.platform),
        on_failures=filters.on_failures,
        since=filters.since,
    )


def _refuse_unknown(what: str, values: Iterable[str], choices: list[str]) -> None:
    for value in sorted(values):
        if value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"choose from {', '.join(choices)}"
            raise UsageError(f"unknown {what} `{value}` in the filter; {hint}")
