"""`kb import` on the command line: summary, JSON, exit codes, never overwriting."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kb.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "import"
runner = CliRunner()


def test_import_prints_a_summary_and_exits_0(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["import", str(FIXTURES / "seed_style.md"), str(FIXTURES / "no_failures.md"), "--into", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert f"imported 2 document(s) -> 2 case(s), 2 failure(s) into {tmp_path}" in result.stdout
    assert "warnings: 1 (no-failures: 1)" in result.stdout
    assert "no_failures.md:1:1: warning: no failure units recognised" in result.stderr


def test_import_json_summary(tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", str(FIXTURES / "task-lib"), "--into", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["documents"], data["cases"], data["failures"]) == (1, 1, 1)
    assert data["warnings"] == {"metadata": 1}
    assert data["results"][0]["case"] == "task-lib"


def test_existing_case_exits_1_and_names_it(tmp_path: Path) -> None:
    args = ["import", str(FIXTURES / "success.md"), "--into", str(tmp_path)]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert f"{tmp_path / 'success'}: already exists" in again.stderr
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


def test_bad_format_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", str(FIXTURES), "--into", str(tmp_path), "--format", "xml"])
    assert result.exit_code == 2
    assert "--format must be `text` or `json`" in result.stderr
