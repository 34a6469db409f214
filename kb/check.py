"""`kb check`: every rule a knowledge base must satisfy, beyond each record's schema."""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kb.aliases import Names, names_from
from kb.cache import RecordCache, digest
from kb.credentials import credential_problems
from kb.documents import document_problem
from kb.errors import Problem, Severity
from kb.examples import case_references, project_root
from kb.lifecycle import case_dates, check_lifecycle, outdated
from kb.models import Status, Taxonomy
from kb.recurring.links import case_recurring
from kb.store import CASE_FILE, TAXONOMY_FILE, CaseFolder, KnowledgeBase, LoadedCase, Scan, scan_files
from kb.summary import CaseSummary
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
    """Check a knowledge base. Reads only; never modifies a file (kb's cache aside).

    Incremental: unchanged files are known from the cache by their stat; the findings of
    the rules are kept for the whole KB and for each case, with what they were computed
    from (the records' bytes, the task documents' stat, the taxonomy, the examples
    references point to, what the `related` links resolved to). An unchanged KB loads no
    record at all; after an edit only the changed cases are loaded and checked again (the
    rules of the whole KB, aliases and lifecycle links, read the others' summaries).
    """
    root = Path(root)
    with RecordCache.open(root) as record_cache:
        return check_scan(scan_files(root, record_cache, slim=True), strict=strict)


def check_scan(scan: Scan, *, strict: bool = False) -> CheckReport:
    """`kb check` of a knowledge base already scanned (every case, none pending), as ``check_kb``:
    `kb render` checks the very scan it renders from, so a cold render parses each file once.
    ``scan`` is left as it was (the rules load slim records into a copy of its entries)."""
    scan = replace(scan, slim=True, entries=dict(scan.entries))
    problems = scan.problems
    found, older = _cached_rules(scan, scan.cache, strict)
    problems.extend(found)
    problems.sort(key=lambda p: (p.path, p.line, p.col, p.message))
    valid = _valid_cases(scan)
    failures = sum(1 for keys in valid for key in keys[1:] if scan.entries[key].valid)
    return CheckReport(problems, len(valid), failures, older)


def check_rules(kb: KnowledgeBase, *, strict: bool = False) -> list[Problem]:
    """The cross-record rules, for records that passed their schema.

    Rules of one case go in ``case_rules`` (what they read of other cases comes through
    ``RuleContext``); ``kb_rules`` holds the rules of the whole KB (the taxonomy, aliases,
    lifecycle links), which read of each case only its summary (``CaseSummary``). That
    split is what lets `kb check` re-check, and load, only the cases that changed.
    Credentials are apart (``credential_problems``): an export that redacts them checks
    them its own way.
    """
    cases = [CaseSummary.of(case) for case in kb.cases]
    context = RuleContext.of(kb.root, kb.taxonomy, names_from(cases), strict=strict)
    problems = kb_rules(kb.root, kb.taxonomy, cases, context.names)
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
    names: Names
    """Every id and alias of the knowledge base (for `related` links)."""
    strict: bool
    documents: Mapping[Path, Problem | None] = field(default_factory=dict)
    """Task documents already checked this run (in the pool that read the records: ``Scan.documents``)."""

    @classmethod
    def of(
        cls,
        root: Path,
        taxonomy: Taxonomy | None,
        names: Names,
        *,
        strict: bool,
        documents: Mapping[Path, Problem | None] | None = None,
    ) -> RuleContext:
        categories = frozenset(c.id for c in taxonomy.categories) if taxonomy else None
        return cls(project_root(root), categories, names, strict, documents if documents is not None else {})

    def document_problem(self, path: Path) -> Problem | None:
        """Why the task document at ``path`` is not a valid one, or None (``kb.documents.document_problem``)."""
        return self.documents[path] if path in self.documents else document_problem(path)


def kb_rules(root: Path, taxonomy: Taxonomy | None, cases: Sequence[CaseSummary], names: Names) -> list[Problem]:
    """The rules of the knowledge base as a whole: its taxonomy, aliases and lifecycle links
    (``names``: ``names_from(cases)``)."""
    return [*(_duplicate_categories(root, taxonomy) if taxonomy else []), *check_lifecycle(cases, names)]


def case_rules(case: LoadedCase, context: RuleContext) -> list[Problem]:
    """Every rule of one case: ids and numbers, categories, drafts, totals, dates, task
    documents, references, links, twins."""
    return [
        *_check_case(case, context.categories, strict=context.strict),
        *case_dates(case),
        *(p for name in case.documents if (p := context.document_problem(case.path / name))),
        *case_references(context.project, case),
        *case_recurring(case, context.names, strict=context.strict),
    ]


def blocking_problems(kb: KnowledgeBase, *, credentials: bool = True) -> list[Problem]:
    """The errors `kb check` reports for a loaded knowledge base, sorted by place.

    For commands that refuse to work on an invalid knowledge base (render, export): the
    cross-record rules and, with ``credentials``, a credential in any record.
    """
    problems = [p for p in check_rules(kb) if p.severity is Severity.error]
    if credentials:
        problems.extend(credential_problems(record_files(kb)))
    return sorted(problems, key=lambda p: (p.path, p.line, p.col, p.message))


def record_files(kb: KnowledgeBase) -> list[Path]:
    """Every record file loaded: the taxonomy, then each case's `case.yaml` and failures."""
    files = [kb.root / TAXONOMY_FILE] if kb.taxonomy else []
    for case in kb.cases:
        files.extend(_case_files(case))
    return files


def _case_files(case: LoadedCase) -> list[Path]:
    return [case.path / CASE_FILE, *(f.path for f in case.failures)]


