"""Rendering hostile records: raw HTML cannot hide the rest of a report, templates cannot escape the sandbox."""

from __future__ import annotations

from pathlib import Path

import jinja2
import jinja2.sandbox
import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from kb.cli import app
from kb.models import Case, Summary
from kb.render.env import make_env
from kb.render.markdown import block
from kb.render.report import render_case
from kb.store import load_kb
from tests.conftest import ROOT
from tests.helpers import make_failure, write_hostile_kb, write_kb

runner = CliRunner()

OPENERS = {
    "comment": "<!-- the model's note, never closed",
    "pre": "<pre>\nraw output, never closed",
    "script": "<script>\nvar never_closed = 1;",
    "style": "<style>\nbody {}",
    "processing instruction": "<?xml version='1.0'",
    "declaration": "<!DOCTYPE html",
    "cdata": "<![CDATA[ raw",
}


@pytest.mark.parametrize("name", sorted(OPENERS))
def test_an_unclosed_html_block_in_a_field_cannot_swallow_the_rest_of_the_report(tmp_path: Path, name: str) -> None:
    failures = [
        make_failure("first", root_cause=OPENERS[name]),
        make_failure("second", description=OPENERS[name]),
        make_failure("third"),
    ]
    case = Case(
        id="hostile", title="Hostile", intro=OPENERS[name], summary=Summary(deployment_impact="The summary lesson")
    )
    kb = write_kb(tmp_path / "kb", [(case, failures)])
    result = runner.invoke(app, ["render", "--kb", str(kb), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "out" / "hostile" / "MODEL_FAILURES.md").read_text()
    tokens = MarkdownIt("commonmark").parse(report)
    html = "".join(t.content for t in tokens if t.type == "html_block")
    headings = [tokens[n + 1].content for n, t in enumerate(tokens) if t.type == "heading_open"]
    for failure in failures:
        assert any(failure.title in heading for heading in headings), (failure.title, headings)
        assert failure.title not in html
    assert "The summary lesson" not in html and "The summary lesson" in report
    assert OPENERS[name].split("\n")[0][1:] in report  # the text itself is kept, shown literally


def test_closed_html_in_a_markdown_field_is_left_as_written() -> None:
    text = "Before\n\n<!-- a note -->\n\n<pre>\nkept\n</pre>\n\n<details>\n<summary>x</summary>\n</details>"
    assert block(text) == text


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.system('true') }}",
        "{{ self._TemplateReference__context }}",
    ],
)
def test_project_templates_run_in_the_sandbox(tmp_path: Path, template: str) -> None:
    (tmp_path / "evil.j2").write_text(template)
    env = make_env(tmp_path)
    with pytest.raises(jinja2.exceptions.SecurityError):
        env.get_template("evil.j2").render()


def test_only_kb_s_own_templates_render_outside_the_sandbox(tmp_path: Path) -> None:
    """kb's bundled templates are its code (a plain environment); any project template brings the sandbox."""
    assert not isinstance(make_env(), jinja2.sandbox.SandboxedEnvironment)
    assert not isinstance(make_env(ROOT / "templates"), jinja2.sandbox.SandboxedEnvironment)  # kb's own repository
    assert isinstance(make_env(tmp_path), jinja2.sandbox.SandboxedEnvironment)


def test_record_text_renders_the_same_with_and_without_the_sandbox(tmp_path: Path) -> None:
    """The escaping is the filters': a hostile record gives the same report in either environment."""
    case = load_kb(write_hostile_kb(tmp_path / "kb")).cases[0]
    (tmp_path / "templates").mkdir()
    sandboxed = make_env(tmp_path / "templates")
    assert render_case(case, make_env()) == render_case(case, sandboxed)
