"""Runnable references on the site: the example file a fix points to, and the fix's lines in it.

``ideal_response.reference`` names a file relative to the project root (the KB
folder's parent) and a symbol in it. The site shows each referenced file once, on its
own page, and the symbol's lines on the case page. Only Python symbols are located
(with ``kb.examples.symbol_index``, the lookup `kb check` uses); other files are shown whole. Files outside the project are refused.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kb.examples import symbol_index
from kb.models import Reference
from kb.store import inside

__all__ = ["CodeFile", "Snippet", "load_code_file", "snippet"]

_LANGUAGES = {
    ".py": "python",
    ".ts": "typescript",
    ".js": "javascript",
    ".go": "go",
    ".java": "java",
    ".cs": "csharp",
    ".tf": "hcl",
    ".hcl": "hcl",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
}
_MAX_BYTES = 512 * 1024


@dataclass(frozen=True)
class CodeFile:
    """One referenced file: its project-relative path, text and fence language."""

    path: str
    text: str
    language: str

    @property
    def page(self) -> str:
        """The site page (Markdown source path) that shows the whole file."""
        return f"code/{self.path}.md"


@dataclass(frozen=True)
class Snippet:
    """The lines of a symbol: 1-based, inclusive."""

    first: int
    last: int
    code: str


def load_code_file(project_root: Path, path: str) -> CodeFile | str:
    """The referenced file, or why it cannot be shown (missing, outside the project, too big, binary)."""
    target = project_root / PurePosixPath(path)
    if not inside(project_root, target):
        return f"{path}: outside the project; not shown"
    try:
        data = target.read_bytes()
    except OSError as exc:
        return f"{path}: cannot read the runnable reference ({exc.strerror or exc})"
    if len(data) > _MAX_BYTES:
        return f"{path}: larger than {_MAX_BYTES // 1024} KiB; not shown"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"{path}: not UTF-8 text; not shown"
    return CodeFile(path, text.replace("\r\n", "\n"), _LANGUAGES.get(PurePosixPath(path).suffix.lower(), ""))


def snippet(code: CodeFile, reference: Reference) -> Snippet | None:
    """The referenced symbol's lines, for a Python file where the symbol is found."""
    if code.language != "python":
        return None
    span = (symbol_index(code.text) or {}).get(reference.symbol)
    if span is None:
        return None
    first, last = span.start, span.end
    return Snippet(first, last, textwrap.dedent("\n".join(code.text.split("\n")[first - 1 : last])))