# -- reusing findings ------------------------------------------------------------------------


def _valid_cases(scan: Scan) -> list[list[str]]:
    """The record keys of each case folder whose case record is valid (case first)."""
    return [keys for keys in map(CaseFolder.record_keys, scan.layout.cases) if scan.entries[keys[0]].valid]


def _cached_rules(scan: Scan, record_cache: RecordCache, strict: bool) -> tuple[list[Problem], int]:
    """The findings of the rules (and how many records are in an older format): the whole
    KB's when nothing changed, else each case's reused when its inputs are unchanged and
    computed again for the others. Only the cases whose records changed are loaded first
    (the others are known from their summaries, kept with their findings), then those whose
    findings cannot be reused (an example or a `related` link's target changed)."""
    examples = _Examples(project_root(scan.root))
    documents = {folder.path.name: _documents_stat(folder) for folder in scan.layout.cases}
    whole = f"check:{strict}"
    whole_key = _key(scan, strict, sorted(scan.entries), repr(sorted(documents.items())))
    reused = _reused(record_cache.result(whole), whole_key, examples)
    if reused is not None:
        return reused
    by_name = {folder.path.name: folder for folder in scan.layout.cases}
    names = [keys[0].split("/", 1)[0] for keys in _valid_cases(scan)]
    taxonomy = scan.entries[TAXONOMY_FILE].digest.hex() if TAXONOMY_FILE in scan.entries else "-"
    stored = record_cache.results(f"case:{strict}:")
    keys = {name: _key(scan, strict, by_name[name].record_keys(), taxonomy, documents[name]) for name in names}
    summaries = {name: _summary(stored.get(f"case:{strict}:{name}"), keys[name], by_name[name].path) for name in names}
    kb = scan.load([by_name[name] for name in names if summaries[name] is None])  # slim
    loaded = {case.path.name: case for case in kb.cases}
    summaries.update((name, CaseSummary.of(case)) for name, case in loaded.items())
    cases = [summary for name in names if (summary := summaries[name]) is not None]
    context = RuleContext.of(scan.root, kb.taxonomy, names_from(cases), strict=strict, documents=scan.documents)
    found = kb_rules(scan.root, kb.taxonomy, cases, context.names)
    kept = {
        name: reused
        for name in names
        if name not in loaded
        and (reused := _reused(stored.get(f"case:{strict}:{name}"), keys[name], examples, context.names)) is not None
    }
    again = [by_name[name] for name in names if name not in loaded and name not in kept]
    loaded.update((case.path.name, case) for case in (scan.load(again).cases if again else []))
    new: dict[str, dict[str, Any]] = {}
    used: dict[str, str | None] = {}
    older = 0
    for name in names:
        slot = f"case:{strict}:{name}"
        if name in kept:
            problems, count = kept[name]
        elif name in loaded:
            case = loaded[name]
            credentials = [p for key in by_name[name].record_keys() for p in scan.entries[key].credentials]
            problems, count = case_rules(case, context) + credentials, outdated(case)
            refs = {ref: context.names.resolve(ref) for f in case.failures for ref in f.failure.related_refs}
            new[slot] = _stored(keys[name], examples.of(case), problems, refs, count) | {
                "summary": (summaries[name] or CaseSummary.of(case)).dumps()  # made from the same bytes
            }
        else:
            continue
        found.extend(problems)
        older += count
        used.update((new.get(slot) or stored[slot])["examples"])
    new[whole] = _stored(whole_key, used, found, {}, older)
    record_cache.put_results(new)
    return found, older


def _documents_stat(folder: CaseFolder) -> str:
    """The stat of a case folder's task documents: a document's problems are stale when it changes."""
    stats = []
    base = f"{folder.path}{os.sep}"
    for name in folder.documents:
        try:
            st = os.stat(base + name)
        except OSError:
            stats.append(f"{name}:-")
            continue
        stats.append(f"{name}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}")
    return ";".join(stats)


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
    key: str, examples: dict[str, str | None], problems: list[Problem], refs: dict[str, str | None], outdated: int
) -> dict[str, Any]:
    dumped = [[p.path, p.line, p.col, p.message, p.severity.value] for p in problems]
    return {"key": key, "examples": examples, "refs": refs, "problems": dumped, "outdated": outdated}


def _reused(stored: Any, key: str, examples: _Examples, names: Names | None = None) -> tuple[list[Problem], int] | None:
    """Stored findings and how many records are in an older format, when computed from the
    same records, examples and resolving links."""
    try:
        if stored["key"] != key:
            return None
        if any(examples.digest(ref) != was for ref, was in stored["examples"].items()):
            return None
        if names is not None and any(names.resolve(ref) != was for ref, was in stored["refs"].items()):
            return None
        problems = [
            Problem(path, line, col, message, Severity(sev)) for path, line, col, message, sev in stored["problems"]
        ]
        return problems, int(stored["outdated"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _summary(stored: Any, key: str, folder: Path) -> CaseSummary | None:
    """A case's stored summary, when made from the same records."""
    try:
        return CaseSummary.loads(folder, stored["summary"]) if stored["key"] == key else None
    except (KeyError, TypeError, ValueError):
        return None


def _at_key(path: Path, key: str, message: str, severity: Severity = Severity.error) -> Problem:
    return problem_at(path, (key,), message, severity)


def _duplicate_categories(root: Path, taxonomy: Taxonomy) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for category in taxonomy.categories:
        if category.id in seen:
            problems.append(_at_key(root / TAXONOMY_FILE, "categories", f"duplicate category `{category.id}`"))
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
