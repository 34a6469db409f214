"""`kb check`: every rule a knowledge base must satisfy, beyond each record's schema."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.cache import RecordCache, digest
from kb.errors import Problem, Severity
from kb.examples import check_references, project_root
from kb.models import Status
from kb.recurring.links import check_recurring
from kb.store import CASE_FILE, CaseFolder, KnowledgeBase, LoadedCase, Scan, scan_files
from kb.totals import totals_disagreement
from kb.yamlio import problem_at


@dataclass(frozen=True)
class CheckReport:
    """What `kb check` found: problems sorted by place, errors and warnings."""

    problems: list[Problem]
    cases: int
    failures: int

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
    """Check a knowledge base. Reads only; never modifies a file (kb's cache aside).

    Unchanged files are known from the cache by their stat; when no record, the taxonomy
    or an example a reference points to changed, the cross-record rules' findings of the
    last run are reused too, so an unchanged knowledge base loads no record at all.
    """
    root = Path(root)
    with RecordCache.open(root) as record_cache:
        scan = scan_files(root, record_cache, slim=True)
        problems = scan.problems
        name, key = f"check:{strict}", _rules_key(scan, strict)
        found = _reused(record_cache.result(name), key, project_root(root))
        if found is None:
            kb = scan.load()
            found = check_rules(kb, strict=strict)
            examples = {ref: _example_digest(project_root(root), ref) for ref in _example_paths(kb)}
            record_cache.put_results({name: {"key": key, "examples": examples, "problems": _dump(found)}})
    problems.extend(found)
    problems.sort(key=lambda p: (p.path, p.line, p.col, p.message))
    valid = [keys for keys in map(CaseFolder.record_keys, scan.layout.cases) if scan.entries[keys[0]].valid]
    failures = sum(1 for keys in valid for key in keys[1:] if scan.entries[key].valid)
    return CheckReport(problems, len(valid), failures)


def _rules_key(scan: Scan, strict: bool) -> str:
    """Changes when any record file's bytes, the set of files or how the KB is named changes."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{strict}\0{scan.root}\0".encode())
    for path, entry in scan.entries.items():
        h.update(f"{path}\0".encode() + entry.digest)
    return h.hexdigest()


def _example_paths(kb: KnowledgeBase) -> set[str]:
    return {
        loaded.failure.ideal_response.reference.path
        for case in kb.cases
        for loaded in case.failures
        if loaded.failure.ideal_response is not None and loaded.failure.ideal_response.reference is not None
    }


def _example_digest(project: Path, ref: str) -> str | None:
    try:
        return digest((project / ref).read_bytes()).hex()
    except (OSError, ValueError):
        return None


def _reused(stored: Any, key: str, project: Path) -> list[Problem] | None:
    """The stored findings when computed from the same records and the same example files."""
    try:
        if stored["key"] != key:
            return None
        if any(_example_digest(project, ref) != was for ref, was in stored["examples"].items()):
            return None
        return [
            Problem(path, line, col, message, Severity(sev)) for path, line, col, message, sev in stored["problems"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _dump(problems: list[Problem]) -> list[list[Any]]:
    return [[p.path, p.line, p.col, p.message, p.severity.value] for p in problems]


def check_rules(kb: KnowledgeBase, *, strict: bool = False) -> list[Problem]:
    """The cross-record rules, for records that passed their schema."""
    problems: list[Problem] = []
    categories = {c.id for c in kb.taxonomy.categories} if kb.taxonomy else None
    if kb.taxonomy:
        problems.extend(_duplicate_categories(kb))
    for case in kb.cases:
        problems.extend(_check_case(case, categories, strict=strict))
    problems.extend(check_references(kb))
    problems.extend(check_recurring(kb, strict=strict))
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
