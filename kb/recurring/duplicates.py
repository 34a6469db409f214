"""Near-copies found while importing: a document that is another version of one being
imported or already in the knowledge base gets `duplicate_of` and a warning.

The import's workers sign each document as it is assembled (``sign_case``); the main
process then groups the signatures (``copies.copy_groups``), adding those of the cases
already in the knowledge base (from the similarity index) only when there are any. In a
group, the case already in the knowledge base, else the first by id, is the original.
``mark_duplicates`` decides and warns; the import writes `duplicate_of` (with anything
else it settles across documents) in one rewrite of each case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kb.recurring import copies
from kb.recurring.features import field_texts, words_of
from kb.store import case_dirs


class Imported(Protocol):
    """What the import reports of one document (``kb.importer.driver.DocumentResult``)."""

    case_id: str
    signature: list[int] | None
    warnings: list[tuple[str, str]]

    @property
    def imported(self) -> bool: ...


def sign_case(failures: Iterable[Mapping[str, Any]]) -> list[int]:
    """The MinHash signature of a case's text, from its failures as plain data (``store.record_data``;
    for ``mark_duplicates``)."""
    words = []
    for data in failures:
        prose, code, _ = field_texts(data)
        words.append(words_of(prose, code))
    signed: list[int] = copies.union(copies.signatures(words)).tolist()  # the failures signed in one batch
    return signed


def mark_duplicates(into: Path, results: Sequence[Imported]) -> dict[str, str]:
    """Each imported case that is a near-copy of another, mapped to its original (`duplicate_of`), with a warning."""
    fresh = {r.case_id: r for r in results if r.imported and r.signature is not None}
    originals: dict[str, str] = {}
    if not fresh:
        return originals
    ids = sorted(fresh)
    sigs = [np.asarray(fresh[c].signature, dtype=np.uint32) for c in ids]
    existing = {p.name for p in case_dirs(into)} - set(ids) if into.is_dir() else set()
    if existing:
        from kb.recurring.index import load_index

        index = load_index(into)
        by_case: dict[str, list[int]] = {}
        for i, row in enumerate(index.rows):
            if row.case in existing:
                by_case.setdefault(row.case, []).append(i)
        for case_id in sorted(by_case):
            ids.append(case_id)
            sigs.append(copies.union(index.signatures[by_case[case_id]]))
    if len(ids) < 2:
        return originals
    stack = np.stack(sigs)
    groups: dict[str, list[str]] = {}
    for case_id, first in copies.copy_groups(ids, stack).items():
        groups.setdefault(first, [first]).append(case_id)
    position = {c: i for i, c in enumerate(ids)}
    for members in groups.values():
        old = sorted(m for m in members if m in existing)
        original = old[0] if old else min(members)
        for case_id in sorted(members):
            if case_id == original or case_id not in fresh:
                continue
            shared = copies.agreement(stack[position[case_id]], stack[position[original]])
            originals[case_id] = original
            fresh[case_id].warnings.append(
                (
                    "duplicate",
                    f"near-copy of case `{original}` (about {shared:.0%} of its text); recorded as `duplicate_of`",
                )
            )
    return originals
