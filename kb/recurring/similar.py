"""`kb similar`: the failures most like a given failure, or like a free-text description.

Scores are cosines of field-weighted TF-IDF vectors (see ``features``): title, root
cause and error count most, boilerplate label words not at all, services and the code's
resource types and property names as terms of their own. Only `kind: failure` entries
are candidates. For a failure, those of its own case and of the cases that are
near-copies of it (``copies``) are left out of the ranking; the best matches among the
near-copies are reported apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kb.errors import KbError, UsageError
from kb.recurring.features import surface_forms, text_terms
from kb.recurring.index import Index, load_index
from kb.recurring.vectors import Vector, text_vector

SHARED_TERMS = 6
"""Shared terms listed per match."""
MIN_SCORE = 0.27
"""Matches scoring below this are not listed, so a failure with no twin gets fewer results,
not noise. Chosen on the dev half of the judged corpus pairs (benchmarks/similar_quality.py)
as the lowest score keeping unrelated results under 3% of the top 5: at 0.2, 8% were."""
COLLAPSE_POOL = 4
"""Candidates ranked per result wanted, so results left out as near-copies can be replaced."""
CHUNK = 512
"""Query rows scored at once when ranking the whole knowledge base."""


class UnknownFailureError(KbError):
    """A `<case>/<failure>` reference that names no failure of the knowledge base."""

    def __init__(self, ref: str, root: Path) -> None:
        super().__init__(f"no failure `{ref}` in {root} (give it as <case>/<failure>)")


@dataclass(frozen=True)
class Match:
    """One failure found like the query."""

    id: str
    score: float
    case: str
    title: str
    impact: str | None
    platform: str | None
    shared: list[str]
    """The terms that contributed most to the score, most first."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": round(self.score, 4),
            "case": self.case,
            "title": self.title,
            "impact": self.impact,
            "platform": self.platform,
            "shared": self.shared,
        }


@dataclass
class Similar:
    """What `kb similar` found: the ranking, and the matches in near-copies of the query's case."""

    query: str
    results: list[Match]
    near_copies: list[Match] = field(default_factory=list)
    left_out: int = 0
    """Failures of the query's own case left out of the ranking."""

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "results": [m.to_json() for m in self.results],
            "near_copies": [m.to_json() for m in self.near_copies],
        }


def find_similar(
    root: Path | str, ref: str | None = None, *, text: str | None = None, n: int = 10, min_score: float = MIN_SCORE
) -> Similar:
    """The ``n`` failures most like the failure ``ref`` (`<case>/<failure>`) or like ``text``,
    scoring at least ``min_score``."""
    if (ref is None) == (text is None):
        raise UsageError("give a failure as <case>/<failure> or a text to look for, not both")
    if n < 1:
        raise UsageError("-n must be at least 1")
    root = Path(root)
    index = load_index(root)
    if ref is not None:
        return _like_failure(index, root, ref, n, min_score)
    assert text is not None
    query = _text_vector(index, text)
    scores = index.weighted.scores(query)
    scores[~index.failure_mask] = -1.0
    scores[scores < min_score] = -1.0
    picked = _collapse(index, _top(scores, n * COLLAPSE_POOL), n)
    return Similar(text, [_match(index, j, scores[j], query, text) for j in picked])


def _by_alias(root: Path, ref: str) -> str | None:
    """The canonical `<case>/<failure>` of a ref naming a case or failure by an alias (read only then)."""
    from kb.aliases import names_of
    from kb.store import scan_kb

    return names_of(scan_kb(root, slim=True)).resolve(ref)


def _like_failure(index: Index, root: Path, ref: str, n: int, min_score: float) -> Similar:
    position = index.positions.get(ref)
    if position is None and ref.count("/") == 1:
        position = index.positions.get(_by_alias(root, ref) or "")
    if position is None:
        raise UnknownFailureError(ref, root)
    query = index.weighted.row(position)
    scores = index.weighted.scores(query)
    scores[~index.failure_mask] = -1.0
    scores[position] = -1.0
    own = index.case_numbers == index.case_numbers[position]
    copies = (index.groups == index.groups[position]) & ~own
    copy_scores = np.where(copies, scores, -1.0)
    left_out = int(np.count_nonzero(own & index.failure_mask)) - int(index.failure_mask[position])
    scores[own | copies | (scores < min_score)] = -1.0
    about = index.columns["title"][position]
    picked = _collapse(index, _top(scores, n * COLLAPSE_POOL), n)
    results = [_match(index, j, scores[j], query, about) for j in picked]
    near = [_match(index, j, copy_scores[j], query, about) for j in _top(copy_scores, n)]
    return Similar(ref, results, near, left_out)


