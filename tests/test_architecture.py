"""The direction of dependencies: kb is the library, generator the MkDocs adapter, cli the top.

Read from the source with ``ast`` (every import, including those inside functions), so a
new module that breaks a rule fails here, not in review.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("kb", "generator")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(*, top_level_only: bool = False) -> dict[str, set[str]]:
    """Each module of kb and generator -> the kb/generator modules it imports."""
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = _module_name(path)
            tree = ast.parse(path.read_text(encoding="utf-8"))
            nodes = tree.body if top_level_only else list(ast.walk(tree))
            found: set[str] = set()
            for node in nodes:
                if isinstance(node, ast.Import):
                    found.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.update(_from_import(node.module, [alias.name for alias in node.names]))
            graph[name] = {m for m in found if m.split(".")[0] in PACKAGES}
    return {name: {m for m in targets if m in MODULES and m != name} for name, targets in graph.items()}


MODULES = {_module_name(p) for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def _from_import(module: str, names: list[str]) -> set[str]:
    """`from kb.importer import fields` imports the module `kb.importer.fields`, not the package's names."""
    submodules = {f"{module}.{name}" for name in names if f"{module}.{name}" in MODULES}
    return submodules if len(submodules) == len(names) else {module, *submodules}


def test_the_library_never_imports_the_site_adapter() -> None:
    offenders = {name: sorted(t for t in targets if t.startswith("generator")) for name, targets in _imports().items()}
    assert {name: t for name, t in offenders.items() if name.startswith("kb") and t} == {}


CLI = {"kb.cli", "kb.cli_recurring"}
"""The command-line front-end: `kb.cli` and the commands it registers from `kb.cli_recurring`."""


def test_nothing_imports_the_cli() -> None:
    assert sorted(name for name, targets in _imports().items() if "kb.cli" in targets and name not in CLI) == []


def test_the_library_never_imports_typer() -> None:
    for path in sorted((ROOT / "kb").rglob("*.py")):
        if _module_name(path) not in CLI:
            assert "import typer" not in path.read_text(encoding="utf-8"), path


def test_no_import_cycles_between_modules() -> None:
    graph = _imports(top_level_only=True)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    # the CLI registers the recurring-failure commands from its second module: one front-end in two files
    assert [cycle for cycle in cycles if not set(cycle) <= CLI] == []


FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")
NOT_YET = {"kb/importer/write.py"}
"""Library modules whose messages still name a flag (owned by the importer I/O work; to follow)."""


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            found.add(id(first.value))
    for node in ast.walk(tree):  # attribute docstrings: a string right after an assignment
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for before, after in itertools.pairwise(body):
                if isinstance(before, ast.AnnAssign | ast.Assign) and isinstance(after, ast.Expr):
                    found.add(id(after.value))
    return found


def test_library_messages_name_no_command_line_flags() -> None:
    """The library says what is wrong; the CLI says which flag fixes it (in its one error mapper)."""
    offenders = []
    for path in sorted((ROOT / "kb").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if _module_name(path) in CLI or relative in NOT_YET:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            text = node.value if isinstance(node, ast.Constant) and id(node) not in skip else None
            if isinstance(text, str) and FLAG.search(text):
                offenders.append(f"{relative}:{node.lineno}: {text!r}")
    assert offenders == []


def test_no_test_module_imports_another() -> None:
    """Shared builders live in tests/helpers.py (and fixtures in conftest.py), never in a test module."""
    offenders = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {name}" for name in names if name.startswith("tests.test_")]
    assert offenders == []
