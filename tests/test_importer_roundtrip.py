"""record -> `kb render` -> `kb import` -> the same record (skipped until the renderer exists)."""

from __future__ import annotations

import os
import statistics
import string
import sys
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.importer import assemble_case
from kb.importer.taxonomy import DEFAULT_CATEGORIES
from kb.models import (
    Case,
    CaseLayout,
    DocLink,
    Failure,
    FailureField,
    FailureLayout,
    IdealResponse,
    Impact,
    ImpactDetail,
    Response,
    TrainingValue,
)
from kb.store import LoadedCase, LoadedFailure, load_kb, record_data, slugify

report = pytest.importorskip("kb.render.report")
env_module = pytest.importorskip("kb.render.env")
ROOT = Path(__file__).resolve().parent.parent

WORD = st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=8)
SENTENCE = st.lists(WORD, min_size=2, max_size=8).map(lambda words: " ".join(words).capitalize() + ".")
TITLE = st.lists(WORD, min_size=1, max_size=6).map(lambda words: " ".join(w.capitalize() for w in words))
CODE_LINE = st.text(alphabet=string.ascii_letters + string.digits + " =(){};`'\".", max_size=30).map(str.strip)
CODE = st.lists(CODE_LINE, min_size=1, max_size=5).map("\n".join).filter(lambda code: code.strip() != "")


@st.composite
def responses(draw: st.DrawFn, model: type[Response]) -> Response:
    code = draw(st.none() | CODE)
    return model(
        text=draw(SENTENCE), code=code, language=draw(st.sampled_from(["ts", "python", "hcl"])) if code else None
    )


@st.composite
def failures(draw: st.DrawFn) -> Failure:
    title = draw(TITLE)
    docs = draw(
        st.lists(
            st.builds(DocLink, title=TITLE, url=WORD.map(lambda w: f"https://docs.aws.amazon.com/{w}")), max_size=3
        )
    )
    details = draw(st.lists(st.builds(ImpactDetail, area=WORD.map(str.capitalize), text=SENTENCE), max_size=3))
    training = draw(
        st.none()
        | st.builds(
            TrainingValue,
            level=st.sampled_from(["High", "Medium"]),
            text=SENTENCE,
            lessons=st.lists(SENTENCE, max_size=3),
        )
    )
    return Failure(
        id=slugify(title) or "failure",
        title=title,
        impact=draw(st.sampled_from(list(Impact))),
        description=draw(st.none() | SENTENCE),
        model_response=draw(st.none() | responses(Response)),
        ideal_response=draw(st.none() | responses(IdealResponse)),
        root_cause=draw(st.none() | SENTENCE),
        docs=docs,
        impact_details=details,
        training_value=training,
    )


def render(case: Case, records: list[Failure], tmp: Path) -> str:
    folder = tmp / "kb" / case.id
    loaded = LoadedCase(
        folder, case, [LoadedFailure(folder / f"{n:02d}-{f.id}.yaml", n, f) for n, f in enumerate(records, 1)]
    )
    text: str = report.render_case(loaded, env_module.make_env(), project_root=tmp)
    return text


def reimport(text: str) -> tuple[Case, list[Failure]]:
    result = assemble_case(
        text, case_id="case", fallback_title="x", source=None, task=None, categories=DEFAULT_CATEGORIES
    )
    return result.case, result.failures


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(TITLE, st.none() | SENTENCE, st.lists(failures(), min_size=1, max_size=4, unique_by=lambda f: f.id))
def test_render_then_import_gives_the_records_back(
    tmp_path: Path, title: str, intro: str | None, drawn: list[Failure]
) -> None:
    records = sorted(drawn, key=lambda f: f.impact.rank if f.impact else 9)
    case = Case(id="case", title=title, intro=intro or "")
    got_case, got = reimport(render(case, records, tmp_path))
    assert (got_case.title, got_case.intro) == (case.title, case.intro)
    assert [record_data(f) for f in got] == [record_data(f) for f in records]


LIFECYCLE = ("schema_version", "published", "modified")
"""The seed's lifecycle fields: kept in the records, never printed in a report."""


