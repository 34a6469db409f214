"""Names that resolve to records: ids and aliases, one table for every command that takes a ref.

A case is named by its id or one of its ``aliases``; a failure by `<case>/<failure>`,
where the case part may be a case alias and the failure part a former id of the failure
(an alias `old-id`), or by a former place (an alias `other-case/old-id`). ``names_of``
builds the table; ``alias_problems`` is `kb check`'s rule that every alias is unique and
shadows no id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from kb.errors import Problem
from kb.store import KnowledgeBase
from kb.summary import CaseSummary, FailureSummary
from kb.yamlio import problem_at


@dataclass(frozen=True)
class Names:
    """Every name of the knowledge base's cases and failures, to their canonical ids."""

    cases: dict[str, str] = field(default_factory=dict)
    """A case id or alias -> the case id."""
    failures: dict[str, str] = field(default_factory=dict)
    """`<case>/<failure>` (ids, or a failure's alias) -> the canonical `<case-id>/<failure-id>`."""

    def resolve_case(self, name: str) -> str | None:
        """The id of the case called ``name`` (an id or an alias), or None."""
        return self.cases.get(name)

    def resolve(self, ref: str) -> str | None:
        """The canonical `<case>/<failure>` that ``ref`` names (ids or aliases on either side), or None."""
        found = self.failures.get(ref)
        if found is not None:
            return found
        case, _, failure = ref.partition("/")
        case_id = self.cases.get(case)
        if case_id is None or not failure:
            return None
        return self.failures.get(f"{case_id}/{failure}")


def failure_alias_ref(case_id: str, alias: str) -> str:
    """A failure's alias as a full ref: `old-id` is `<its case>/old-id`; `other/old-id` stays."""
    return alias if "/" in alias else f"{case_id}/{alias}"


def names_of(kb: KnowledgeBase) -> Names:
    """The name table of a loaded knowledge base (see ``names_from``)."""
    return names_from([CaseSummary.of(case) for case in kb.cases])


def names_from(cases: Sequence[CaseSummary]) -> Names:
    """The name table; where two records claim a name, the first (in case, then NN order) keeps it."""
    names = Names()
    for case in cases:
        names.cases.setdefault(case.id, case.id)
        for ref, _ in case.refs():
            names.failures.setdefault(ref, ref)
    for case in cases:
        for alias in case.aliases:
            names.cases.setdefault(alias, case.id)
        for ref, failure in case.refs():
            for alias in failure.aliases:
                names.failures.setdefault(failure_alias_ref(case.id, alias), ref)
    return names


def alias_problems(cases: Sequence[CaseSummary]) -> list[Problem]:
    """An alias that repeats or shadows an id, or that another record also claims (errors)."""
    problems: list[Problem] = []
    case_ids = {case.id: Place(case) for case in cases}
    failure_ids = {ref: Place(case, failure) for case in cases for ref, failure in case.refs()}
    claimed: dict[str, Place] = {}
    for case in cases:
        place = Place(case)
        for i, alias in enumerate(case.aliases):
            problems.extend(_claim(place, i, alias, alias, case.id, case_ids, claimed, what="case"))
    claimed = {}
    for case in cases:
        for own, failure in case.refs():
            place = Place(case, failure)
            for i, alias in enumerate(failure.aliases):
                ref = failure_alias_ref(case.id, alias)
                problems.extend(_claim(place, i, alias, ref, own, failure_ids, claimed, what="failure"))
    return problems


class Place(NamedTuple):
    """A record file, named by its case and failure (its path made only for a problem)."""

    case: CaseSummary
    failure: FailureSummary | None = None

    @property
    def path(self) -> Path:
        return self.case.case_file if self.failure is None else self.case.failure_path(self.failure)


def _claim(
    place: Place,
    index: int,
    alias: str,
    name: str,
    own: str,
    ids: dict[str, Place],
    claimed: dict[str, Place],
    *,
    what: str,
) -> list[Problem]:
    loc = ("aliases", index)
    if name == own:
        return [problem_at(place.path, loc, f"alias `{alias}` is the {what}'s own id")]
    if name in ids:
        return [
            problem_at(place.path, loc, f"alias `{alias}` shadows the id of the {what} `{name}` ({ids[name].path})")
        ]
    if name in claimed:
        where = "earlier in this file" if claimed[name].path == place.path else f"also an alias in {claimed[name].path}"
        return [problem_at(place.path, loc, f"duplicate alias `{alias}` ({where})")]
    claimed[name] = place
    return []
