"""`kb patterns`: recurring failures grouped across cases.

Each failure is linked to its nearest failures of other cases (not near-copies) that
score at least ``LINK_SCORE``. Then, most-linked failure first, each failure not yet in
a pattern gathers its linked failures not yet in one, most alike first, admitting each
whose mean similarity to the members admitted so far is at least ``COHESION``: every
member is directly like the failure it was gathered by and like the group as a whole,
so neither chains of "A is like B is like C" nor a leader that shares only its service
with each member join unrelated mistakes. Groups that two leaders gathered of one mistake are then merged
when their members are, on average, alike across the two (``MERGE``). A group spanning
at least ``min_cases`` cases (near-copies count once) is a pattern. Same knowledge base,
same patterns in the same order.

On the judged corpus pairs (benchmarks/similar_quality.py), of the judged pairs that
patterns put together, 75% are the same mistake on the held-out half (64% on the dev
half), against 53% (63%) with neither rule; as many judged twins end up together (31%
of the held-out ones).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from kb.errors import UsageError
from kb.recurring.index import Index, load_index
from kb.recurring.similar import neighbours

if TYPE_CHECKING:
    from kb.stats import TableView

LINK_SCORE = 0.42
"""The similarity at which two failures of different cases are taken for the same mistake."""
COHESION = 0.4
"""The mean similarity to a pattern's members a failure needs to join it (see ``_gather``):
without it, "Missing VPC Flow Logs" also gathered a test-coverage failure, a list of
deployment failures and centralised logging, each like the leader only by naming flow logs."""
MERGE = 0.3
"""The mean similarity across two groups at which the smaller joins the larger (``_merge_alike``)."""
NEIGHBOURS = 30
"""Nearest failures considered for each failure."""
DOCUMENTED = ("model_code", "fix_code", "root_cause", "docs", "error")


@dataclass(frozen=True)
class Pattern:
    """One recurring mistake: its members and what they have in common."""

    name: str
    """The most representative member's title."""
    cases: int
    failures: int
    members: list[str]
    """`<case>/<failure>` ids, the most representative first."""
    example: str
    """The best-documented member (model code, fix, root cause, docs), the canonical example."""
    platforms: dict[str, int]
    services: dict[str, int]
    impacts: dict[str, int]
    categories: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cases": self.cases,
            "failures": self.failures,
            "example": self.example,
            "platforms": self.platforms,
            "services": self.services,
            "impacts": self.impacts,
            "categories": self.categories,
            "members": self.members,
        }


@dataclass(frozen=True)
class Patterns:
    """Every pattern, largest first, and how much of the knowledge base they cover."""

    patterns: list[Pattern]
    failures: int
    """Failures in the knowledge base (kind `failure`)."""

    @property
    def covered(self) -> int:
        return sum(p.failures for p in self.patterns)

    def to_json(self) -> dict[str, Any]:
        return {
            "failures": self.failures,
            "in_patterns": self.covered,
            "patterns": [p.to_json() for p in self.patterns],
        }


def find_patterns(root: Path | str, *, min_cases: int = 2) -> Patterns:
    """The recurring failures of the knowledge base at ``root``, grouped into patterns."""
    if min_cases < 2:
        raise UsageError("the minimum number of cases must be at least 2 (a pattern recurs across cases)")
    return patterns_of(load_index(Path(root)), min_cases=min_cases)


def patterns_of(index: Index, *, min_cases: int = 2) -> Patterns:
    """Group an index's failures into patterns spanning at least ``min_cases`` cases."""
    links: dict[int, list[int]] = {}
    strength: dict[int, float] = {}
    for i, found in neighbours(index, NEIGHBOURS):
        kept = [j for j, score in found if score >= LINK_SCORE]
        links[i] = kept
        strength[i] = sum(score for _, score in found if score >= LINK_SCORE)
    for i, kept in list(links.items()):  # links are mutual: j may not have i among its best
        for j in kept:
            if i not in links[j]:
                links[j].append(i)
    assigned: set[int] = set()
    groups: list[list[int]] = []
    for i in sorted(links, key=lambda i: (-len(links[i]), -strength[i], index.rows[i].id)):
        if i in assigned or not links[i]:
            continue
        members = _gather(index, i, [j for j in links[i] if j not in assigned])
        if len({index.group(index.rows[m].case) for m in members}) < min_cases:
            continue
        assigned.update(members)
        groups.append(members)
    made = [_pattern(index, members) for members in _merge_alike(index, groups)]
    made.sort(key=lambda p: (-p.cases, -p.failures, p.name, p.members[0]))
    return Patterns(made, int(index.failure_mask.sum()))


