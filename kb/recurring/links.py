"""`kb check` rules for recurring failures: `related` links resolve (aliases count), one case does not
list the same published failure twice, and (with `--strict`) every published failure has a category."""

from __future__ import annotations

import re

from kb.aliases import Names, names_of
from kb.errors import Problem, Severity
from kb.models import Status
from kb.store import KnowledgeBase, LoadedCase, LoadedFailure
from kb.yamlio import problem_at

TWIN_TITLE = 0.8
"""Word overlap (Jaccard) of two titles of one case at which they are near-identical."""
_WORD = re.compile(r"[a-z0-9]+")
_NUMBERING = re.compile(r"^\s*(?:\d+|[a-z])[.):]\s+|\(\s*(?:critical|high|medium|low)\s*\)", re.IGNORECASE)


def check_recurring(kb: KnowledgeBase, *, strict: bool = False) -> list[Problem]:
    """Dangling or self `related` links (errors), near-identical failures of one case
    (warnings) and, when ``strict``, published failures without a category (errors)."""
    known = names_of(kb)
    return [problem for case in kb.cases for problem in case_recurring(case, known, strict=strict)]


def case_recurring(case: LoadedCase, known: Names, *, strict: bool = False) -> list[Problem]:
    """``check_recurring`` for one case; ``known``: the names of every record of the knowledge base."""
    problems: list[Problem] = []
    for loaded in case.failures:
        problems.extend(_links(case.id, loaded, known))
        failure = loaded.failure
        if strict and failure.is_failure and failure.category is None and failure.status is Status.published:
            problems.append(problem_at(loaded.path, ("title",), "no category: set one, or run `kb categorise`"))
    problems.extend(_twins(case.failures))
    return problems


def _links(case_id: str, loaded: LoadedFailure, known: Names) -> list[Problem]:
    problems = []
    own = f"{case_id}/{loaded.failure.id}"
    for i, ref in enumerate(loaded.failure.related_refs):
        target = known.resolve(ref)
        if target == own:
            problems.append(problem_at(loaded.path, ("related", i), f"`related` links the failure to itself (`{ref}`)"))
        elif target is None:
            problems.append(
                problem_at(loaded.path, ("related", i), f"`related` names no failure of the knowledge base: `{ref}`")
            )
    return problems


def title_words(title: str) -> frozenset[str]:
    """A title's words, its numbering and a severity in parentheses left out."""
    return frozenset(_WORD.findall(_NUMBERING.sub(" ", title).lower()))


def _twins(failures: list[LoadedFailure]) -> list[Problem]:
    """Failures of one case whose titles are (nearly) the same: the same failure listed twice?"""
    seen: list[tuple[frozenset[str], LoadedFailure]] = []
    problems = []
    for loaded in failures:
        if not loaded.failure.is_failure or loaded.failure.status is Status.draft:
            continue
        words = title_words(loaded.failure.title)
        for other_words, other in seen:
            union = words | other_words
            if len(union) >= 2 and len(words & other_words) / len(union) >= TWIN_TITLE:
                message = (
                    f"near-identical to {other.path.name} (title `{other.failure.title}`): the same failure twice?"
                )
                problems.append(problem_at(loaded.path, ("title",), message, Severity.warning))
                break
        seen.append((words, loaded))
    return problems
