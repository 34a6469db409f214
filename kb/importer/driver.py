"""Import many documents across all cores; results come back in document order."""

from __future__ import annotations

import errno
import functools
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.atomic import write_bytes
from kb.errors import ExistsError, KbError, Problem, Severity, WriteError
from kb.facets import infer_case, infer_failure
from kb.importer.assemble import assemble_case
from kb.importer.decode import decode_document
from kb.importer.discover import ImportPlan, Job, plan_import
from kb.importer.lifecycle import date_records, settle_aliases, source_aliases
from kb.importer.limits import DEFAULT_LIMITS, ImportLimits, cut
from kb.importer.metadata import read_task
from kb.importer.taxonomy import known_categories
from kb.importer.write import case_files, importing, write_case_files
from kb.models import Case, Source, Task
from kb.pool import crashed, worker_pool
from kb.recurring.categorise import categorise_failures
from kb.recurring.duplicates import mark_duplicates, sign_case
from kb.secrets import Secret, find_secrets
from kb.secrets import redact as redact_text
from kb.store import CASE_FILE, dump_record, read_regular, record_data
from kb.taxonomy import write_builtin_taxonomy
from kb.yamlio import MAX_RECORD_BYTES

_CANNOT_WRITE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}

INLINE_LIMIT = 8
"""Up to this many documents are imported in-process (a pool costs more than it saves)."""
CHUNK = 8
"""Documents per task sent to a worker process (progress is reported per chunk); small, so
neither worker waits long for the other at the end."""


@dataclass
class DocumentResult:
    """What importing one document gave."""

    index: int
    source: str
    case_id: str
    failures: int = 0
    warnings: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    """Why no case was written (an existing case without --force, an unreadable file, a bug)."""
    crashed: bool = False
    """The error was unexpected: a bug in kb, reported instead of a traceback."""
    exists: bool = False
    """The error is a case of that id already there (it may be replaced on request)."""
    signature: list[int] | None = None
    """The document's MinHash signature, to find near-copies (``kb.recurring.duplicates``)."""
    aliases: list[str] = field(default_factory=list)
    """The case's aliases (the source's own names and ids), settled across the import (``kb.importer.lifecycle``)."""
    case: Case | None = None
    """The case record as written, for ``_settle`` to update without reading it back."""

    @property
    def imported(self) -> bool:
        return self.error is None


@dataclass
class ImportResult:
    """The outcome of an import, document by document, plus paths that could not be used."""

    into: Path
    documents: list[DocumentResult]
    problems: list[Problem] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    """What was put right first, left by an interrupted import (a case restored, staging folders removed)."""

    @property
    def cases(self) -> int:
        return sum(1 for d in self.documents if d.imported)

    @property
    def failures(self) -> int:
        return sum(d.failures for d in self.documents if d.imported)

    @property
    def warnings_by_kind(self) -> dict[str, int]:
        counts = Counter(kind for d in self.documents for kind, _ in d.warnings)
        return dict(sorted(counts.items()))

    @property
    def errors(self) -> list[Problem]:
        found = [p for p in self.problems if p.severity is Severity.error]
        found += [Problem.at(d.source, d.error) for d in self.documents if d.error]
        return found

    @property
    def warnings(self) -> list[Problem]:
        return [
            Problem.at(d.source, message, severity=Severity.warning)
            for d in self.documents
            for _, message in d.warnings
        ]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "into": str(self.into),
            "documents": len(self.documents),
            "cases": self.cases,
            "failures": self.failures,
            "warnings": self.warnings_by_kind,
            "errors": [str(p) for p in self.errors],
            "recovered": self.recovered,
            "results": [
                {
                    "source": d.source,
                    "case": d.case_id if d.imported else None,
                    "failures": d.failures,
                    "warnings": [{"kind": k, "message": m} for k, m in d.warnings],
                    "error": d.error,
                }
                for d in self.documents
            ],
        }


@dataclass(frozen=True)
class ImportOptions:
    """How an import treats what it finds."""

    force: bool = False
    """Replace a case of the same id (else that document is reported and skipped)."""
    redact: bool = False
    """Replace credentials found in documents, prompts and metadata with `[REDACTED:<kind>]`."""
    limits: ImportLimits = DEFAULT_LIMITS


