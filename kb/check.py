"""`kb check`: every rule a knowledge base must satisfy, beyond each record's schema."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.cache import RecordCache, digest
from kb.errors import Problem, Severity
from kb.examples import case_references, project_root
from kb.models import Status
from kb.recurring.links import case_recurring
from kb.store import CASE_FILE, TAXONOMY_FILE, CaseFolder, KnowledgeBase, LoadedCase, Scan, scan_files
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

    Incremental: unchanged files are known from the cache by their stat; the findings of
    the cross-record rules are kept for the whole KB and for each case, with what they were
    computed from (the records' bytes, the taxonomy, the examples references point to, the
    `related` links that resolved). An unchanged KB loads no record at all; after an edit
    only the cases whose inputs changed are loaded and checked again.
    """
    root = Path(root)
    with RecordCache.open(root) as record_cache:
        scan = scan_files(root, record_cache, slim=True)
        problems = scan.problems
        problems.extend(_cached_rules(scan, record_cache, strict))
    problems.sort(key=lambda p: (p.path, p.line, p.col, p.message))
    valid = _valid_cases(scan)
    failures = sum(1 for keys in valid for key in keys[1:] if scan.entries[key].valid)
    return CheckReport(problems, len(valid), failures)


def check_rules(kb: KnowledgeBase, *, strict: bool = False) -> list[Problem]:
    """The cross-record rules, for records that passed their schema.

    Rules of one case go in ``case_rules`` (what they read of other cases comes through
    ``RuleContext``, which is known without loading other records); ``kb_rules`` holds the
    rules of the taxonomy. That split is what lets `kb check` re-check only what changed.
    """
    context = RuleContext.of(kb, strict=strict)
    problems = kb_rules(kb)
    for case in kb.cases:
        problems.extend(case_rules(case, context))
    return problems


@dataclass(frozen=True)
class RuleContext:
    """What the rules of one case read of the rest of the knowledge base."""

    project: Path
    """The folder references are relative to."""
    categories: frozenset[str] | None
    """The taxonomy's category keys (None without a taxonomy)."""
    known: frozenset[str]
    """Every `<case>/<failure>` of the knowledge base (for `related` links)."""
    strict: bool

    @classmethod
    def of(cls, kb: KnowledgeBase, *, strict: bool, known: frozenset[str] | None = None) -> RuleContext:
        if known is None:
            known = frozenset(f"{case.id}/{loaded.failure.id}" for case in kb.cases for loaded in case.failures)
        categories = frozenset(c.id for c in kb.taxonomy.categories) if kb.taxonomy else None
        return cls(project_root(kb.root), categories, known, strict)


def kb_rules(kb: KnowledgeBase) -> list[Problem]:
    """The rules of the knowledge base as a whole (its taxonomy)."""
    return _duplicate_categories(kb) if kb.taxonomy else []


def case_rules(case: LoadedCase, context: RuleContext) -> list[Problem]:
    """Every rule of one case: ids and numbers, categories, drafts, totals, references, links, twins."""
    return [
        *_check_case(case, context.categories, strict=context.strict),
        *case_references(context.project, case),
        *case_recurring(case, context.known, strict=context.strict),
    ]


# -- reusing findings ------------------------------------------------------------------------


def _valid_cases(scan: Scan) -> list[list[str]]:
    """The record keys of each case folder whose case record is valid (case first)."""
    return [keys for keys in map(CaseFolder.record_keys, scan.layout.cases) if scan.entries[keys[0]].valid]


def _cached_rules(scan: Scan, record_cache: RecordCache, strict: bool) -> list[Problem]:
    """The cross-record findings: the whole KB's when nothing changed, else each case's
    reused when its inputs are unchanged and computed again for the others."""
    examples = _Examples(project_root(scan.root))
    whole, whole_key = f"check:{strict}", _key(scan, strict, sorted(scan.entries))
    found = _reused(record_cache.result(whole), whole_key, examples)
    if found is not None:
        return found
    valid = _valid_cases(scan)
    known = frozenset(
        f"{scan.entries[keys[0]].ident}/{scan.entries[key].ident}"
        for keys in valid
        for key in keys[1:]
        if scan.entries[key].valid
    )
    taxonomy = scan.entries[TAXONOMY_FILE].digest.hex() if TAXONOMY_FILE in scan.entries else "-"
    stored = record_cache.results(f"case:{strict}:")
    by_name = {folder.path.name: folder for folder in scan.layout.cases}
    findings: dict[str, list[Problem]] = {}
    case_keys: dict[str, str] = {}
    for keys in valid:
        name = keys[0].split("/", 1)[0]
        case_keys[name] = _key(scan, strict, keys, taxonomy)
        problems = _reused(stored.get(f"case:{strict}:{name}"), case_keys[name], examples, known)
        if problems is not None:
            findings[name] = problems
    stale = [by_name[name] for name in case_keys if name not in findings]
    kb = scan.load(stale)  # the taxonomy and the stale cases
    context = RuleContext.of(kb, strict=strict, known=known)
    new: dict[str, dict[str, Any]] = {}
    for case in kb.cases:
        name = case.path.name
        findings[name] = case_rules(case, context)
        refs = {ref: ref in known for loaded in case.failures for ref in loaded.failure.related}
        new[f"case:{strict}:{name}"] = _stored(case_keys[name], examples.of(case), findings[name], refs)
    found = kb_rules(kb)
    used: dict[str, str | None] = {}
    for name in case_keys:
        found.extend(findings[name])
        value = new.get(f"case:{strict}:{name}") or stored[f"case:{strict}:{name}"]
        used.update(value["examples"])
    new[whole] = _stored(whole_key, used, found, {})
    record_cache.put_results(new)
    return found


def _key(scan: Scan, strict: bool, keys: list[str], *extra: str) -> str:
    """Changes when the bytes of any of the files ``keys`` change, or which files they are, or how the KB is named."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{strict}\0{scan.root}\0{extra}\0".encode())
    for key in keys:
        h.update(f"{key}\0".encode() + scan.entries[key].digest)
    return h.hexdigest()


class _Examples:
    """The digests of the example files references point to, each read once a run."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.seen: dict[str, str | None] = {}

    def digest(self, ref: str) -> str | None:
        if ref not in self.seen:
            try:
                self.seen[ref] = digest((self.project / ref).read_bytes()).hex()
            except (OSError, ValueError):
                self.seen[ref] = None
        return self.seen[ref]

    def of(self, case: LoadedCase) -> dict[str, str | None]:
        refs = (f.failure.ideal_response.reference for f in case.failures if f.failure.ideal_response is not None)
        return {ref.path: self.digest(ref.path) for ref in refs if ref is not None}


def _stored(
    key: str, examples: dict[str, str | None], problems: list[Problem], refs: dict[str, bool]
) -> dict[str, Any]:
    dumped = [[p.path, p.line, p.col, p.message, p.severity.value] for p in problems]
    return {"key": key, "examples": examples, "refs": refs, "problems": dumped}


def _reused(stored: Any, key: str, examples: _Examples, known: frozenset[str] = frozenset()) -> list[Problem] | None:
    """Stored findings, when computed from the same records, examples and resolving links."""
    try:
        if stored["key"] != key:
            return None
        if any(examples.digest(ref) != was for ref, was in stored["examples"].items()):
            return None
        if any((ref in known) != was for ref, was in stored["refs"].items()):
            return None
        return [
            Problem(path, line, col, message, Severity(sev)) for path, line, col, message, sev in stored["problems"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


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


def _check_case(case: LoadedCase, categories: frozenset[str] | None, *, strict: bool) -> list[Problem]:
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