def _merge_alike(index: Index, groups: list[list[int]]) -> list[list[int]]:
    """Groups merged into an earlier (larger) one whose members they are, on average, as
    alike to as ``COHESION`` (average linkage): one mistake gathered by two leaders, such as
    "Missing Environment Suffix Support" beside "Resource Naming with Environment Suffix",
    becomes one pattern."""
    if len(groups) < 2:
        return groups
    member_of = sp.csr_matrix(
        (
            np.ones(sum(map(len, groups)), dtype=np.float32),
            np.concatenate([np.asarray(g, dtype=np.int64) for g in groups]),
            np.cumsum([0, *map(len, groups)]),
        ),
        shape=(len(groups), index.vectors.shape[0]),
    )
    sums = member_of @ index.vectors
    sizes = np.array([len(g) for g in groups], dtype=np.float64)
    alike = (sums @ sums.T).toarray() / np.outer(sizes, sizes)
    into = list(range(len(groups)))
    for b in range(len(groups)):
        for a in range(b):
            if into[a] == a and alike[a, b] >= MERGE:
                into[b] = a
                break
    merged: dict[int, list[int]] = {}
    for b, a in enumerate(into):
        merged.setdefault(a, []).extend(groups[b])
    return [sorted(members, key=lambda m: (m != groups[a][0], m)) for a, members in merged.items()]


def _gather(index: Index, leader: int, linked: list[int]) -> list[int]:
    """The leader and those of its linked failures alike to the group gathered so far: most
    alike to the leader first, each admitted when its mean similarity to the members
    already admitted is at least ``COHESION``."""
    if not linked:
        return [leader]
    vectors = index.vectors
    alike = (vectors[linked] @ vectors[[leader, *linked]].T).toarray()
    order = sorted(range(len(linked)), key=lambda k: (-round(float(alike[k, 0]), 6), linked[k]))
    admitted: list[int] = []  # positions in `linked`
    for k in order:
        together = [alike[k, 0], *(alike[k, 1 + a] for a in admitted)]
        if sum(together) / len(together) >= COHESION:
            admitted.append(k)
    return [leader, *sorted(linked[k] for k in admitted)]


def _pattern(index: Index, members: list[int]) -> Pattern:
    vectors = index.vectors[members]
    centre = np.asarray(vectors.mean(axis=0)).ravel()
    closeness = vectors @ centre
    order = sorted(range(len(members)), key=lambda k: (-round(float(closeness[k]), 6), index.rows[members[k]].id))
    ranked = [members[k] for k in order]
    rows = [index.rows[m] for m in ranked]
    example = max(range(len(rows)), key=lambda k: (sum(name in rows[k].documented for name in DOCUMENTED), -k))
    platforms: Counter[str] = Counter()
    for case in {r.case for r in rows}:
        info = index.cases.get(case)
        platforms[(info.platform if info and info.platform else "none")] += 1
    services = Counter(s for r in rows for s in dict.fromkeys(r.services))
    return Pattern(
        name=rows[0].title,
        cases=len({index.group(r.case) for r in rows}),
        failures=len(rows),
        members=[r.id for r in rows],
        example=rows[example].id,
        platforms=_most_first(platforms),
        services=_most_first(services),
        impacts=_most_first(Counter(r.impact or "none" for r in rows)),
        categories=_most_first(Counter(r.category or "none" for r in rows)),
    )


def _most_first(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def patterns_table(found: Patterns, *, top: int = 10) -> TableView:
    """The top patterns as a table for `kb stats --patterns`."""
    from kb.stats import TableView

    rows = [
        (p.name, str(p.cases), str(p.failures), ", ".join(f"{k} {v}" for k, v in p.impacts.items()))
        for p in found.patterns[:top]
    ]
    share = f"{found.covered / found.failures:.0%}" if found.failures else "-"
    title = f"Recurring failures ({len(found.patterns)} patterns, {share} of failures)"
    return TableView(
        title, ("Pattern", "Cases", "Failures", "Impact"), rows, "lrrl", more=max(0, len(found.patterns) - top)
    )
