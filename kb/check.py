"""`kb check`: every rule a knowledge base must satisfy, beyond each record's schema."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kb.documents import document_problem
from kb.errors import Problem, Severity
from kb.examples import check_references
from kb.lifecycle import check_lifecycle, outdated
from kb.models import Status
from kb.recurring.links import check_recurring
from kb.secrets import find_secrets
from kb.store import CASE_FILE, TAXONOMY_FILE, KnowledgeBase, LoadedCase, scan_kb
from kb.totals import totals_disagreement
from kb.yamlio import problem_at


@dataclass(frozen=True)
class CheckReport:
    """What `kb check` found: problems sorted by place, errors and warnings."""

    problems: list[Problem]
    cases: int
    failures: int
    outdated: int = 0
    """Records in an older format (read fine; `kb upgrade` rewrites them)."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.warning]

    @property
    def ok(self) -> bool:
        return not self.errors


def check_kb(root: Path | str, *, strict: bool = False) -> CheckReport:
    """Check a knowledge base. Reads only; never modifies a file."""
    kb = scan_kb(root, slim=True)
    problems = list(kb.problems)
    problems.extend(check_rules(kb, strict=strict))
    problems.extend(credential_problems(record_files(kb)))
    problems.sort(key=lambda p: (p.path, p.line, p.col, p.message))
    return CheckReport(problems, len(kb.cases), sum(len(c.failures) for c in kb.cases), outdated(kb))


def check_rules(kb: KnowledgeBase, *, strict: bool = False) -> list[Problem]:
    """The cross-record rules, for records that passed their schema."""
    problems: list[Problem] = []
    categories = {c.id for c in kb.taxonomy.categories} if kb.taxonomy else None
    if kb.taxonomy:
        problems.extend(_duplicate_categories(kb))
    for case in kb.cases:
        problems.extend(_check_case(case, categories, strict=strict))
        problems.extend(p for name in case.documents if (p := document_problem(case.path / name)))
    problems.extend(check_references(kb))
    problems.extend(check_recurring(kb, strict=strict))
    problems.extend(check_lifecycle(kb))
    return problems


def blocking_problems(kb: KnowledgeBase, *, credentials: bool = True) -> list[Problem]:
    """The errors `kb check` reports for a loaded knowledge base, sorted by place.

    For commands that refuse to work on an invalid knowledge base (render, export): the
    cross-record rules and, with ``credentials``, a credential in any record (an export
    that redacts checks credentials its own way).
    """
    problems = [p for p in check_rules(kb) if p.severity is Severity.error]
    if credentials:
        problems.extend(credential_problems(record_files(kb)))
    return sorted(problems, key=lambda p: (p.path, p.line, p.col, p.message))


def record_files(kb: KnowledgeBase) -> list[Path]:
    """Every record file loaded: the taxonomy, then each case's `case.yaml` and failures."""
    files = [kb.root / TAXONOMY_FILE] if kb.taxonomy else []
    for case in kb.cases:
        files.append(case.path / CASE_FILE)
        files.extend(f.path for f in case.failures)
    return files


_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*):", re.MULTILINE)


def credential_problems(files: Iterable[Path]) -> list[Problem]:
    """A credential anywhere in a record file (any field, comments too): one error at its line and column."""
    problems: list[Problem] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError:
            continue
        for secret in find_secrets(text):
            line = text.count("\n", 0, secret.start) + 1
            col = secret.start - (text.rfind("\n", 0, secret.start) + 1) + 1
            keys = [m[1] for m in _TOP_KEY.finditer(text, 0, secret.start)]
            where = f" in `{keys[-1]}`" if keys else ""
            message = f"{secret.label}{where}: credentials must not be kept in records; remove it or use a placeholder"
            problems.append(Problem.at(path, message, line=line, col=col))
    return problems


def _at_key(path: Path, key: str, message: str, severity: Severity = Severity.error) -> Problem:
    return problem_at(path, (key,), message, severity)


def _duplicate_categories(kb: KnowledgeBase) -> list[Problem]:
    assert kb.taxonomy is not None
    seen: set[str] = set()
    problems = []
    for category in kb.taxonomy.categories:
        if category.id in seen:
            problems.append(_at_key(kb.root / "taxonomy.yaml", "categories", f"duplicate category `{category.id}`"))
        seen.add(category.id)
    return problems


def _check_case(case: LoadedCase, categories: set[str] | None, *, strict: bool) -> list[Problem]:
    problems: list[Problem] = []
    case_path = case.path / CASE_FILE
    if case.case.id != case.path.name:
        problems.append(
            _at_key(case_path, "id", f"case id `{case.case.id}` does not match its folder `{case.path.name}`")
        )
    by_id: dict[str, list[Path]] = defaultdict(list)
    by_number: dict[int, list[Path]] = defaultdict(list)
    for loaded in case.failures:
        failure = loaded.failure
        by_id[failure.id].append(loaded.path)
        by_number[loaded.number].append(loaded.path)
        file_id = loaded.path.name.split("-", 1)[1].removesuffix(".yaml")
        if failure.id != file_id:
            problems.append(
                _at_key(loaded.path, "id", f"failure id `{failure.id}` does not match its file name (`{file_id}`)")
            )
        if failure.category is not None and categories is not None and failure.category not in categories:
            problems.append(
                _at_key(loaded.path, "category", f"unknown category `{failure.category}`; see taxonomy.yaml")
            )
        if failure.status is Status.draft:
            severity = Severity.error if strict else Severity.warning
            problems.append(_at_key(loaded.path, "status", "draft: complete it and set `status: published`", severity))
    for failure_id, paths in by_id.items():
        for path in paths[1:]:
            problems.append(
                _at_key(path, "id", f"duplicate failure id `{failure_id}` in case (also in {paths[0].name})")
            )
    for number, paths in by_number.items():
        for path in paths[1:]:
            problems.append(Problem.at(path, f"duplicate number {number:02d} in case (also {paths[0].name})"))
    summary = case.case.summary
    if summary is not None and summary.written_totals:
        reason = totals_disagreement(summary.written_totals, (f.failure for f in case.failures))
        if reason:
            problems.append(_at_key(case_path, "summary", reason, Severity.warning))
    return problems