def import_documents(
    paths: list[Path],
    into: Path,
    *,
    force: bool = False,
    redact: bool = False,
    limits: ImportLimits = DEFAULT_LIMITS,
    on_progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> ImportResult:
    """Import every document under ``paths`` into the knowledge base folder ``into``."""
    options = ImportOptions(force=force, redact=redact, limits=limits)
    return run_import(plan_import(paths), into, options=options, on_progress=on_progress, workers=workers)


def run_import(
    plan: ImportPlan,
    into: Path,
    *,
    force: bool = False,
    options: ImportOptions | None = None,
    on_progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> ImportResult:
    """Import the planned documents, in parallel when there are many; never raises for a document."""
    options = options or ImportOptions(force=force)
    with importing(into) as recovered:
        result = _run(plan, into, options, on_progress=on_progress, workers=workers)
    result.recovered = recovered
    return result


def _run(
    plan: ImportPlan,
    into: Path,
    options: ImportOptions,
    *,
    on_progress: Callable[[int], None] | None,
    workers: int | None,
) -> ImportResult:
    write_builtin_taxonomy(into)
    categories = known_categories(into)
    jobs = plan.jobs
    workers = max(1, workers or os.cpu_count() or 1)
    results: list[DocumentResult] = []
    if workers == 1 or len(jobs) <= INLINE_LIMIT:
        for start in range(0, len(jobs), CHUNK):
            done = _import_chunk(jobs[start : start + CHUNK], into, options, categories)
            results.extend(done)
            if on_progress:
                on_progress(len(done))
        results.sort(key=lambda r: r.index)
        _rewrite_cases(into, _settle(into, results))
    else:
        size = max(1, min(CHUNK, len(jobs) // (workers * 4) or 1))
        chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        finished = [0]
        with crashed(f"import into {into}", finished, len(jobs)), worker_pool(min(workers, len(chunks))) as pool:
            futures = [pool.submit(_import_chunk, chunk, into, options, categories) for chunk in chunks]
            for future in as_completed(futures):
                done = future.result()
                results.extend(done)
                finished[0] += len(done)
                if on_progress:
                    on_progress(len(done))
            results.sort(key=lambda r: r.index)
            rewrites = _settle(into, results)
            step = max(1, len(rewrites) // (workers * 4))
            batches = [rewrites[i : i + step] for i in range(0, len(rewrites), step)]
            list(pool.map(_rewrite_cases, [into] * len(batches), batches))  # shared out as the documents were
    return ImportResult(into, results, list(plan.problems))


def _settle(into: Path, results: list[DocumentResult]) -> list[Case]:
    """What needs every document (near-copies, ambiguous aliases): the cases it changed, to rewrite once each."""
    originals = mark_duplicates(into, results)
    renamed = settle_aliases(into, results)
    changed = []
    for result in results:
        case, result.case = result.case, None
        if case is None or not result.imported or (result.case_id not in originals and result.case_id not in renamed):
            continue
        update = {"duplicate_of": originals.get(result.case_id, case.duplicate_of), "aliases": result.aliases}
        changed.append(case.model_copy(update=update))
    return changed


def _rewrite_cases(into: Path, cases: list[Case]) -> None:
    """Rewrite each case's `case.yaml`: atomic but not fsync'ed, as its first write was (the
    import's rename is its commit point, and a crash leaves the case as first written)."""
    for case in cases:
        write_bytes(into / case.id / CASE_FILE, dump_record(case).encode(), durable=False)


def _import_chunk(
    jobs: list[Job], into: Path, options: ImportOptions, categories: frozenset[str]
) -> list[DocumentResult]:
    """Parse, assemble and write each document of a chunk."""
    results: list[DocumentResult] = []
    for job in jobs:
        result, files = prepare_one(job, categories=categories, options=options)
        results.append(result)
        if files is None:
            continue
        try:
            write_case_files(into, job.case_id, files, force=options.force)
        except OSError as exc:
            if exc.errno in _CANNOT_WRITE:  # every other case would fail the same way: stop here
                raise WriteError(
                    f"cannot write into {into} ({exc.strerror}); the import stopped, the cases written are whole"
                ) from None
            _record_error(result, exc)
            result.failures = 0
        except Exception as exc:
            _record_error(result, exc)
            result.failures = 0
    return results


def import_one(
    job: Job, into: Path, *, force: bool, categories: frozenset[str], options: ImportOptions | None = None
) -> DocumentResult:
    """Read, parse, assemble and write one document. Errors become part of the result."""
    return _import_chunk([job], into, options or ImportOptions(force=force), categories)[0]


def prepare_one(
    job: Job, *, categories: frozenset[str], options: ImportOptions | None = None
) -> tuple[DocumentResult, list[tuple[str, str]] | None]:
    """Read, decode and assemble one document into the texts of its case folder (None on error)."""
    options = options or ImportOptions()
    limits = options.limits
    result = DocumentResult(job.index, job.source_path, job.case_id)
    warnings: list[tuple[str, str]] = []
    try:
        raw, size = read_regular(job.document, limits.document + 1, within=job.root)
    except OSError as exc:
        result.error = f"cannot read: {exc.strerror or exc}"
        return result, None
    try:
        raw = cut(raw, size, limits.document, "the document", warnings)
        decoded = decode_document(raw)
        task = read_task(job.task_folder, job.document, limits)
        text = _screen(decoded.text, "the document", options.redact, warnings)
        task_record = _screen_task(task.task, options.redact, warnings)
        documents = {name: _screen(text, name, options.redact, warnings) for name, text in task.documents.items()}
        source = Source(path=job.source_path, sha256=hashlib.sha256(raw).hexdigest())
        assembled = assemble_case(
            text,
            case_id=job.case_id,
            fallback_title=job.fallback_title,
            source=source,
            task=task_record,
            categories=categories,
        )
        result.warnings = warnings + decoded.warnings + task.warnings + assembled.warnings
        result.failures = len(assembled.failures)
        failures = [infer_failure(f) for f in categorise_failures(assembled.failures, categories)]
        result.aliases = source_aliases(job.case_id, job.fallback_title, task_record)
        case, failures = date_records(infer_case(assembled.case, failures), failures, task_record, result.aliases)
        data = [record_data(f) for f in failures]  # once, for the signature and the files
        result.signature = sign_case(data)
        files = case_files(case, failures, documents, data)
    except Exception as exc:
        _record_error(result, exc)
        return result, None
    for name, content in files:
        if len(content.encode("utf-8", "surrogatepass")) > MAX_RECORD_BYTES:
            result.error = (
                f"its {name} would be over {MAX_RECORD_BYTES:,} bytes, the most a record may hold; not imported"
            )
            result.failures = 0
            return result, None
    result.case = case
    return result, files


def _screen(
    text: str,
    what: str,
    redact: bool,
    warnings: list[tuple[str, str]],
    find: Callable[[str], Sequence[Secret]] = find_secrets,
) -> str:
    """``text`` with a warning for each credential in it; redacted when ``redact``."""
    secrets = list(find(text))
    for secret in secrets:
        line = text.count("\n", 0, secret.start) + 1
        done = "redacted" if redact else "kept: `kb check` reports it until it is removed or redacted"
        warnings.append(("credential", f"{what}, line {line}: {secret.label}; {done}"))
    return redact_text(text, secrets) if redact and secrets else text


def _screen_task(task: Task | None, redact: bool, warnings: list[tuple[str, str]]) -> Task | None:
    if task is None:
        return None
    prompt = _screen(task.prompt, "the prompt", redact, warnings) if task.prompt else task.prompt
    found = len(warnings)
    metadata = _screen_data(task.metadata, redact, warnings) if task.metadata else task.metadata
    if len(warnings) == found and prompt == task.prompt:
        return task
    return task.model_copy(update={"prompt": prompt, "metadata": metadata})


def _screen_data(value: Any, redact: bool, warnings: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        return _screen(value, "the metadata", redact, warnings, _secrets_in_value)
    if isinstance(value, dict):
        return {key: _screen_data(item, redact, warnings) for key, item in value.items()}
    if isinstance(value, list):
        return [_screen_data(item, redact, warnings) for item in value]
    return value


@functools.lru_cache(maxsize=4096)
def _secrets_in_value(text: str) -> tuple[Secret, ...]:
    """``find_secrets`` of a metadata value, remembered: the same values (platforms, services,
    teams, labels) recur across tasks, and a task's metadata has a score of them."""
    return tuple(find_secrets(text))


def _record_error(result: DocumentResult, exc: BaseException) -> None:
    result.exists = isinstance(exc, ExistsError) and exc.replaceable
    if isinstance(exc, KbError):
        result.error = str(exc)
    elif isinstance(exc, OSError):
        result.error = f"cannot write: {exc.strerror or exc}"
    else:  # a bug in kb: report it for this document, carry on with the others
        result.error = f"internal error while importing ({type(exc).__name__}: {exc}); please report it"
        result.crashed = True