def test_bundled_seed_case_round_trips(tmp_path: Path) -> None:
    loaded = load_kb(ROOT / "failures", cases=["pr7060"]).cases[0]
    text = report.render_case(loaded, env_module.make_env())
    case, got = reimport(text)
    expected = record_data(loaded.case)
    for key in ("task", *LIFECYCLE):  # not in the report
        expected.pop(key, None)
    actual = record_data(case)
    actual["summary"].pop("written_totals")
    assert actual == {**expected, "id": "case"}
    for original, imported in zip(loaded.failures, got, strict=True):
        left, right = record_data(original.failure), record_data(imported)
        for key in ("id", "category", "services", *LIFECYCLE):  # not in the report
            left.pop(key, None)
            right.pop(key, None)
        assert left == right


# -- presentation hints: an imported document's layout survives render -> import ------------

FIELD_NAMES: list[str] = list(get_args(FailureField))


@st.composite
def hinted_case(draw: st.DrawFn) -> tuple[Case, list[Failure]]:
    """A case with the hints `kb import` sets, canonical (as the importer would derive them)."""
    ungrouped = draw(st.booleans())  # failures listed under no group heading at all
    records: list[Failure] = []
    for base in draw(st.lists(failures(), min_size=1, max_size=4, unique_by=lambda f: f.id)):
        data = base.model_dump(exclude_defaults=True)
        data["description"] = data.get("description") or "The problem."
        data["root_cause"] = data.get("root_cause") or "Because."  # labelled prose: shows the label style
        labels: dict[str, str] = {}
        if not ungrouped and draw(st.booleans()):
            data["group"] = "Security Issues"  # a group heading of the source's own wording
        elif not ungrouped and draw(st.booleans()):
            labels["impact"] = ""  # implied by its group heading
        if draw(st.booleans()):
            labels["description"] = ""  # written without a label, right under the heading (or level)
        if draw(st.booleans()):
            labels["root_cause"] = "Why It Failed"
        if ungrouped:
            data["group"] = ""
        present = [name for name in FIELD_NAMES if data.get(name)]
        order = draw(st.permutations(present)) if draw(st.booleans()) else present
        if labels.get("description") == "":  # an unlabelled text must open the failure (after its level)
            order = [n for n in order if n in ("impact", "description")] + [
                n for n in order if n not in ("impact", "description")
            ]
        if labels.get("impact") == "":  # not printed: it has no place in the order
            order = [n for n in order if n != "impact"]
        records.append(Failure(**data, layout=FailureLayout(labels=labels, field_order=_canonical_order(order))))
    if draw(st.booleans()):
        records = sorted(records, key=lambda f: f.impact.rank if f.impact else 9)
    ranks = [f.impact.rank if f.impact else 9 for f in records]
    headings = [f.group if f.group is not None else f.impact.label if f.impact else "" for f in records]
    restarts = any(a != b for a, b in zip(headings[1:], headings[:-1], strict=True))
    case = Case(
        id="case",
        title=draw(TITLE),
        layout=CaseLayout(
            inline_labels=draw(st.booleans()),
            order="source" if ranks != sorted(ranks) else None,
            numbering="group" if restarts and draw(st.booleans()) else None,
            rules=draw(st.sampled_from([None, "none"])) if len(records) > 1 else None,
            heading_level=draw(st.sampled_from([None, 2, 4])) if ungrouped else draw(st.sampled_from([None, 4])),
            bold_titles=draw(st.booleans()),
            colon_inside=draw(st.booleans()),
            list_labels=draw(st.booleans()),
        ),
    )
    return case, records


def _canonical_order(order: list[str]) -> list[str] | None:
    ranks = [FIELD_NAMES.index(name) for name in order]
    return None if ranks == sorted(ranks) else list(order)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(hinted_case())
def test_presentation_hints_survive_render_then_import(tmp_path: Path, drawn: tuple[Case, list[Failure]]) -> None:
    case, records = drawn
    got_case, got = reimport(render(case, records, tmp_path))
    assert record_data(got_case) == record_data(case)
    assert [record_data(f) for f in got] == [record_data(f) for f in records]


# -- real-world layouts: import then render gives the document back, line for line ----------

