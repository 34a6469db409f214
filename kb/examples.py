"""Links from a fix to the runnable example that implements it (`ideal_response.reference`).

A reference is `{path, symbol}`: a Python file relative to the project root (the knowledge base
folder's parent) and a top-level function, class or variable in it, or a dotted member of a class
(`Stack.build`). The file is parsed with `ast`, never grepped, so a comment or a string that merely
mentions the name does not count, and a renamed function is reported as drift by `kb check`.

Results are pure functions of the file's text, so a parsed file is reused across the failures
that point into it (and across runs of a cache keyed on file contents).
"""

from __future__ import annotations

import ast
import difflib
import functools
import textwrap
from dataclasses import dataclass
from pathlib import Path

from kb.errors import KbError, Problem
from kb.models import Reference
from kb.store import KnowledgeBase, LoadedCase, LoadedFailure
from kb.yamlio import locate

REFERENCE_KEY = ("ideal_response", "reference")


class BrokenReferenceError(KbError):
    """A reference names a file or symbol that is not there (or not readable, or not Python)."""

    def __init__(self, message: str, *, key: str = "path") -> None:
        super().__init__(message)
        self.key = key
        """The key of the reference at fault: `path` or `symbol`."""


@dataclass(frozen=True)
class Span:
    """Where a symbol's definition is in its file (1-based lines)."""

    line: int
    """The line that names the symbol (`def build(`, `class Stack`, `NAME = ...`)."""
    start: int
    """The first line of the definition, decorators included."""
    end: int
    """The last line of the definition."""


@dataclass(frozen=True)
class ResolvedReference:
    """A reference that resolved: the file, the symbol's lines and its source."""

    path: Path
    """The file, absolute."""
    relpath: str
    """The file as the record writes it, relative to the project root."""
    symbol: str
    line: int
    """The line that names the symbol: the report and the site link `relpath#L<line>`."""
    end_line: int
    source: str
    """The definition's source, decorators included, dedented."""

    @property
    def anchor(self) -> str:
        """`path#Lline`, the form reports show and code hosts understand."""
        return f"{self.relpath}#L{self.line}"


def project_root(kb_root: Path | str) -> Path:
    """The folder references are relative to: the knowledge base folder's parent."""
    return Path(kb_root).resolve().parent


def resolve_reference(root: Path | str, ref: Reference) -> ResolvedReference:
    """Find the file and the symbol a reference names; raise `BrokenReferenceError` saying what is wrong."""
    root = Path(root).resolve()
    path = (root / ref.path).resolve()
    if not path.is_relative_to(root):
        raise BrokenReferenceError(f"`{ref.path}` leads outside the project ({root}); refusing to read it")
    if path.suffix != ".py":
        raise BrokenReferenceError(f"`{ref.path}` is not a Python file: references point into Python examples")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BrokenReferenceError(f"`{ref.path}` does not exist (relative to {root})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BrokenReferenceError(f"cannot read `{ref.path}`: {exc}") from None
    symbols = symbol_index(text)
    if symbols is None:
        raise BrokenReferenceError(f"`{ref.path}` is not valid Python; cannot look up `{ref.symbol}`")
    span = symbols.get(ref.symbol)
    if span is None:
        raise BrokenReferenceError(_missing_symbol(ref, symbols), key="symbol")
    lines = text.splitlines()
    source = textwrap.dedent("\n".join(lines[span.start - 1 : span.end]))
    return ResolvedReference(path, ref.path, ref.symbol, span.line, span.end, source)


def _missing_symbol(ref: Reference, symbols: dict[str, Span]) -> str:
    message = f"`{ref.path}` defines no `{ref.symbol}`"
    close = difflib.get_close_matches(ref.symbol, list(symbols), n=1, cutoff=0.6)
    return f"{message}; did you mean `{close[0]}`?" if close else message


@functools.lru_cache(maxsize=64)
def symbol_index(text: str) -> dict[str, Span] | None:
    """Every name a reference may point to in a Python file, or None when it does not parse.

    Top-level functions, classes and assigned names, and, dotted, the members of classes
    (methods, nested classes, class attributes) at any depth: `Stack`, `Stack.build`.
    """
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    index: dict[str, Span] = {}
    _index_body(tree.body, "", index)
    return index


def _index_body(body: list[ast.stmt], prefix: str, index: dict[str, Span]) -> None:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            name = prefix + node.name
            index.setdefault(name, Span(node.lineno, start, node.end_lineno or node.lineno))
            if isinstance(node, ast.ClassDef):
                _index_body(node.body, f"{name}.", index)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name_node in _assigned_names(target):
                    span = Span(node.lineno, node.lineno, node.end_lineno or node.lineno)
                    index.setdefault(prefix + name_node, span)


def _assigned_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [name for element in target.elts for name in _assigned_names(element)]
    if isinstance(target, ast.Starred):
        return _assigned_names(target.value)
    return []


def check_references(kb: KnowledgeBase) -> list[Problem]:
    """A problem for every failure whose `ideal_response.reference` does not resolve."""
    root = project_root(kb.root)
    return [problem for case in kb.cases for problem in case_references(root, case)]


def case_references(root: Path, case: LoadedCase) -> list[Problem]:
    """``check_references`` for one case (``root``: the project root)."""
    problems: list[Problem] = []
    for loaded in case.failures:
        ideal = loaded.failure.ideal_response
        if ideal is None or ideal.reference is None:
            continue
        try:
            resolve_reference(root, ideal.reference)
        except BrokenReferenceError as exc:
            problems.append(_reference_problem(case.id, loaded, exc))
    return problems


def _reference_problem(case_id: str, loaded: LoadedFailure, exc: BrokenReferenceError) -> Problem:
    """Point at the offending key under `ideal_response.reference`, naming the record."""
    try:
        text = loaded.path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        text = ""
    line, col = locate(text, (*REFERENCE_KEY, exc.key))
    record = f"{case_id}/{loaded.failure.id}"
    return Problem.at(loaded.path, f"broken reference in `{record}`: {exc}", line=line, col=col)
