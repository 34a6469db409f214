"""References from fixes into runnable examples: symbol lookup by parsing, resolution, and `kb check`."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb.check import check_kb
from kb.cli import app
from kb.examples import BrokenReferenceError, Span, project_root, resolve_reference, symbol_index
from kb.models import Reference
from kb.store import load_kb
from tests.conftest import FAILURES, ROOT

EXAMPLE = "examples/pulumi/compliance/compliance.py"
SEED_DLQ = "pr7060/02-missing-iam-permission-for-lambda-dlq.yaml"

SOURCE = textwrap.dedent(
    '''\
    """Mentions fake_function and Fake.method in a docstring: not definitions."""
    import functools

    LIMIT = 3
    TIMEOUT: int = 30
    first, (second, *rest) = 1, (2, 3)


    @functools.cache
    @staticmethod
    def decorated(x):
        def inner():  # nested in a function: not addressable
            return x
        return inner


    async def fetch():
        # fake_function() is only a comment
        return "class Fake: pass"


    class Stack:
        region = "us-east-1"

        def build(self):
            return 1

        class Nested:
            def deep(self):
                pass


    if LIMIT:
        def conditional():
            pass
    '''
)


def test_index_holds_top_level_definitions_and_class_members() -> None:
    index = symbol_index(SOURCE)
    assert index is not None
    assert set(index) == {
        "LIMIT",
        "TIMEOUT",
        "first",
        "second",
        "rest",
        "decorated",
        "fetch",
        "Stack",
        "Stack.region",
        "Stack.build",
        "Stack.Nested",
        "Stack.Nested.deep",
    }


def test_index_lines_name_the_symbol_and_spans_include_decorators() -> None:
    index = symbol_index(SOURCE)
    assert index is not None
    assert index["decorated"] == Span(line=11, start=9, end=14)
    assert index["Stack.build"] == Span(line=25, start=25, end=26)
    assert index["LIMIT"] == Span(line=4, start=4, end=4)


def test_invalid_python_has_no_index() -> None:
    assert symbol_index("def broken(:\n") is None


def write_project(root: Path, source: str = SOURCE, name: str = "examples/demo/app.py") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    return path


def test_resolve_gives_line_anchor_and_dedented_source(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    resolved = resolve_reference(tmp_path, Reference(path="examples/demo/app.py", symbol="Stack.build"))
    assert resolved.path == path.resolve()
    assert (resolved.line, resolved.end_line) == (25, 26)
    assert resolved.anchor == "examples/demo/app.py#L25"
    assert resolved.source == "def build(self):\n    return 1"


@pytest.mark.parametrize(
    ("path", "symbol", "message"),
    [
        ("examples/demo/app.py", "fake_function", "`examples/demo/app.py` defines no `fake_function`"),
        ("examples/demo/app.py", "Stack.buld", "defines no `Stack.buld`; did you mean `Stack.build`?"),
        ("examples/demo/app.py", "inner", "defines no `inner`"),
        ("examples/demo/missing.py", "Stack", "`examples/demo/missing.py` does not exist"),
        ("examples/demo/notes.md", "Stack", "`examples/demo/notes.md` is not a Python file"),
        ("examples/demo/bad.py", "Stack", "`examples/demo/bad.py` is not valid Python"),
    ],
)
def test_unresolvable_references_say_what_is_wrong(tmp_path: Path, path: str, symbol: str, message: str) -> None:
    write_project(tmp_path)
    write_project(tmp_path, "def broken(:\n", "examples/demo/bad.py")
    with pytest.raises(BrokenReferenceError) as info:
        resolve_reference(tmp_path, Reference(path=path, symbol=symbol))
    assert message in str(info.value)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_a_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    outside = write_project(tmp_path / "elsewhere", name="secret.py")
    project = tmp_path / "project"
    (project / "examples").mkdir(parents=True)
    (project / "examples" / "link.py").symlink_to(outside)
    with pytest.raises(BrokenReferenceError, match="leads outside the project"):
        resolve_reference(project, Reference(path="examples/link.py", symbol="Stack"))


def test_every_seed_failure_links_a_symbol_of_the_example() -> None:
    kb = load_kb(FAILURES)
    resolved = {}
    for case in kb.cases:
        for loaded in case.failures:
            ideal = loaded.failure.ideal_response
            assert ideal is not None and ideal.reference is not None, loaded.path
            resolved[loaded.failure.id] = resolve_reference(project_root(kb.root), ideal.reference)
    assert {r.relpath for r in resolved.values()} == {EXAMPLE}
    assert resolved["aws-config-account-level-resource-violation"].source.startswith("def reference_config_recorder(")
    assert "sqs:SendMessage" in resolved["missing-iam-permission-for-lambda-dlq"].source
    assert resolved["unused-variable-assignments"].source.startswith("class ComplianceMonitoringStack(")
    assert project_root(kb.root) == ROOT


def rename_in_example(kb_copy: Path, old: str, new: str) -> None:
    example = kb_copy.parent / EXAMPLE
    text = example.read_text(encoding="utf-8")
    assert f"def {old}(" in text
    example.write_text(text.replace(f"def {old}(", f"def {new}("), encoding="utf-8")


def test_renamed_symbol_fails_check_naming_the_record(kb_copy: Path) -> None:
    assert check_kb(kb_copy).ok
    rename_in_example(kb_copy, "lambda_policy_document", "build_lambda_policy")
    report = check_kb(kb_copy)
    record = kb_copy / SEED_DLQ
    symbol_line = record.read_text(encoding="utf-8").splitlines().index("    symbol: lambda_policy_document") + 1
    assert [str(p) for p in report.errors] == [
        f"{record}:{symbol_line}:5: broken reference in `pr7060/missing-iam-permission-for-lambda-dlq`: "
        f"`{EXAMPLE}` defines no `lambda_policy_document`; did you mean `build_lambda_policy`?"
    ]


def test_missing_example_fails_check_for_every_record_pointing_at_it(kb_copy: Path) -> None:
    (kb_copy.parent / EXAMPLE).unlink()
    report = check_kb(kb_copy)
    assert len(report.errors) == 3
    for problem in report.errors:
        assert f"`{EXAMPLE}` does not exist" in problem.message
        assert "broken reference in `pr7060/" in problem.message


def test_cli_check_exits_1_on_a_renamed_method(kb_copy: Path) -> None:
    rename_in_example(kb_copy, "reference_config_recorder", "config_recorder")
    result = CliRunner().invoke(app, ["check", "--kb", str(kb_copy)])
    assert result.exit_code == 1
    assert "broken reference in `pr7060/aws-config-account-level-resource-violation`" in result.stderr
    assert "defines no `ComplianceMonitoringStack.reference_config_recorder`" in result.stderr
    assert "Traceback" not in result.output


def test_check_never_imports_or_runs_the_example(kb_copy: Path) -> None:
    example = kb_copy.parent / EXAMPLE
    example.write_text(example.read_text(encoding="utf-8") + "\nraise SystemExit('imported!')\n", encoding="utf-8")
    assert check_kb(kb_copy).ok
