"""The browse pages' data: failures grouped by impact, category, AWS service and platform.

Grouping uses ``kb.stats``' own normalisers and counts the same failures (entries
whose ``kind`` is not ``failure`` are left out), so a browse page always agrees with
``kb stats`` and the home page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kb.models import Impact
from kb.names import NONE, normalise_platform, normalise_service
from kb.stats import UNCATEGORISED, Stats
from kb.store import KnowledgeBase, LoadedCase, LoadedFailure

__all__ = [
    "PLATFORM_NAMES",
    "Entry",
    "Group",
    "by_category",
    "by_impact",
    "by_platform",
    "by_service",
    "entries",
    "slug",
]

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
PLATFORM_NAMES = {
    "cdk": "AWS CDK",
    "cdktf": "CDK for Terraform",
    "cfn": "CloudFormation",
    "tf": "Terraform",
    "pulumi": "Pulumi",
    "analysis": "Analysis",
    "cicd": "CI/CD",
}
"""Display names of the normalised platform keys; other keys show as written."""


@dataclass(frozen=True)
class Entry:
    """One failure in a listing, with the case it belongs to."""

    case: LoadedCase
    loaded: LoadedFailure

    @property
    def link(self) -> str:
        """The failure's place on its case page, relative to the site's root (a Markdown source path)."""
        return f"cases/{self.case.id}.md#{self.loaded.failure.id}"


@dataclass
class Group:
    """One heading of a browse page: its key, anchor, title, description and failures."""

    key: str
    """The value grouped on: an impact level, a category id, a service or platform name, or `none`."""
    anchor: str
    title: str
    count: int
    description: str = ""
    kind: str = ""
    """A CSS modifier for badges and bars (the impact level), empty otherwise."""
    entries: list[Entry] = field(default_factory=list)


def slug(text: str) -> str:
    """An anchor for a name: lowercase letters, digits and hyphens (`API Gateway` -> `api-gateway`)."""
    return _NOT_SLUG.sub("-", text.lower()).strip("-") or "x"


def entries(kb: KnowledgeBase) -> list[Entry]:
    """Every counted failure of the KB, in case then file order."""
    return [Entry(case, loaded) for case in kb.cases for loaded in case.failures if loaded.failure.is_failure]


def _unique_anchors(groups: Iterable[Group]) -> list[Group]:
    seen: set[str] = set()
    out = []
    for group in groups:
        anchor, n = group.anchor, 2
        while anchor in seen:
            anchor, n = f"{group.anchor}-{n}", n + 1
        group.anchor = anchor
        seen.add(anchor)
        out.append(group)
    return out


def _fill(groups: dict[str, Group], items: list[Entry], keys: Callable[[Entry], Iterable[str]]) -> list[Group]:
    for entry in items:
        for key in keys(entry):
            if key not in groups:  # not counted by kb.stats: show it rather than lose it
                groups[key] = Group(key, slug(key), key, 0)
            groups[key].entries.append(entry)
    return _unique_anchors(g for g in groups.values() if g.count or g.entries)


def by_impact(stats: Stats, items: list[Entry]) -> list[Group]:
    """Most severe first; failures without a level last."""
    groups = {
        level.value: Group(level.value, level.value, level.label, stats.by_impact[level.value], kind=level.value)
        for level in Impact
    }
    groups[NONE] = Group(NONE, "no-level", "No level given", stats.by_impact[NONE], kind=NONE)
    return _fill(groups, items, lambda e: [e.loaded.failure.impact.value if e.loaded.failure.impact else NONE])


def by_category(kb: KnowledgeBase, stats: Stats, items: list[Entry]) -> list[Group]:
    """In the taxonomy's order, with its descriptions; unknown categories, then the uncategorised, last."""
    described = {c.id: c.description for c in kb.taxonomy.categories} if kb.taxonomy else {}
    groups = {
        key: Group(key, slug(key) if key != NONE else "uncategorised", count.title, count.count, described.get(key, ""))
        for key, count in stats.by_category.items()
    }
    groups.setdefault(NONE, Group(NONE, "uncategorised", UNCATEGORISED, 0))
    return _fill(groups, items, lambda e: [e.loaded.failure.category or NONE])


def by_service(stats: Stats, items: list[Entry]) -> list[Group]:
    """Most failures first; failures naming no service last."""
    groups = {name: Group(name, slug(name), name, count) for name, count in stats.by_service.items() if name != NONE}
    groups[NONE] = Group(NONE, "no-service", "No service named", stats.by_service.get(NONE, 0))

    def keys(entry: Entry) -> list[str]:
        names = dict.fromkeys(normalise_service(s) for s in entry.loaded.failure.services if s.strip())
        return list(names) or [NONE]

    return _fill(groups, items, keys)


def by_platform(stats: Stats, items: list[Entry]) -> list[Group]:
    """Most failures first; cases without a platform last."""
    groups = {
        name: Group(name, slug(name), PLATFORM_NAMES.get(name, name), count)
        for name, count in stats.by_platform.items()
        if name != NONE
    }
    groups[NONE] = Group(NONE, "no-platform", "No platform given", stats.by_platform.get(NONE, 0))

    def keys(entry: Entry) -> list[str]:
        task = entry.case.case.task
        return [normalise_platform(task.platform if task else None)]

    return _fill(groups, items, keys)
