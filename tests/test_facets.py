"""Facets read off the records (services per failure, platform and language per case), and the built-in taxonomy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from generator.pages.titles import case_title, is_generic, plain_title
from kb.check import check_kb
from kb.cli import app
from kb.facets import (
    effective_services,
    facets_of,
    infer_case,
    infer_failure,
    infer_kb,
    services_in_code,
    services_in_prose,
)
from kb.importer import import_documents
from kb.models import Case, Failure, IdealResponse, Response, Task
from kb.store import dump_record, load_kb
from kb.taxonomy import builtin_taxonomy
from tests.helpers import write_case


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("const fn = new aws.lambda.Function('f', {});", ["Lambda"]),
        ("fn = aws.lambda_.Function('f', runtime='python3.12')", ["Lambda"]),
        ("Type: AWS::Lambda::Function\nRole: !GetAtt Role.Arn", ["Lambda"]),
        (
            'resource "aws_lambda_function" "f" {}\nresource "aws_cloudwatch_log_group" "g" {}',
            ["Lambda", "CloudWatch Logs"],
        ),
        ("new lambda.Function(this, 'F', {});", ["Lambda"]),
        ('fn, err := lambda.NewFunction(ctx, "f", nil)', ["Lambda"]),
        ('Action: ["s3:GetObject", "kms:Decrypt"]', ["S3", "KMS"]),
        ("const cfg = new pulumi.Config(); config.require('x'); events.emit()", []),  # everyday words
    ],
)
def test_services_in_code_read_resource_types_of_every_syntax(code: str, expected: list[str]) -> None:
    assert services_in_code(code) == expected


def test_services_in_prose_name_services_not_everyday_words() -> None:
    text = "The Lambda role lacked access to Amazon S3 and API Gateway; the config and backup settings were fine."
    assert services_in_prose(text) == ["Lambda", "S3", "API Gateway"]
    assert services_in_prose("Enable AWS Config rules.") == ["Config"]
    assert services_in_prose("```ts\nnew sqs.Queue(this)\n```\nNothing named here.") == []  # fences are code


def test_inferred_services_are_marked_and_never_replace_stated_ones() -> None:
    failure = Failure(
        id="f",
        title="Queue without a dead-letter queue",
        model_response=Response(text="It made an SQS queue.", code="new sqs.Queue(this, 'Q')"),
    )
    inferred = infer_failure(failure)
    assert inferred.services == ["SQS"] and inferred.inferred == {"services": 0.9}
    prose_only = infer_failure(Failure(id="g", title="DynamoDB table has no backups"))
    assert prose_only.services == ["DynamoDB"] and prose_only.inferred == {"services": 0.7}
    stated = failure.model_copy(update={"services": ["SNS"]})
    assert infer_failure(stated) is stated
    assert infer_failure(Failure(id="h", title="A vague problem")).services == []


def test_a_failure_naming_no_service_inherits_the_tasks_marked_inherited() -> None:
    case = Case(id="c", title="T", task=Task(aws_services=["EC2", "VPC"], platform="cdk"))
    bare = Failure(id="f", title="Something wrong")
    assert effective_services(bare, case.task) == (["EC2", "VPC"], True)
    facets = facets_of(bare, case)
    assert (facets.services, facets.services_from, facets.platform) == (["EC2", "VPC"], "task", "cdk")
    assert facets_of(bare, Case(id="d", title="T")).services_from == "none"


def test_platform_and_language_come_from_the_code_only_when_the_task_states_none() -> None:
    failures = [
        Failure(
            id="f",
            title="Bucket",
            model_response=Response(text="", code="import * as pulumi from '@pulumi/pulumi';", language="typescript"),
            ideal_response=IdealResponse(text="", code="new aws.s3.Bucket('b', {});", language="ts"),
        )
    ]
    case = infer_case(Case(id="c", title="T"), failures)
    assert case.task is not None and (case.task.platform, case.task.language) == ("pulumi", "ts")
    assert set(case.inferred) == {"platform", "language"}
    stated = Case(id="c", title="T", task=Task(platform="cdk", language="py"))
    assert infer_case(stated, failures) is stated
    half = infer_case(Case(id="c", title="T", task=Task(platform="tf")), [Failure(id="g", title="x")])
    assert half.task is not None and (half.task.platform, half.task.language) == ("tf", "hcl")
    assert half.inferred == {"language": 0.5}


def test_kb_infer_fills_what_is_missing_and_keeps_hand_edits(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    written = Failure(id="written", title="SQS queue unencrypted", services=[])
    stated = Failure(id="stated", title="SQS queue unencrypted", services=["SNS"])
    hand = Failure(id="hand", title="KMS key rotation off")
    folder = write_case(kb, Case(id="alpha", title="T"), [written, stated, hand])
    hand_path = folder / "03-hand.yaml"
    hand_path.write_text(hand_path.read_text() + "# a reviewer's note, kept\n")
    dry = infer_kb(kb, dry_run=True)
    assert sorted(p.name for p in dry.failures) == ["01-written.yaml", "03-hand.yaml"]
    assert "services" not in (folder / "01-written.yaml").read_text()
    result = infer_kb(kb)
    assert result.by_service == {"KMS": 1, "SQS": 1}
    records = {f.failure.id: f.failure for f in load_kb(kb).cases[0].failures}
    assert records["written"].services == ["SQS"] and records["written"].inferred == {"services": 0.7}
    assert (folder / "01-written.yaml").read_text() == dump_record(records["written"])
    assert records["stated"].services == ["SNS"] and records["stated"].inferred == {}
    text = hand_path.read_text()
    assert text.startswith(dump_record(hand) + "# a reviewer's note, kept\n")
    assert yaml.safe_load(text)["services"] == ["KMS"]
    assert infer_kb(kb).failures == []  # nothing left to do


def test_kb_infer_command_reports_what_it_did(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    write_case(kb, Case(id="alpha", title="T"), [Failure(id="f", title="Lambda timeout too short")])
    result = CliRunner().invoke(app, ["infer", "--kb", str(kb)])
    assert result.exit_code == 0, result.output
    assert "inferred services for 1 failure(s) (Lambda 1)" in result.output


def test_import_infers_services_and_writes_the_built_in_taxonomy(tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "task" / "MODEL_FAILURES.md"
    doc.parent.mkdir(parents=True)
    doc.write_text(
        "# Model Failures\n\n## 1. Lambda without a DLQ\n\n**Impact**: High\n\n"
        "```typescript\nnew lambda.Function(this, 'F', {});\n```\n"
    )
    kb = tmp_path / "kb"
    assert import_documents([doc.parent], kb).ok
    failure = load_kb(kb).cases[0].failures[0].failure
    assert failure.services == ["Lambda"] and "services" in failure.inferred
    assert (kb / "taxonomy.yaml").read_bytes() == (
        Path(__file__).parent.parent / "failures" / "taxonomy.yaml"
    ).read_bytes()


def test_a_kb_without_taxonomy_checks_categories_against_the_built_in_one(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    write_case(kb, Case(id="alpha", title="T"), [Failure(id="f", title="x", category="no-such-category")])
    loaded = load_kb(kb)
    assert loaded.taxonomy_builtin and loaded.taxonomy == builtin_taxonomy()
    messages = [p.message for p in check_kb(kb).problems]
    assert any("unknown category `no-such-category`" in m for m in messages)


@pytest.mark.parametrize("kind", ["folder", "fifo", "link-out"])
def test_a_taxonomy_that_is_not_a_regular_file_is_an_error(tmp_path: Path, kind: str) -> None:
    kb = tmp_path / "kb"
    write_case(kb, Case(id="alpha", title="T"), [])
    target = kb / "taxonomy.yaml"
    if kind == "folder":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        (tmp_path / "outside.yaml").write_text("categories: []\n")
        target.symlink_to(tmp_path / "outside.yaml")
    problems = [p for p in check_kb(kb).problems if p.path == str(target)]
    assert len(problems) == 1 and problems[0].severity.value == "error"
    assert str(problems[0]).startswith(f"{target}:1:1: ")


def test_display_titles_replace_generic_ones_with_the_task_and_strip_marks() -> None:
    generic = Case(
        id="cdk-ts-pr1",
        title="Model Response Failures Analysis",
        task=Task(platform="cdk", aws_services=["Lambda", "S3"], prompt="# Build a\n\nServerless image resizer on AWS"),
    )
    assert is_generic(generic.title) and is_generic("MODEL_FAILURES.md") and is_generic("cdk-ts-Pr5873")
    assert not is_generic("Model Failures Analysis: Terraform Multi-Environment Infrastructure")
    assert case_title(generic) == "Serverless image resizer on AWS · AWS CDK, Lambda, S3"
    assert plain_title("Missing **`removalPolicy`** in [lib/TapStack.yml:70](lib/TapStack.yml#L70)") == (
        "Missing removalPolicy in lib/TapStack.yml:70"
    )
    assert case_title(Case(id="x", title="**Bucket** not encrypted")) == "Bucket not encrypted"
