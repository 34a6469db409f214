"""One fact, one answer: every front-end spells names and filters failures the same way."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kb.cli import app
from kb.models import Case, Task
from kb.store import load_kb
from tests.helpers import make_failure, write_kb

runner = CliRunner()
METADATA = {"platform": "AWS CDK", "language": "golang", "aws_services": ["ALB", "AWS Config", "Fargate"]}
EXPECTED = ("cdk", "go", ["ELB", "Config", "ECS"])


def _task_folder(root: Path) -> Path:
    folder = root / "task-one"
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(json.dumps(METADATA))
    (folder / "PROMPT.md").write_text("# Build a service\n")
    (folder / "MODEL_FAILURES.md").write_text("# Model Failures\n\n## 1. Wrong port\n\nThe port was wrong.\n")
    return folder


def _task(kb: Path, case_id: str) -> Task:
    case = next(c.case for c in load_kb(kb).cases if c.id == case_id)
    assert case.task is not None
    return case.task


def test_add_case_from_task_and_import_give_the_same_task(tmp_path: Path) -> None:
    folder = _task_folder(tmp_path / "tasks")
    added, imported = tmp_path / "added", tmp_path / "imported"
    result = runner.invoke(
        app, ["add", "case", "task-one", "--from-task", str(folder), "--kb", str(added), "--no-input"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["import", str(folder), "--into", str(imported)])
    assert result.exit_code == 0, result.output
    scaffolded, read = _task(added, "task-one"), _task(imported, "task-one")
    assert (scaffolded.platform, scaffolded.language, scaffolded.aws_services) == EXPECTED
    assert scaffolded == read


def _kb_with_aws_lambda(root: Path) -> Path:
    case = Case(id="c", title="Case c", task=Task(platform="AWS CDK", language="ts"))
    return write_kb(root / "kb", [(case, [make_failure("dlq", services=["AWS Lambda"])])])


def test_stats_and_export_select_the_same_failures(tmp_path: Path) -> None:
    kb = _kb_with_aws_lambda(tmp_path)
    for option in (["--service", "lambda"], ["--platform", "cdk"], ["--service", "Lambda", "--platform", "AWS CDK"]):
        stats = runner.invoke(app, ["stats", "--kb", str(kb), "--json", *option])
        assert stats.exit_code == 0, stats.output
        assert json.loads(stats.stdout)["failures"] == 1, option
        out = tmp_path / "out"
        export = runner.invoke(
            app,
            [
                "export",
                "sft",
                "--kb",
                str(kb),
                "--out",
                str(out),
                "--force",
                "--license",
                "mit",
                "--min-lines",
                "1",
                "--allow-no-task",
                *option,
            ],
        )
        assert export.exit_code == 0, export.output
        rows = [json.loads(line) for s in ("train", "validation", "test") for line in (out / f"{s}.jsonl").open()]
        assert [row["id"] for row in rows] == ["c/dlq"], option
    stats = runner.invoke(app, ["stats", "--kb", str(kb), "--json", "--service", "s3"])
    assert json.loads(stats.stdout)["failures"] == 0
    export = runner.invoke(
        app,
        [
            "export",
            "sft",
            "--kb",
            str(kb),
            "--out",
            str(tmp_path / "none"),
            "--license",
            "mit",
            "--min-lines",
            "1",
            "--allow-no-task",
            "--service",
            "s3",
        ],
    )
    assert export.exit_code == 1 and "1 filtered out" in export.stderr


def test_unknown_filter_values_get_the_same_message_everywhere(tmp_path: Path) -> None:
    kb = _kb_with_aws_lambda(tmp_path)
    stats = runner.invoke(app, ["stats", "--kb", str(kb), "--impact", "hihg"])
    export = runner.invoke(
        app,
        [
            "export",
            "sft",
            "--kb",
            str(kb),
            "--out",
            str(tmp_path / "o"),
            "--license",
            "mit",
            "--min-lines",
            "1",
            "--allow-no-task",
            "--impact",
            "hihg",
        ],
    )
    assert stats.exit_code == export.exit_code == 2
    assert "unknown impact `hihg` in the filter; did you mean `high`?" in stats.stderr
    assert stats.stderr == export.stderr


def test_the_site_browses_the_failure_under_the_service_stats_counts_it_by(tmp_path: Path) -> None:
    from generator.pages.build import build_pages
    from kb.render.env import make_env
    from kb.stats import compute_stats

    kb = load_kb(_kb_with_aws_lambda(tmp_path))
    assert compute_stats(kb).by_service == {"Lambda": 1}
    explored = json.loads(build_pages(kb, make_env()).files["data/facets.json"])
    services = json.dumps(explored["facets"]["service"])
    assert "Lambda" in services and "AWS Lambda" not in services
