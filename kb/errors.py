"""Errors raised by the kb library. The CLI maps them to messages and exit codes.

Messages say what is wrong, never which command-line flag fixes it: a library error
carries what a front-end needs to add that hint (``ExistsError.replaceable``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Severity(StrEnum):
    error = "error"
    warning = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One diagnostic about one place in one file: `path:line:col: message`."""

    path: str
    line: int
    col: int
    message: str
    severity: Severity = Severity.error

    def __str__(self) -> str:
        prefix = "warning: " if self.severity is Severity.warning else ""
        return f"{self.path}:{self.line}:{self.col}: {prefix}{self.message}"

    @classmethod
    def at(
        cls,
        path: Path | str,
        message: str,
        *,
        line: int = 1,
        col: int = 1,
        severity: Severity = Severity.error,
    ) -> Problem:
        return cls(str(path), line, col, message, severity)


class KbError(Exception):
    """Base of every error kb reports to a user (exit code 1)."""


class UsageError(KbError):
    """The command was called wrongly (exit code 2)."""


class LicenseError(UsageError):
    """An export without a license its users can rely on (none given, or `unknown` without force)."""


class RecordError(KbError):
    """One record is unreadable or invalid."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class InvalidKbError(KbError):
    """The knowledge base has problems; every one is listed."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ExistsError(KbError):
    """A write would overwrite something that is already there."""

    def __init__(self, path: Path | str, *, hint: str = "", replaceable: bool = False) -> None:
        self.path = Path(path)
        self.replaceable = replaceable
        """True when the caller may ask for it to be replaced (the CLI: `--force`)."""
        super().__init__(f"{path}: already exists" + (f" ({hint})" if hint else ""))


class SecretsFoundError(KbError):
    """Records hold credentials that an export would publish; nothing was written.

    Each problem names a record, the field and its line; asking for redaction instead
    (the CLI: `--redact`) replaces them with placeholders.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class WriteError(KbError):
    """Nothing more can be written where asked (read-only, no permission, disk full): the work stopped."""


class UnsafePathError(KbError):
    """A path or id would reach outside the knowledge base."""

    def __init__(self, value: str, *, reason: str) -> None:
        super().__init__(f"refusing {value!r}: {reason}")
