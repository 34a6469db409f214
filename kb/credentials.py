"""Credentials in record files, as `kb check` errors: one at each credential's line and column."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from kb.errors import Problem
from kb.secrets import find_secrets

_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*):", re.MULTILINE)


def credential_problems(files: Iterable[Path]) -> list[Problem]:
    """A credential anywhere in a record file (any field, comments too), each file read again."""
    problems: list[Problem] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError:
            continue
        problems.extend(credentials_in(path, text))
    return problems


def credentials_in(path: Path | str, text: str) -> list[Problem]:
    """The credentials in a record file's text (as read: a BOM dropped), as errors at ``path``."""
    if "\r" in text:  # as a text read of the file sees it (universal newlines)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    problems = []
    for secret in find_secrets(text):
        line = text.count("\n", 0, secret.start) + 1
        col = secret.start - (text.rfind("\n", 0, secret.start) + 1) + 1
        keys = [m[1] for m in _TOP_KEY.finditer(text, 0, secret.start)]
        where = f" in `{keys[-1]}`" if keys else ""
        message = f"{secret.label}{where}: credentials must not be kept in records; remove it or use a placeholder"
        problems.append(Problem.at(path, message, line=line, col=col))
    return problems
