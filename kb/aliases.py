"""Names that resolve to records: ids and aliases, one table for every command that takes a ref.

A case is named by its id or one of its ``aliases``; a failure by `<case>/<failure>`,
where the case part may be a case alias and the failure part a former id of the failure
(an alias `old-id`), or by a former place (an alias `other-case/old-id`). ``names_of``
builds the table; ``alias_problems`` is `kb check`'s rule that every alias is unique and
shadows no id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kb.errors import Problem
from kb.store import CASE_FILE, KnowledgeBase
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
    """The name table; where two records claim a name, the first (in case, then NN order) keeps it."""
    names = Names()
    for case in kb.cases:
        names.cases.setdefault(case.id, case.id)
        for loaded in case.failures:
            ref = f"{case.id}/{loaded.failure.id}"
            names.failures.setdefault(ref, ref)
    for case in kb.cases:
        for alias in case.case.aliases:
            names.cases.setdefault(alias, case.id)
        for loaded in case.failures:
            ref = f"{case.id}/{loaded.failure.id}"
            for alias in loaded.failure.aliases:
                names.failures.setdefault(failure_alias_ref(case.id, alias), ref)
    return names


def alias_problems(kb: KnowledgeBase) -> list[Problem]:
    """An alias that repeats or shadows an id, or that another record also claims (errors)."""
    problems: list[Problem] = []
    case_ids = {case.id: case.path / CASE_FILE for case in kb.cases}
    failure_ids = {f"{case.id}/{loaded.failure.id}": loaded.path for case in kb.cases for loaded in case.failures}
    claimed: dict[str, Path] = {}
    for case in kb.cases:
        path = case.path / CASE_FILE
        for i, alias in enumerate(case.case.aliases):
            problems.extend(_claim(path, i, alias, alias, case.id, case_ids, claimed, what="case"))
    claimed = {}
    for case in kb.cases:
        for loaded in case.failures:
            own = f"{case.id}/{loaded.failure.id}"
            for i, alias in enumerate(loaded.failure.aliases):
                ref = failure_alias_ref(case.id, alias)
                problems.extend(_claim(loaded.path, i, alias, ref, own, failure_ids, claimed, what="failure"))
    return problems


def _claim(
    path: Path,
    index: int,
    alias: str,
    name: str,
    own: str,
    ids: dict[str, Path],
    claimed: dict[str, Path],
    *,
    what: str,
) -> list[Problem]:
    loc = ("aliases", index)
    if name == own:
        return [problem_at(path, loc, f"alias `{alias}` is the {what}'s own id")]
    if name in ids:
        return [problem_at(path, loc, f"alias `{alias}` shadows the id of the {what} `{name}` ({ids[name]})")]
    if name in claimed:
        where = "earlier in this file" if claimed[name] == path else f"also an alias in {claimed[name]}"
        return [problem_at(path, loc, f"duplicate alias `{alias}` ({where})")]
    claimed[name] = path
    return []
