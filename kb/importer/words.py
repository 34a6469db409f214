"""Measure losslessness: how many of a document's words its records still hold.

A word is a run of letters and digits holding at least one letter, case-folded
(`MODEL_RESPONSE` is two words; `1.` and `|---|` are none). The record side is every
string value of the case (its task and source left out: they do not come from the
document) and of its failures. ``labelled=True`` also counts the words of the labels
and group headings a report prints for the fields that are set (`Root Cause` for
`root_cause`, `Critical Failures` for a critical failure's default group), since the
field stands for them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from kb.importer.labels import REPORT_LABELS
from kb.models import Case, Failure, Impact

_WORD = re.compile(r"[^\W_]+")

SUMMARY_LABELS = {
    "": "Summary Total failures",
    "knowledge_gaps": "Primary knowledge gaps",
    "training_value": "Training value",
    "deployment_impact": "Deployment Impact",
    "testing_impact": "Testing Impact",
    "production_readiness": "Production Readiness",
}


def words(text: str) -> Counter[str]:
    """The multiset of words of a text."""
    return Counter(w for w in _WORD.findall(text.casefold()) if not w.isdigit())


def strings(value: Any) -> Iterator[str]:
    """Every string inside a dumped record (values only, not keys)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def record_words(case: Case, failures: Iterable[Failure], *, labelled: bool = False) -> Counter[str]:
    """The words of a case's records (without its task and source)."""
    found: Counter[str] = Counter()
    for text in strings(case.model_dump(mode="json", exclude={"task", "source"}, exclude_none=True)):
        found.update(words(text))
    if labelled and case.summary is not None:
        for name, label in SUMMARY_LABELS.items():
            if not name or getattr(case.summary, name):
                found.update(words(label))
    for failure in failures:
        for text in strings(failure.model_dump(mode="json", exclude_none=True)):
            found.update(words(text))
        if labelled:
            found.update(_failure_labels(failure))
    return found


def _failure_labels(failure: Failure) -> Counter[str]:
    found: Counter[str] = Counter()
    for name, label in REPORT_LABELS.items():
        present = getattr(failure, name) or (name, True) in {
            ("docs", bool(failure.docs_note)),
            ("impact", bool(failure.impact_label)),
        }
        if present and name not in failure.layout.labels:
            found.update(words(label))
    if failure.group is None:
        found.update(words(f"{failure.impact.label} Failures" if isinstance(failure.impact, Impact) else "Other"))
    return found


def kept_ratio(source: str, records: Counter[str]) -> float:
    """The share of the source's words (with multiplicity) found in the records; 1.0 for no words."""
    wanted = words(source)
    total = sum(wanted.values())
    if not total:
        return 1.0
    return sum(min(count, records[word]) for word, count in wanted.items()) / total
