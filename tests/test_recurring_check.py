"""`kb check` on recurring failures: `related` links resolve; a case lists no failure twice; near-copies at import."""

from __future__ import annotations

from pathlib import Path

from kb.check import check_kb
from kb.importer import import_documents
from kb.store import load_kb
from tests.recurring_kb import KMS_LOGS, TAGS, with_id, write_case

DOCUMENT = """# Model Failures

### 1. Lambda execution role cannot write to its dead-letter queue

**Impact Level**: Critical

**Root Cause**: The role has no sqs:SendMessage permission on the queue, so failed events are lost
and the function retries until the event expires; every retry bills again.

### 2. Buckets kept with RemovalPolicy.RETAIN

**Impact Level**: Medium

**Root Cause**: The stack cannot be destroyed cleanly, and the next deployment fails because the
bucket name already exists in the account.
"""


def test_related_links_must_resolve(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    write_case(kb, "alpha", [with_id(KMS_LOGS, "one", related=["bravo/two", "bravo/nope", "alpha/one"])])
    write_case(kb, "bravo", [with_id(TAGS, "two")])
    path = kb / "alpha" / "01-one.yaml"
    lines = path.read_text().splitlines()
    nope = next(i for i, line in enumerate(lines, 1) if "bravo/nope" in line)
    assert [str(p) for p in check_kb(kb).errors] == [
        f"{path}:{nope}:3: `related` names no failure of the knowledge base: `bravo/nope`",
        f"{path}:{nope + 1}:3: `related` links the failure to itself (`alpha/one`)",
    ]


def test_a_bad_reference_is_a_schema_error(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    write_case(kb, "alpha", [TAGS])
    path = kb / "alpha" / "01-missing-cost-allocation-tags.yaml"
    path.write_text(path.read_text() + "related: [not a reference]\n")
    assert any("related" in str(p) and p.path == str(path) for p in check_kb(kb).errors)


def test_near_identical_failures_of_one_case_warn(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    write_case(kb, "alpha", [TAGS, with_id(TAGS, "again", title="2. Missing cost allocation tags on resources (HIGH)")])
    report = check_kb(kb)
    assert report.ok
    assert [p.message for p in report.warnings] == [
        "near-identical to 01-missing-cost-allocation-tags.yaml (title `Missing cost allocation tags on resources`): "
        "the same failure twice?"
    ]


def test_import_records_a_near_copy_and_warns(tmp_path: Path) -> None:
    for name, text in (("task-one", DOCUMENT), ("task-two", DOCUMENT.replace("expires", "times out"))):
        doc = tmp_path / "docs" / name / "MODEL_FAILURES.md"
        doc.parent.mkdir(parents=True)
        doc.write_text(text)
    kb = tmp_path / "kb"
    result = import_documents([tmp_path / "docs"], kb)
    warned = [str(p) for p in result.warnings if "near-copy" in str(p)]
    assert len(warned) == 1 and "task-two" in warned[0] and "near-copy of case `task-one`" in warned[0]
    cases = {c.id: c.case for c in load_kb(kb).cases}
    assert (cases["task-one"].duplicate_of, cases["task-two"].duplicate_of) == (None, "task-one")
    again = tmp_path / "docs2" / "task-three" / "MODEL_FAILURES.md"
    again.parent.mkdir(parents=True)
    again.write_text(DOCUMENT)
    import_documents([again.parent], kb)  # a copy of a case already in the KB
    assert load_kb(kb).case("task-three").case.duplicate_of == "task-one"  # type: ignore[union-attr]