INLINE_UNGROUPED = """# Model Failures

The model missed two things.

## 1. Queue Visibility Timeout Too Short

**Severity**: HIGH

The consumer runs longer than the queue's timeout.

**MODEL_RESPONSE Issue**:
Set to 30 seconds:

```python
queue = sqs.Queue(self, "Jobs", visibility_timeout=Duration.seconds(30))
```

**IDEAL_RESPONSE Fix**:
```python
queue = sqs.Queue(self, "Jobs", visibility_timeout=Duration.seconds(720))
```

**Root Cause**: Messages reappear while still being processed.

**Training Value**: High - Match the queue timeout to the consumer.

## 2. Missing Dead Letter Queue

**Severity**: Medium

**Root Cause**: Poison messages are retried forever.

**AWS Documentation Reference**: [Dead-letter queues](https://docs.aws.amazon.com/sqs/dlq.html)

## Summary

Two failures, both fixed.
"""

GROUPED_RESTARTING = """# Analysis

## Critical Issues

### 1. **Stack Name Collides**

- **Issue:** Every environment deploys `app-stack`.
- **Fix:** Suffix the name with the environment.

---

### 2. **Retained Tables**

- **Issue:** Tables survive `cdk destroy`.
- **Fix:** Use `RemovalPolicy.DESTROY` in test stages.

---

## Low Issues

### 1. **Verbose Logging**

- **Issue:** Debug logs in production.
- **Fix:** Read the level from context.

---

## What Was Done Correctly

### 1. **Encryption**

KMS everywhere.

#### Verified In

All buckets use `aws:kms`.
"""

SOURCE_ORDER = """# Failures

## High Failures

### 1. Timeout Too Short

**Impact Level**: High

**Root Cause**:
The consumer is slower than the timeout.

**Issue**:
Jobs run twice.

---

## Notes From Review

Reviewed by two people.

## Critical Failures

### 2. Public Bucket

**Impact Level**: Critical

**IDEAL_RESPONSE Fix**:
Block public access.

---
"""


@pytest.mark.parametrize("document", [INLINE_UNGROUPED, GROUPED_RESTARTING, SOURCE_ORDER])
def test_imported_layouts_render_back_unchanged(tmp_path: Path, document: str) -> None:
    case, records = reimport(document)
    assert render(case, records, tmp_path) == document


def test_imported_layout_hints(tmp_path: Path) -> None:
    case, records = reimport(INLINE_UNGROUPED)
    assert (case.layout.inline_labels, case.layout.heading_level, case.layout.rules) == (
        ["docs", "root_cause", "training_value"],
        2,
        "none",
    )
    assert [f.group for f in records] == ["", ""] and records[0].layout.labels["description"] == ""
    grouped, found = reimport(GROUPED_RESTARTING)
    assert (
        grouped.layout.numbering,
        grouped.layout.bold_titles,
        grouped.layout.colon_inside,
        grouped.layout.list_labels,
    ) == (
        "group",
        True,
        True,
        True,
    )
    assert not found[3].is_failure and found[3].extra[0].layout.heading == 4
    ordered, _ = reimport(SOURCE_ORDER)
    assert ordered.layout.order == "source" and ordered.extra[0].after.startswith("failure:")


@pytest.mark.skipif(not os.environ.get("KB_CORPUS"), reason="KB_CORPUS is not set")
def test_corpus_documents_in_the_seed_format_render_back(tmp_path: Path) -> None:
    """The acceptance figures: median line similarity >= 0.95, 10th percentile >= 0.85."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from import_corpus import is_seed_format, line_similarity, percentile

    from kb.importer import plan_import
    from kb.importer.decode import decode_document

    scores = []
    for job in plan_import([Path(os.environ["KB_CORPUS"])]).jobs:
        text = decode_document(job.document.read_bytes()).text
        if is_seed_format(text):
            case, records = reimport(text)
            scores.append(line_similarity(text, render(case, records, tmp_path)))
    if not scores:
        pytest.skip("no seed-format documents in this corpus")
    assert statistics.median(scores) >= 0.95
    assert percentile(scores, 0.10) >= 0.85
