"""Import many documents across all cores; results come back in document order."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.errors import KbError, Problem, Severity
from kb.facets import infer_case, infer_failure
from kb.importer.assemble import assemble_case
from kb.importer.decode import decode_document
from kb.importer.discover import ImportPlan, Job, plan_import
from kb.importer.metadata import read_task
from kb.importer.taxonomy import known_categories
from kb.importer.write import case_files, write_case_files
from kb.models import Source
from kb.recurring.categorise import categorise_failures
from kb.recurring.duplicates import mark_duplicates, sign_case
from kb.taxonomy import write_builtin_taxonomy

INLINE_LIMIT = 8
"""Up to this many documents are imported in-process (a pool costs more than it saves)."""
CHUNK = 24
"""Documents per task sent to a worker process (progress is reported per chunk)."""


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
    signature: list[int] | None = None
    """The document's MinHash signature, to find near-copies (``kb.recurring.duplicates``)."""

    @property
    def imported(self) -> bool:
        return self.error is None


@dataclass
class ImportResult:
    """The outcome of an import, document by document, plus paths that could not be used."""

    into: Path
    documents: list[DocumentResult]
    problems: list[Problem] = field(default_factory=list)

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


def import_documents(
    paths: list[Path],
    into: Path,
    *,
    force: bool = False,
    on_progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> ImportResult:
    """Import every document under ``paths`` into the knowledge base folder ``into``."""
    return run_import(plan_import(paths), into, force=force, on_progress=on_progress, workers=workers)


def run_import(
    plan: ImportPlan,
    into: Path,
    *,
    force: bool = False,
    on_progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> ImportResult:
    """Import the planned documents, in parallel when there are many; never raises for a document."""
    into.mkdir(parents=True, exist_ok=True)
    write_builtin_taxonomy(into)
    categories = known_categories(into)
    jobs = plan.jobs
    workers = max(1, workers or os.cpu_count() or 1)
    results: list[DocumentResult] = []
    if workers == 1 or len(jobs) <= INLINE_LIMIT:
        for start in range(0, len(jobs), CHUNK):
            done = _import_chunk(jobs[start : start + CHUNK], into, force, categories)
            results.extend(done)
            if on_progress:
                on_progress(len(done))
    else:
        size = max(1, min(CHUNK, len(jobs) // (workers * 4) or 1))
        chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
            futures = [pool.submit(_import_chunk, chunk, into, force, categories) for chunk in chunks]
            for future in as_completed(futures):
                done = future.result()
                results.extend(done)
                if on_progress:
                    on_progress(len(done))
    results.sort(key=lambda r: r.index)
    mark_duplicates(into, results)
    return ImportResult(into, results, list(plan.problems))


def _import_chunk(jobs: list[Job], into: Path, force: bool, categories: frozenset[str]) -> list[DocumentResult]:
    """Parse, assemble and write each document of a chunk."""
    results: list[DocumentResult] = []
    for job in jobs:
        result, files = prepare_one(job, categories=categories)
        results.append(result)
        if files is None:
            continue
        try:
            write_case_files(into, job.case_id, files, force=force)
        except Exception as exc:
            _record_error(result, exc)
            result.failures = 0
    return results


def import_one(job: Job, into: Path, *, force: bool, categories: frozenset[str]) -> DocumentResult:
    """Read, parse, assemble and write one document. Errors become part of the result."""
    return _import_chunk([job], into, force, categories)[0]


def prepare_one(job: Job, *, categories: frozenset[str]) -> tuple[DocumentResult, list[tuple[str, str]] | None]:
    """Read, decode and assemble one document into the texts of its case folder (None on error)."""
    result = DocumentResult(job.index, job.source_path, job.case_id)
    try:
        raw = job.document.read_bytes()
    except OSError as exc:
        result.error = f"cannot read: {exc.strerror or exc}"
        return result, None
    try:
        decoded = decode_document(raw)
        task = read_task(job.task_folder, job.document)
        source = Source(path=job.source_path, sha256=hashlib.sha256(raw).hexdigest())
        assembled = assemble_case(
            decoded.text,
            case_id=job.case_id,
            fallback_title=job.fallback_title,
            source=source,
            task=task.task,
            categories=categories,
        )
        result.warnings = decoded.warnings + task.warnings + assembled.warnings
        result.failures = len(assembled.failures)
        failures = [infer_failure(f) for f in categorise_failures(assembled.failures, categories)]
        result.signature = sign_case(failures)
        return result, case_files(infer_case(assembled.case, failures), failures)
    except Exception as exc:
        _record_error(result, exc)
        return result, None


def _record_error(result: DocumentResult, exc: BaseException) -> None:
    if isinstance(exc, KbError):
        result.error = str(exc)
    elif isinstance(exc, OSError):
        result.error = f"cannot write: {exc.strerror or exc}"
    else:  # a bug in kb: report it for this document, carry on with the others
        result.error = f"internal error while importing ({type(exc).__name__}: {exc}); please report it"
        result.crashed = True
