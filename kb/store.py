"""The knowledge base on disk: discover cases, load and validate records, save them.

Layout (a contract)::

    <kb>/taxonomy.yaml
    <kb>/<case-id>/case.yaml
    <kb>/<case-id>/<NN>-<failure-id>.yaml
"""

from __future__ import annotations

import os
import re
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kb import yamlio
from kb.atomic import write_text
from kb.cache import Entry, RecordCache, digest
from kb.errors import InvalidKbError, Problem, RecordError, Severity, UnsafePathError
from kb.models import SLUG_PATTERN, Case, Failure, IdealResponse, Summary, Taxonomy
from kb.validate import validate

CASE_FILE = "case.yaml"
TAXONOMY_FILE = "taxonomy.yaml"
FAILURE_FILE = re.compile(r"^(?P<nn>\d+)-(?P<id>.+)\.yaml$")
SLUG = re.compile(SLUG_PATTERN)
SCHEMA_NAMES: dict[type[BaseModel], str] = {
    Case: "case.schema.json",
    Failure: "failure.schema.json",
    Taxonomy: "taxonomy.schema.json",
}


@dataclass(frozen=True)
class LoadedFailure:
    """A failure record and where it lives."""

    path: Path
    number: int
    """The NN of the file name: the failure's place within its case."""
    failure: Failure


@dataclass
class LoadedCase:
    """A case record, its folder and its failures in NN order."""

    path: Path
    case: Case
    failures: list[LoadedFailure] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.case.id


@dataclass
class KnowledgeBase:
    """Everything loaded from one knowledge base folder."""

    root: Path
    taxonomy: Taxonomy | None
    """The KB's own `taxonomy.yaml`, else the built-in one (``taxonomy_builtin``); None only when its file is broken."""
    cases: list[LoadedCase]
    problems: list[Problem] = field(default_factory=list)
    taxonomy_builtin: bool = False
    """True when the KB has no `taxonomy.yaml` and uses kb's built-in taxonomy."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.error]

    def case(self, case_id: str) -> LoadedCase | None:
        return next((c for c in self.cases if c.id == case_id), None)


def read_record(path: Path, model: type[Any]) -> Any:
    """Read, parse and validate one record file; raise ``RecordError`` with its first problem."""
    record, problems = load_record(path, model)
    if record is None:
        raise RecordError(problems[0])
    return record


def load_record(path: Path, model: type[Any]) -> tuple[Any | None, list[Problem]]:
    """Read, parse and validate one record file. Returns the record or its problems."""
    entry = load_entry(path, model)
    return entry.record, list(entry.problems)


def parse_record(path: Path, raw: bytes, model: type[Any]) -> tuple[Any | None, list[Problem]]:
    """Decode, parse and validate a record's bytes."""
    try:
        text = yamlio.decode(path, raw)
        data = yamlio.parse(path, text)
    except RecordError as exc:
        return None, [exc.problem]
    return validate(model, data, path=path, text=text)


