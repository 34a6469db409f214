"""Categories inferred for failures without one: by import and `kb categorise`, never over a stated one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kb.check import check_kb
from kb.cli import app
from kb.importer import import_documents
from kb.importer.taxonomy import DEFAULT_CATEGORIES
from kb.models import Failure, Taxonomy
from kb.recurring.categorise import categorise_failures, categorise_kb, infer_category, rules_for
from kb.store import load_kb
from tests.recurring_kb import KMS_LOGS, TAGS, UNUSED, with_id, write_case

runner = CliRunner()
BUILT_IN = rules_for(
    [
        "service-limits", "iam-permissions", "encryption", "networking", "naming", "invalid-api", "dependencies",
        "code-quality", "testing", "configuration", "destroyability", "monitoring", "cost", "security",
    ]
)  # fmt: skip


@pytest.mark.parametrize(
    ("title", "root_cause", "expected"),
    [
        (
            "Lambda role lacks sqs:SendMessage for the DLQ",
            "The execution role has no permission to send.",
            "iam-permissions",
        ),
        ("KMS key policy misses the CloudWatch Logs principal", "The key's own policy.", "encryption"),
        ("Bucket keeps RemovalPolicy.RETAIN", "The stack cannot be destroyed cleanly.", "destroyability"),
        (
            "Second AWS Config recorder in the region",
            "Only one configuration recorder per region is allowed.",
            "service-limits",
        ),
        ("Deprecated pointInTimeRecovery property", "The construct no longer accepts it.", "invalid-api"),
        (
            "Missing stack outputs for integration tests",
            "The prompt asked for the ALB DNS name as an output.",
            "configuration",
        ),
        ("Security group open to 0.0.0.0/0 on port 22", "SSH is reachable from the internet.", "security"),
        ("Bucket name is not globally unique", "No environment suffix in the name.", "naming"),
        ("Unused imports fail ESLint", "no-unused-vars.", "code-quality"),
        ("No integration tests", "Coverage below the required 90%.", "testing"),
        ("No CloudWatch alarms for Lambda errors", "Nothing alerts on failures.", "monitoring"),
    ],
)
def test_cues_follow_the_boundary_rules(title: str, root_cause: str, expected: str) -> None:
    found = infer_category({"title": title, "root_cause": root_cause}, BUILT_IN)
    assert found is not None and found.category == expected
    assert 0 < found.confidence <= 1


def test_no_cue_falls_back_to_configuration_with_low_confidence() -> None:
    found = infer_category({"title": "Zzz"}, BUILT_IN)
    assert found is not None and (found.category, found.confidence) == ("configuration", 0.2)


def test_a_custom_taxonomy_category_is_found_by_its_words() -> None:
    taxonomy = Taxonomy.model_validate(
        {"categories": [{"id": "quantum-flux", "title": "Quantum flux capacitors", "description": "x"}]}
    )
    found = infer_category({"title": "Flux capacitor overheats"}, rules_for(taxonomy))
    assert found is not None and found.category == "quantum-flux"


def test_import_hook_never_overwrites_a_stated_category() -> None:
    stated = Failure.model_validate({**TAGS, "category": "cost"})
    guessed = Failure.model_validate(UNUSED)
    success = Failure.model_validate(with_id(UNUSED, "done-right", kind="success"))
    out = categorise_failures([stated, guessed, success], DEFAULT_CATEGORIES)
    assert out[0] == stated
    assert out[1].category == "code-quality" and set(out[1].inferred) == {"category"}
    assert out[2].category is None and out[2].inferred == {}


def test_kb_categorise_fills_only_missing_categories(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    write_case(
        kb, "alpha", [with_id(KMS_LOGS, "stated", category="naming"), KMS_LOGS, with_id(TAGS, "draft", status="draft")]
    )
    hand = kb / "alpha" / "02-kms-key-policy-misses-logs-principal.yaml"
    hand.write_text(hand.read_text() + "# a reviewer's note, kept\n")
    dry = categorise_kb(kb, dry_run=True)
    assert dry.changed == [hand] and (kb / "alpha" / "01-stated.yaml").read_text().count("category") == 1
    assert "inferred" not in hand.read_text()
    result = categorise_kb(kb)
    assert (result.changed, result.already, result.by_category) == ([hand], 1, {"encryption": 1})
    assert hand.read_text().endswith(
        "# a reviewer's note, kept\ncategory: encryption\ninferred:\n  category: "
        + str(yaml.safe_load(hand.read_text())["inferred"]["category"])
        + "\n"
    )
    records = {f.failure.id: f.failure for f in load_kb(kb).cases[0].failures}
    assert records["stated"].category == "naming" and records["stated"].inferred == {}
    assert records["kms-key-policy-misses-logs-principal"].category == "encryption"
    assert records["draft"].category is None
    assert categorise_kb(kb).changed == []  # nothing left to do


def test_strict_check_requires_categories(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    write_case(kb, "alpha", [KMS_LOGS])
    assert check_kb(kb).ok
    strict = check_kb(kb, strict=True)
    assert [str(p) for p in strict.errors] == [
        f"{kb / 'alpha' / '01-kms-key-policy-misses-logs-principal.yaml'}:3:1: no category: set one, or run `kb categorise`"
    ]
    result = runner.invoke(app, ["categorise", "--kb", str(kb)])
    assert result.exit_code == 0 and result.stdout.startswith("categorised 1 failure(s): encryption 1")
    assert check_kb(kb, strict=True).ok


DOCUMENT = """# Model Failures

## Critical Failures

### 1. Lambda execution role cannot write to its dead-letter queue

**Impact Level**: Critical

**Root Cause**: The role has no sqs:SendMessage permission on the queue.

### 2. Buckets kept with RemovalPolicy.RETAIN

**Impact Level**: Medium

**Category**: Naming

**Root Cause**: The stack cannot be destroyed cleanly.
"""


def test_import_categorises_what_the_document_does_not(tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "task-one" / "MODEL_FAILURES.md"
    doc.parent.mkdir(parents=True)
    doc.write_text(DOCUMENT)
    kb = tmp_path / "kb"
    result = import_documents([doc.parent], kb)
    assert result.ok, [str(p) for p in result.errors]
    failures = [f.failure for f in load_kb(kb).cases[0].failures]
    assert [(f.category, "category" in f.inferred) for f in failures] == [("iam-permissions", True), ("naming", False)]
