"""`kb import` understands documents: what is a failure, in every style, with its code and level.

Each fixture is one style or one kind of non-failure section (text written for these
tests). The corpus test scores an import of `$KB_CORPUS` against the hand labels beside it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from kb.importer import assemble_case, import_documents
from kb.importer.assemble import Assembled
from kb.importer.decode import decode_document
from kb.importer.taxonomy import DEFAULT_CATEGORIES
from kb.models import Failure, Impact, Kind

STYLES = Path(__file__).parent / "fixtures" / "import" / "styles"


def assemble(name: str) -> Assembled:
    text = decode_document((STYLES / name).read_bytes()).text
    return assemble_case(
        text, case_id="case", fallback_title="fallback", source=None, task=None, categories=DEFAULT_CATEGORIES
    )


def counted(result: Assembled) -> list[Failure]:
    return [f for f in result.failures if f.is_failure]


def code(failure: Failure) -> tuple[str | None, str | None]:
    model = failure.model_response.code if failure.model_response else None
    fix = failure.ideal_response.code if failure.ideal_response else None
    return model, fix


def test_entries_of_non_failure_sections_keep_their_kind() -> None:
    result = assemble("sections.md")
    kinds = {f.title: f.kind for f in result.failures}
    assert kinds == {
        "Dead-letter queue cannot receive messages": Kind.failure,
        "Single region only": Kind.limitation,
        "Queue names are not hard-coded": Kind.success,
        "Message size over 256 KB": Kind.potential,
        "No load test": Kind.testing_gap,
        "Synth passes": Kind.checklist,
    }
    # the recommendation has no failure labels: it stays a section of the case, verbatim
    assert any(s.title == "Recommendations" and "redrive alarm" in s.text for s in result.case.extra)


@pytest.mark.parametrize(
    ("name", "kind", "says"),
    [("success.md", Kind.observation, "a success report"), ("generic.md", Kind.potential, "generic or possible")],
)
def test_documents_without_a_failure_of_this_model_import_none(name: str, kind: Kind, says: str) -> None:
    result = assemble(name)
    assert result.failures and not counted(result)
    assert {f.kind for f in result.failures} <= {kind, Kind.success}
    assert any(code == "no-failures" and says in message for code, message in result.warnings)


def test_a_plain_numbered_list_is_the_failures_when_nothing_finer_exists() -> None:
    titles = [f.title for f in counted(assemble("plain_list.md"))]
    assert titles == [
        "The VPC has no route to the internet gateway",
        "The NAT gateway is placed in a private subnet",
        "The flow log role cannot write to CloudWatch Logs",
    ]


def test_headings_over_prose_are_failures() -> None:
    failures = counted(assemble("prose_headings.md"))
    assert [f.title for f in failures] == ["Bucket name is hard-coded", "Log group is kept after destroy"]
    assert failures[0].description is not None and "BucketAlreadyExists" in failures[0].description


def test_bold_titled_items_under_a_group_heading_are_the_units() -> None:
    failures = counted(assemble("bold_items.md"))
    assert [f.title for f in failures] == [
        "One key for every service",
        "No key rotation",
        "Database in a public subnet",
        "Open SSH port",
    ]
    assert {f.impact for f in failures} == {Impact.critical}  # the section's level; "A leaked..." is no level
    assert [f.group for f in failures[:2]] == ["1. Encryption gaps"] * 2


def test_an_overview_list_repeating_the_detailed_sections_counts_once() -> None:
    titles = [f.title for f in counted(assemble("overview.md"))]
    assert titles == ["Missing stack outputs", "Wrong Lambda runtime", "No dead-letter queue", "No alarm on errors"]


def test_code_shown_in_prose_fills_the_model_and_fix_code() -> None:
    first, second, third, fourth = counted(assemble("code.md"))
    model, fix = code(first)  # one block, two marked halves
    assert model is not None and model.startswith("# Before") and "from_aws_managed_policy_name" in model
    assert fix is not None and fix.startswith("# After") and "PutLogEvents" in fix
    assert code(second) == ("reservedConcurrentExecutions: 1,", "reservedConcurrentExecutions: 50,")
    assert second.model_response is not None and second.model_response.language == "typescript"
    model, fix = code(third)  # ❌ / ✅ comments
    assert model is not None and "❌" in model and fix is not None and "PointInTimeRecoveryEnabled" in fix
    assert code(fourth) == (None, "DependsOn: GatewayAttachment")  # an inline statement in the fix's text
    assert fourth.ideal_response is not None and "`DependsOn: GatewayAttachment`" in fourth.ideal_response.text


def test_a_bare_name_in_backticks_is_not_code() -> None:
    failure = counted(assemble("sections.md"))[0]
    assert code(failure) == (None, None)  # `sqs:SendMessage` names an action


def test_levels_from_a_severity_table_and_a_bold_severity_line() -> None:
    levels = [f.impact for f in counted(assemble("severity_table.md"))]
    assert levels == [Impact.critical, Impact.medium, Impact.low]


def test_title_lines_of_a_plain_text_document_over_labelled_paragraphs_are_the_units() -> None:
    result = assemble("plain_text.md")
    failures = counted(result)
    assert [f.title for f in failures] == [
        "Dead-letter queue has no redrive policy",
        "Lambda role cannot read the queue",
    ]
    assert failures[1].ideal_response is not None and "sqs:ReceiveMessage" in failures[1].ideal_response.text
    assert failures[0].location == "the OrdersQueue resource sets no RedrivePolicy."
    assert "Review of the queue stack" in result.case.intro  # the lines before the units stay the case's


def test_a_numbered_checklist_among_the_failures_is_a_checklist() -> None:
    result = assemble("numbered_checklist.md")
    kinds = {f.title: f.kind for f in result.failures}
    assert kinds == {
        "Lambda has no dead-letter queue": Kind.failure,
        "Log group kept forever": Kind.failure,
        'Acceptance criteria (what "fixed" looks like)': Kind.checklist,
    }


def test_a_table_with_one_failure_per_row() -> None:
    result = assemble("rows.md")
    failures = counted(result)
    assert [f.title for f in failures] == ["Deliverable", "Secrets"]
    assert failures[1].description == "Passwords in plain config | Secrets Manager with rotation"


def _scorer() -> object:
    corpus = Path(os.environ.get("KB_CORPUS", ""))
    path = corpus.parent / "tools" / "score_import.py"
    if not os.environ.get("KB_CORPUS") or not path.is_file() or not (corpus.parent / "labels").is_dir():
        pytest.skip("KB_CORPUS, its labels and its scorer are not all present")
    spec = importlib.util.spec_from_file_location("score_import", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corpus_import_agrees_with_the_hand_labels(tmp_path: Path) -> None:
    """Floors a little under the figures reached (see CHANGELOG): a regression fails here."""
    scorer = _scorer()
    corpus = Path(os.environ["KB_CORPUS"])
    import_documents([corpus], tmp_path / "kb")
    figures = scorer.score(str(tmp_path / "kb"), str(corpus.parent / "labels"))  # type: ignore[attr-defined]
    right, total = map(int, figures["no_failure_docs_right"].split("/"))
    assert figures["precision"] >= 0.88 and figures["recall"] >= 0.89, figures
    assert figures["exact_count"] >= 0.64, figures
    assert right >= total * 7 / 8, figures
    assert figures["impact_agree"] >= 0.90, figures
    assert figures["model_code_found"] >= 0.84 and figures["fix_code_found"] >= 0.92, figures