def inside(root: Path, path: Path) -> bool:
    """True when ``path`` (symlinks resolved) stays inside ``root``."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def case_dirs(root: Path) -> list[Path]:
    """The case folders of a knowledge base, sorted (folders starting with `.` or `_`, and `taxonomy.yaml`, are not cases)."""
    return sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")) and p.name != TAXONOMY_FILE
    )


def load_kb(root: Path | str, *, cases: list[str] | None = None, use_cache: bool = True) -> KnowledgeBase:
    """Load a knowledge base, raising ``InvalidKbError`` listing every error found."""
    kb = scan_kb(root, cases=cases, use_cache=use_cache)
    if kb.errors:
        raise InvalidKbError(kb.errors)
    return kb


def scan_kb(
    root: Path | str, *, cases: list[str] | None = None, use_cache: bool = True, slim: bool = False
) -> KnowledgeBase:
    """Load what can be loaded and collect a problem for everything else (never raises).

    Records come from the cache when their bytes are unchanged; the rest are parsed, in
    parallel when there are many. ``slim`` records are validated in full but keep only
    what the cross-record rules read (see ``slim_record``): what `kb check` needs, at a
    fraction of the memory, and with a cache of its own that loads in a blink.
    """
    root = Path(root)
    if not root.is_dir():
        problem = Problem.at(root, "knowledge base folder not found" if not root.exists() else "not a folder")
        return KnowledgeBase(root, None, [], [problem])
    layout = discover(root, cases)
    entries = load_entries(root, layout.files(), use_cache=use_cache, prune=cases is None, slim=slim)
    problems = list(layout.problems)
    for entry in entries.values():
        problems.extend(entry.problems)
    taxonomy = entries[layout.taxonomy].record if layout.taxonomy else None
    builtin = layout.taxonomy is None and not layout.taxonomy_broken
    if builtin:
        from kb.taxonomy import builtin_taxonomy

        taxonomy = builtin_taxonomy()
    loaded: list[LoadedCase] = []
    for folder in layout.cases:
        case = entries[folder.case_file].record
        failures = [
            LoadedFailure(path, number, entries[path].record)
            for number, path in folder.failures
            if entries[path].record is not None
        ]
        if case is not None:
            loaded.append(LoadedCase(folder.path, case, failures))
    return KnowledgeBase(root, taxonomy, loaded, problems, taxonomy_builtin=builtin)


@dataclass
class CaseFolder:
    path: Path
    case_file: Path
    failures: list[tuple[int, Path]]


@dataclass
class Layout:
    """The record files of a knowledge base, found without reading them."""

    taxonomy: Path | None
    cases: list[CaseFolder]
    problems: list[Problem]
    taxonomy_broken: bool = False
    """A `taxonomy.yaml` is there but cannot be read (not a regular file, or a link out of the KB)."""

    def files(self) -> list[tuple[Path, type[BaseModel]]]:
        files: list[tuple[Path, type[BaseModel]]] = [(self.taxonomy, Taxonomy)] if self.taxonomy else []
        for folder in self.cases:
            files.append((folder.case_file, Case))
            files.extend((path, Failure) for _, path in folder.failures)
        return files


def discover(root: Path, cases: list[str] | None = None) -> Layout:
    """Find taxonomy, case folders and failure files; report strays and links leaving the KB."""
    problems: list[Problem] = []
    taxonomy = root / TAXONOMY_FILE
    folders: list[CaseFolder] = []
    wanted = set(cases) if cases is not None else None
    for folder in case_dirs(root):
        if wanted is not None and folder.name not in wanted:
            continue
        if folder.is_symlink() and not inside(root, folder):
            problems.append(Problem.at(folder, "links outside the knowledge base; refusing to read it"))
            continue
        case_file = folder / CASE_FILE
        if not case_file.is_file():
            problems.append(Problem.at(folder, f"case folder without {CASE_FILE}"))
            continue
        failures: list[tuple[int, Path]] = []
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                continue
            if entry.is_symlink() and not inside(root, path):
                problems.append(Problem.at(path, "links outside the knowledge base; refusing to read it"))
                continue
            if entry.name == CASE_FILE:
                continue
            match = FAILURE_FILE.match(entry.name)
            if not match or not entry.is_file():
                problems.append(Problem.at(path, "unexpected entry: failure files are named `<NN>-<failure-id>.yaml`"))
                continue
            failures.append((int(match["nn"]), path))
        failures.sort(key=lambda item: (item[0], item[1].name))
        folders.append(CaseFolder(folder, case_file, failures))
    if wanted is not None:
        for missing in sorted(wanted - {f.path.name for f in folders}):
            problems.append(Problem.at(root / missing, f"no case `{missing}` in {root}"))
    if taxonomy.is_symlink() and not inside(root, taxonomy):
        problems.append(Problem.at(taxonomy, "links outside the knowledge base; refusing to read it"))
        return Layout(None, folders, problems, taxonomy_broken=True)
    if taxonomy.is_file():
        return Layout(taxonomy, folders, problems)
    if taxonomy.exists() or taxonomy.is_symlink():
        what = "a folder" if taxonomy.is_dir() else "not a regular file" if taxonomy.exists() else "a broken link"
        problems.append(
            Problem.at(taxonomy, f"is {what}; the taxonomy must be a YAML file (remove it to use the built-in one)")
        )
        return Layout(None, folders, problems, taxonomy_broken=True)
    return Layout(None, folders, problems)


POOL_MIN_FILES = 400
"""Below this many files to parse, a process pool costs more than it saves."""


def load_entries(
    root: Path,
    files: list[tuple[Path, type[BaseModel]]],
    *,
    use_cache: bool = True,
    prune: bool = True,
    slim: bool = False,
) -> dict[Path, Entry]:
    """Each file's record and problems: from the cache when unchanged, else parsed.

    ``prune`` forgets cached files that are not in ``files`` (when ``files`` is the whole KB).
    """
    record_cache = RecordCache.open(root, "slim" if slim else "records") if use_cache else None
    entries: dict[Path, Entry] = {}
    pending: list[tuple[Path, type[BaseModel]]] = []
    for path, model in files:
        hit = record_cache and _cached(record_cache, path)
        if hit:
            entries[path] = hit
        else:
            pending.append((path, model))
    for path, entry in _parse_all(pending, slim):
        entries[path] = entry
        if record_cache is not None:
            record_cache.put(str(path), entry)
    if record_cache is not None:
        if prune:
            record_cache.keep_only({str(path) for path, _ in files})
        record_cache.save()
    return entries


def _cached(record_cache: RecordCache, path: Path) -> Entry | None:
    entry = record_cache.entries.get(str(path))
    if entry is None:
        return None
    try:
        stat = path.stat()
        if (stat.st_size, stat.st_mtime_ns) != (entry.size, entry.mtime_ns):
            return None
        return record_cache.get(str(path), stat, digest(path.read_bytes()))
    except OSError:
        return None


def load_entry(path: Path, model: type[BaseModel], slim: bool = False) -> Entry:
    """Read and validate one file into a cache entry (runs in worker processes too)."""
    try:
        with path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            raw = handle.read(yamlio.MAX_RECORD_BYTES + 1)
    except OSError as exc:
        problem = Problem.at(path, f"cannot read: {exc.strerror or exc}")
        return Entry(0, 0, b"", None, (problem,))
    if len(raw) > yamlio.MAX_RECORD_BYTES:
        limit = f"file is {stat.st_size:,} bytes; records are limited to {yamlio.MAX_RECORD_BYTES:,}"
        return Entry(stat.st_size, stat.st_mtime_ns, b"", None, (Problem.at(path, limit),))
    record, problems = parse_record(path, raw, model)
    if slim and record is not None:
        record = slim_record(record)
    return Entry(stat.st_size, stat.st_mtime_ns, digest(raw), record, tuple(problems))


def _load_chunk(chunk: list[tuple[Path, type[BaseModel]]], slim: bool) -> list[Entry]:
    return [load_entry(path, model, slim) for path, model in chunk]


def _parse_all(pending: list[tuple[Path, type[BaseModel]]], slim: bool) -> list[tuple[Path, Entry]]:
    workers = min(os.cpu_count() or 1, 8)
    if len(pending) < POOL_MIN_FILES or workers < 2:
        return [(path, load_entry(path, model, slim)) for path, model in pending]
    size = max(50, len(pending) // (workers * 8))
    chunks = [pending[i : i + size] for i in range(0, len(pending), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_load_chunk, chunks, [slim] * len(chunks))
        return [
            item
            for chunk, entries in zip(chunks, results, strict=True)
            for item in zip((p for p, _ in chunk), entries, strict=True)
        ]


def slim_record(record: BaseModel) -> BaseModel:
    """A validated record stripped to what the cross-record rules read: ids, title, impact,
    status, category, related links, the reference and the written totals; everything else at its default."""
    if isinstance(record, Failure):
        ideal = record.ideal_response
        reference = IdealResponse(reference=ideal.reference) if ideal and ideal.reference else None
        return Failure(
            id=record.id,
            title=record.title,
            impact=record.impact,
            status=record.status,
            kind=record.kind,
            category=record.category,
            related=record.related,
            ideal_response=reference,
        )
    if isinstance(record, Case):
        written = record.summary.written_totals if record.summary else None
        summary = Summary(written_totals=written) if written else None
        return Case(id=record.id, title=record.title, summary=summary)
    return record


# -- writing ---------------------------------------------------------------------------


def record_data(record: BaseModel) -> dict[str, Any]:
    """A record as plain data in field order, leaving out what is empty or default."""
    return record.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


def dump_record(record: BaseModel) -> str:
    """The YAML text of a record, modeline first, keys in the schema's order."""
    return yamlio.dump(record_data(record), schema_name=SCHEMA_NAMES[type(record)])


def check_id(value: str, *, what: str) -> str:
    """Refuse ids that are not slugs (and so could name a path outside the KB)."""
    if not SLUG.match(value) or len(value) > 120:
        raise UnsafePathError(value, reason=f"{what} ids are lowercase letters, digits and hyphens (e.g. `pr7060`)")
    return value


SLUG_LENGTH = 60
"""Ids made from titles are cut to this length, at a word boundary where one is near."""


def slugify(text: str, max_length: int = SLUG_LENGTH) -> str:
    """`Missing IAM Permission (DLQ)` -> `missing-iam-permission-dlq`; empty when no letter or digit is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        cut = slug[: max_length + 1].rfind("-")
        slug = slug[: cut if cut > max_length // 2 else max_length].strip("-")
    return slug


def failure_file_name(number: int, failure_id: str) -> str:
    return f"{number:02d}-{check_id(failure_id, what='failure')}.yaml"


def save_record(path: Path, record: BaseModel) -> Path:
    """Write a record atomically (temp file + rename)."""
    write_text(path, dump_record(record))
    return path
