"""The command line: exit codes and exact messages (typer's CliRunner)."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
from typer.testing import CliRunner

from kb.cli import app
from tests.conftest import ROOT

runner = CliRunner()


def test_check_clean_kb_exits_0(kb_copy: Path) -> None:
    result = runner.invoke(app, ["check", "--kb", str(kb_copy)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 1 case(s), 3 failure(s)\n"


def test_check_reports_each_problem_and_exits_1(kb_copy: Path) -> None:
    bad = kb_copy / "pr7060" / "04-bad.yaml"
    bad.write_text("id: bad\ntitle: T\nimpact: huge\nwhy: x\n")
    result = runner.invoke(app, ["check", "--kb", str(kb_copy)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{bad}:3:1: `impact`: Input should be 'critical', 'high', 'medium' or 'low'",
        f"{bad}:4:1: unknown key `why`; known keys: {', '.join(_failure_keys())}",
        "2 error(s), 0 warning(s) in 1 case(s), 3 failure(s)",
    ]
    assert "Traceback" not in result.output


def _failure_keys() -> list[str]:
    from kb.models import Failure

    return list(Failure.model_fields)


def test_check_strict_fails_on_drafts(kb_copy: Path) -> None:
    (kb_copy / "pr7060" / "04-draft.yaml").write_text("id: draft\ntitle: T\nstatus: draft\n")
    assert runner.invoke(app, ["check", "--kb", str(kb_copy)]).exit_code == 0
    strict = runner.invoke(app, ["check", "--kb", str(kb_copy), "--strict"])
    assert strict.exit_code == 1
    assert "draft: complete it and set `status: published`" in strict.stderr


def test_schema_writes_then_is_current(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    assert runner.invoke(app, ["schema", "--out", str(out), "--check"]).exit_code == 1
    written = runner.invoke(app, ["schema", "--out", str(out)])
    assert written.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "case.schema.json",
        "failure.schema.json",
        "taxonomy.schema.json",
    ]
    again = runner.invoke(app, ["schema", "--out", str(out), "--check"])
    assert (again.exit_code, again.output) == (0, "")


def test_committed_schemas_are_current() -> None:
    result = runner.invoke(app, ["schema", "--out", str(ROOT / "schemas"), "--check"])
    assert result.exit_code == 0, result.output


def test_unknown_option_is_a_usage_error() -> None:
    result = runner.invoke(app, ["check", "--no-such-option"])
    assert result.exit_code == 2


def test_every_command_is_documented_in_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = typer.main.get_command(app)
    names = []
    for name, sub in command.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(sub, "commands", None)
        names += [f"{name} {s}" for s in subcommands] if subcommands else [name]
    missing = [n for n in names if not re.search(rf"\bkb {re.escape(n)}\b", readme)]
    assert not missing, f"commands missing from README.md: {missing}"