def _collapse(index: Index, ranked: list[int], n: int) -> list[int]:
    """The first ``n`` of ``ranked``, leaving out failures of near-copies of a case already listed."""
    if not ranked:
        return []
    at = np.asarray(ranked, dtype=np.int64)
    groups, cases = index.groups[at], index.case_numbers[at]
    _, first = np.unique(groups, return_index=True)
    first_case = dict(zip(groups[first].tolist(), cases[first].tolist(), strict=True))
    keep = cases == np.fromiter((first_case[g] for g in groups.tolist()), dtype=np.int64, count=len(at))
    kept: list[int] = at[keep][:n].tolist()
    return kept


def _top(scores: NDArray[np.float64], n: int) -> list[int]:
    """The best ``n`` positions with a positive score, ties (to 6 decimals) broken by position."""
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > n:
        part = np.argpartition(-scores[candidates], n - 1)[:n]
        threshold = scores[candidates[part]].min()
        candidates = candidates[scores[candidates] >= threshold]
    rounded = np.round(scores[candidates].astype(np.float64), 6)
    order = np.lexsort((candidates, -rounded))
    best: list[int] = candidates[order[:n]].tolist()
    return best


def _text_vector(index: Index, text: str) -> Vector:
    return text_vector(text_terms(text), index.vocabulary, index.idf)


def _match(index: Index, j: int, score: float, query: Vector, about: str = "") -> Match:
    columns = index.columns  # only the fields a match shows are parsed
    case = index.cases.get(columns["case"][j])
    return Match(
        columns["id"][j],
        float(score),
        columns["case"][j],
        columns["title"][j],
        columns["impact"][j],
        case.platform if case else None,
        shared_terms(index, query, j, about=about),
    )


def shared_terms(index: Index, query: Vector, j: int, limit: int = SHARED_TERMS, about: str = "") -> list[str]:
    """The terms of row ``j`` that the query shares, by their share of the score, as words
    of the two titles (or of ``about``, the query's text) where they come from one."""
    row = index.weighted.row(j)
    columns, at_query, at_row = np.intersect1d(query.columns, row.columns, assume_unique=True, return_indices=True)
    products = query.values[at_query] * row.values[at_row]
    ranked = sorted(zip(products.tolist(), columns.tolist(), strict=True), key=lambda x: (-x[0], x[1]))
    forms = surface_forms(f"{about}\n{index.columns['title'][j]}")
    shown: list[str] = []
    for _, col in ranked:
        term = display_term(index.terms[col], forms)
        if term not in shown:
            shown.append(term)
        if len(shown) == limit:
            break
    return shown


def display_term(term: str, forms: dict[str, str] | None = None) -> str:
    """A term as a reader knows it: `svc:lambda` -> `lambda`, `key_policy` -> `key policy`,
    `updat` -> `update` (when ``forms`` knows the word)."""
    forms = forms or {}
    if ":" in term:
        return term.split(":", 1)[1]
    return " ".join(forms.get(part, part) for part in term.split("_"))


def neighbours(index: Index, n: int) -> Iterator[tuple[int, list[tuple[int, float]]]]:
    """For every failure row, its ``n`` best matches in other cases that are not near-copies, best first."""
    vectors = index.vectors
    failures = np.flatnonzero(index.failure_mask)
    candidates = vectors[failures]
    groups = index.groups[failures]
    position = {int(j): k for k, j in enumerate(failures)}
    for start in range(0, len(failures), CHUNK):
        block = failures[start : start + CHUNK]
        scores = (vectors[block] @ candidates.T).toarray()
        for k, i in enumerate(block):
            row = scores[k]
            row[groups == index.groups[i]] = -1.0
            picked = _collapse(index, failures[_top(row, n * COLLAPSE_POOL)].tolist(), n)
            yield int(i), [(j, float(scores[k, position[j]])) for j in picked]


def similar_for_kb(root: Path | str, n: int = 5) -> dict[str, list[str]]:
    """Every failure's ``n`` most similar failures of other cases, by id (for the site's links)."""
    index = load_index(Path(root))
    return {index.rows[i].id: [index.rows[j].id for j, _ in found] for i, found in neighbours(index, n)}


SEEN_SCORE = 0.42
"""The score at which an existing failure counts as the same mistake seen before (as in patterns)."""


@dataclass(frozen=True)
class SeenBefore:
    """Failures of other cases like a new one: how many cases, and the best few."""

    cases: int
    examples: list[Match]


def seen_before(root: Path | str, text: str, *, case: str, n: int = 3) -> SeenBefore:
    """What `kb add failure` tells an author: other cases with a failure like ``text``."""
    index = load_index(Path(root))
    if not index.rows:
        return SeenBefore(0, [])
    query = _text_vector(index, text)
    scores = index.weighted.scores(query)
    own = np.array([c == case for c in index.columns["case"]], dtype=bool)
    scores[~index.failure_mask | own] = -1.0
    alike = np.flatnonzero(scores >= SEEN_SCORE)
    cases = len({index.group(index.columns["case"][j]) for j in alike})
    picked = _collapse(index, [j for j in _top(scores, n * COLLAPSE_POOL) if scores[j] >= SEEN_SCORE], n)
    return SeenBefore(cases, [_match(index, j, scores[j], query, text) for j in picked])
