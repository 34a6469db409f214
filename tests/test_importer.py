"""`kb import`: documents in each style -> records; nothing lost, nothing overwritten."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb.check import check_kb
from kb.errors import ExistsError
from kb.importer import import_documents, plan_import
from kb.importer.assemble import Assembled
from kb.importer.decode import decode_document
from kb.importer.discover import case_id_for
from kb.importer.words import kept_ratio, record_words
from kb.importer.write import write_case
from kb.models import Impact, Kind
from kb.store import load_kb
from tests.helpers import assemble

FIXTURES = Path(__file__).parent / "fixtures" / "import"
TAXONOMY = Path(__file__).resolve().parent.parent / "failures" / "taxonomy.yaml"


def assemble_fixture(name: str) -> tuple[str, Assembled]:
    text = decode_document((FIXTURES / name).read_bytes()).text
    return text, assemble(text)


def test_seed_style_document_maps_every_block_to_its_field() -> None:
    _, result = assemble_fixture("seed_style.md")
    case, failures = result.case, result.failures
    assert case.title == "Model Response Failures Analysis"
    assert case.intro == "The model's bucket stack failed to deploy twice before the fixes below."
    assert [f.id for f in failures] == ["bucket-policy-grants-public-read", "lifecycle-rule-without-expiration"]
    first, second = failures
    assert first.impact is Impact.critical and first.impact_label is None and first.group is None
    assert first.model_response is not None and first.model_response.language == "typescript"
    assert first.model_response.text == "The policy allowed `s3:GetObject` for every principal:"
    assert first.model_response.code is not None and first.model_response.code.startswith("const policy")
    assert first.ideal_response is not None and "OriginAccessControl" in (first.ideal_response.code or "")
    assert [d.title for d in first.docs] == ["Restricting access to an S3 origin"]
    assert next((d.area, d.text) for d in first.impact_details) == ("Security", "Every object was readable by anyone")
    assert first.training_value is not None and first.training_value.level == "High"
    assert first.training_value.lessons == [
        "Prefer origin access control for private buckets",
        "Never grant `*` principals read access",
    ]
    assert second.impact is Impact.medium and second.impact_label == "Medium (cost only)"
    assert second.model_response is not None and second.model_response.code is None
    assert second.docs == [] and second.docs_note == "N/A - The prompt itself states the retention period."
    summary = case.summary
    assert summary is not None and summary.written_totals == "2 (1 Critical, 1 Medium)"
    assert summary.knowledge_gaps == ["Origin access control for private content", "Retention versus archival"]
    assert summary.training_value is not None and summary.training_value.lessons == [
        "Public bucket policies",
        "Incomplete lifecycle rules",
    ]
    assert summary.production_readiness is not None
    assert summary.production_readiness.items == ["✅ No public buckets", "✅ Objects expire after a year"]
    assert not result.warnings


def test_inline_labels_synonyms_and_severity_spellings() -> None:
    _, result = assemble_fixture("inline_labels.md")
    first, second, third = result.failures
    assert first.title == "Queue Visibility Timeout Too Short (HIGH)"
    assert first.impact is Impact.high and first.impact_label == "HIGH"
    assert first.layout.labels == {
        "title": "Issue 1:",
        "impact": "Severity",
        "description": "Problem",
        "model_response": "Original Code",
        "ideal_response": "Fixed Code",
        "root_cause": "Why This Fails",
    }
    assert first.model_response is not None and first.model_response.language == "python"
    assert second.impact is Impact.high  # `Medium-High`: a range takes its higher level
    assert second.error == "Message 4f2c was received 1,024 times"
    assert third.impact is None  # no level written anywhere: never guessed
    assert result.case.layout.inline_labels is True


def test_labelled_list_items_and_a_code_block_after_the_list() -> None:
    _, result = assemble_fixture("list_labels.md")
    first, second = result.failures
    assert first.title == "Rule Targets the Wrong Bus" and first.group == "Critical Issues"
    assert first.impact is Impact.critical and first.impact_label == "CRITICAL"
    assert first.location == "`pipeline/rules.py`"
    # the block shown at the failure's location is the model's code
    assert first.model_response is not None and first.model_response.code is not None
    assert first.model_response.code.startswith("rule = events.Rule(") and first.model_response.language == "python"
    assert second.impact is Impact.medium  # its own label wins over the group heading
    assert second.ideal_response is not None and second.ideal_response.text == "Set `timeout=Duration.minutes(2)`"
    assert [(s.title, s.after) for s in result.case.extra] == [("Recommended Fixes", "failures")]


def test_sub_headings_as_labels() -> None:
    _, result = assemble_fixture("subheading_labels.md")
    first, second = result.failures
    assert first.title == "Stack Name Collides Across Environments"
    assert first.description is not None and first.description.startswith("Every environment")
    assert first.ideal_response is not None and first.ideal_response.language == "ts"
    assert second.training_value is not None and "Destroyability" in second.training_value.text


def test_bold_numbered_lines_and_plain_labels() -> None:
    _, result = assemble_fixture("bold_headings.md")
    assert [f.title for f in result.failures] == [
        "Provider Block Uses Interpolated Region",
        "Output References Removed Module",
    ]
    second = result.failures[1]
    assert second.category == "configuration"
    assert [s.title for s in second.extra] == ["Category"]  # the wording is kept too


def test_success_reports_are_kept_but_not_failures() -> None:
    _, result = assemble_fixture("success.md")
    failure, success, listed = result.failures
    assert failure.impact is Impact.critical and failure.is_failure
    assert success.kind is Kind.success and success.impact is None and success.impact_label == "N/A (Success)"
    assert success.description == "The VPC uses three availability zones as required."
    assert not listed.is_failure and listed.group == "What Was Done Correctly"


@pytest.mark.parametrize("name", ["no_failures.md", "html_page.md"])
def test_document_without_failures_keeps_its_text_with_a_warning(name: str) -> None:
    text, result = assemble_fixture(name)
    assert result.failures == []
    assert [kind for kind, _ in result.warnings] == ["no-failures"]
    assert kept_ratio(text, record_words(result.case, [])) == 1.0


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.md")))
def test_no_word_is_lost(name: str) -> None:
    text, result = assemble_fixture(name)
    assert kept_ratio(text, record_words(result.case, result.failures, labelled=True)) >= 0.99


def test_import_tree_writes_cases_that_pass_check(tmp_path: Path) -> None:
    into = tmp_path / "kb"
    result = import_documents([*sorted(FIXTURES.glob("*.md")), FIXTURES], into)
    assert result.ok, result.errors
    assert result.cases == len(result.documents) == 10  # the folder adds its one MODEL_FAILURES.md
    names = sorted(p.name for p in into.iterdir())
    assert "task-lib" in names and case_id_for("seed_style") in names
    assert not [n for n in names if n.startswith(".")]  # no staging folder left behind
    assert check_kb(into).errors == []
    shutil.copy(TAXONOMY, into / "taxonomy.yaml")
    assert check_kb(into).errors == []


def test_task_folder_metadata_is_normalised_and_raw_kept(tmp_path: Path) -> None:
    into = tmp_path / "kb"
    result = import_documents([FIXTURES / "task-lib"], into)
    assert [kind for d in result.documents for kind, _ in d.warnings] == ["metadata"]  # trailing comma repaired
    loaded = load_kb(into).cases[0]
    case = loaded.case
    assert case.id == "task-lib"
    assert case.task is not None
    assert (case.task.platform, case.task.language) == ("cfn", "yaml")
    assert case.task.aws_services == ["S3", "Lambda", "IAM", "CloudWatch"]
    assert case.task.metadata["platform"] == "CloudFormation" and case.task.metadata["team"] == 4
    assert case.task.prompt is None  # kept as a file beside the records, read on demand
    assert loaded.documents == ("PROMPT.md",)
    prompt = loaded.document("PROMPT.md")
    assert prompt is not None and prompt.startswith("Create a CloudFormation")
    assert case.source is not None and case.source.path == str(FIXTURES / "task-lib" / "lib" / "MODEL_FAILURES.md")
    assert len(case.source.sha256) == 64


def test_existing_case_is_never_replaced_without_force(tmp_path: Path) -> None:
    into = tmp_path / "kb"
    document = FIXTURES / "seed_style.md"
    assert import_documents([document], into).ok
    marker = into / case_id_for("seed_style") / "case.yaml"
    marker.write_text("hand edited\n")
    again = import_documents([document, FIXTURES / "success.md"], into)
    assert not again.ok and again.cases == 1  # the other document is still imported
    assert "already exists" in str(again.errors[0]) and "--force" not in str(again.errors[0])
    assert [d.exists for d in again.documents] == [True, False]
    assert marker.read_text() == "hand edited\n"
    forced = import_documents([document], into, force=True)
    assert forced.ok and marker.read_text().startswith("# yaml-language-server")
    assert not [p for p in into.iterdir() if p.name.startswith(".")]


def test_write_case_refuses_existing_folder(tmp_path: Path) -> None:
    _, result = assemble_fixture("success.md")
    write_case(tmp_path, result.case, result.failures)
    with pytest.raises(ExistsError):
        write_case(tmp_path, result.case, result.failures)


def test_case_ids_from_names_and_collisions(tmp_path: Path) -> None:
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        shutil.copy(FIXTURES / "success.md", tmp_path / folder / "Analysis Report.md")
    plan = plan_import([tmp_path / "one" / "Analysis Report.md", tmp_path / "two" / "Analysis Report.md"])
    first, second = (job.case_id for job in plan.jobs)
    assert first.startswith("analysis-report-") and second.startswith(first + "-")  # name hash, then content hash
    (tmp_path / "cdk-py-Pr1243").mkdir()
    shutil.copy(FIXTURES / "success.md", tmp_path / "cdk-py-Pr1243" / "MODEL_FAILURES.md")
    assert [job.case_id for job in plan_import([tmp_path / "cdk-py-Pr1243"]).jobs] == ["cdk-py-pr1243"]


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    result = import_documents([tmp_path / "nope"], tmp_path / "kb")
    assert not result.ok and "no such file or folder" in str(result.errors[0])


def test_parallel_import_is_deterministic(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    for index in range(12):
        folder = corpus / f"task-{index:02d}"
        folder.mkdir(parents=True)
        source = sorted(FIXTURES.glob("*.md"))[index % 9]
        shutil.copy(source, folder / "MODEL_FAILURES.md")
    one = import_documents([corpus], tmp_path / "one", workers=1)
    two = import_documents([corpus], tmp_path / "two", workers=2)
    assert one.ok and two.ok
    assert [d.case_id for d in one.documents] == [d.case_id for d in two.documents]

    def tree(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.yaml"))}

    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    # the last three copy the first three: near-copies, rewritten with `duplicate_of` (by the pool with two workers)
    assert any("duplicate_of:" in text for text in tree(tmp_path / "two").values())


def test_list_items_and_worded_markers_as_units() -> None:
    _, result = assemble_fixture("numbered_items.md")
    assert [f.title for f in result.failures] == [
        "Security group allows all egress",
        "No alarm on queue depth",
        "Log group keeps logs forever",
        "Bucket name is hard-coded",
    ]
    first, _, third, fourth = result.failures
    assert first.description == "Egress is open to `0.0.0.0/0` on every port."
    assert first.ideal_response is not None and first.ideal_response.text.startswith("Limit egress")
    assert third.ideal_response is not None and third.ideal_response.text == "Set retention to 30 days."
    assert fourth.layout.labels["title"] == "Issue:"
    assert [d.text for d in fourth.impact_details] == ["Deployment fails with `BucketAlreadyExists`."]
