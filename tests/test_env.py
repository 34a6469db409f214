"""The Jinja environment: built-in templates found installed or in a checkout, overrides, filters."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from kb.errors import UsageError
from kb.render.env import builtin_templates_dir, make_env, project_templates_dir, template_problem
from tests.conftest import ROOT


def test_checkout_uses_the_repository_templates() -> None:
    assert builtin_templates_dir() == ROOT / "templates"
    assert (builtin_templates_dir() / "report" / "MODEL_FAILURES.md.j2").is_file()


def test_installed_layout_uses_the_packaged_templates(tmp_path: Path) -> None:
    """A wheel ships `templates/` as `kb/templates` (pyproject force-include)."""
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "kb", site / "kb", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "templates", site / "kb" / "templates")
    script = (
        "from kb.render.env import builtin_templates_dir, make_env; "
        "print(builtin_templates_dir()); "
        "print(make_env().get_template('report/MODEL_FAILURES.md.j2').filename)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(site)},
    )
    packaged = site / "kb" / "templates"
    assert result.stdout.splitlines() == [str(packaged), str(packaged / "report" / "MODEL_FAILURES.md.j2")]


def test_project_folder_comes_first_then_the_built_in_ones(tmp_path: Path) -> None:
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "MODEL_FAILURES.md.j2").write_text("mine\n")
    (tmp_path / "extra.j2").write_text("{% include 'report/MODEL_FAILURES.md.j2' %}")
    env = make_env(tmp_path)
    assert env.get_template("report/MODEL_FAILURES.md.j2").render() == "mine\n"
    assert env.get_template("extra.j2").render() == "mine\n"
    assert make_env().get_template("report/MODEL_FAILURES.md.j2").filename == str(
        ROOT / "templates" / "report" / "MODEL_FAILURES.md.j2"
    )


def test_project_templates_dir_is_beside_the_kb(tmp_path: Path) -> None:
    (tmp_path / "failures").mkdir()
    assert project_templates_dir(tmp_path / "failures") is None
    (tmp_path / "templates").mkdir()
    assert project_templates_dir(tmp_path / "failures") == tmp_path / "templates"


def test_missing_templates_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="templates folder not found"):
        make_env(tmp_path / "nope")


def test_filters_and_strict_undefined() -> None:
    env = make_env()
    rendered = env.from_string("{{ code | fence('py') }}|{{ title | inline }}|{{ a | diff(b) }}|{{ ' ' is filled }}")
    assert rendered.render(code="x = 1", title="# t", a="1", b="2") == (
        "```py\nx = 1\n```|\\# t|--- MODEL_RESPONSE\n+++ IDEAL_RESPONSE\n@@ -1 +1 @@\n-1\n+2|False"
    )
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ misspelt }}").render()


def test_template_problems_name_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.j2").write_text("ok\n{% if %}\n")
    env = make_env(tmp_path)
    with pytest.raises(jinja2.TemplateSyntaxError) as info:
        env.get_template("bad.j2")
    problem = template_problem(info.value, template="bad.j2", context="test")
    assert str(problem).startswith(f"{tmp_path / 'bad.j2'}:2: ")
    assert str(problem).endswith("(test)")
