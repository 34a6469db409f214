"""The knowledge base on disk: discover cases, load and validate records, save them.

Layout (a contract)::

    <kb>/taxonomy.yaml
    <kb>/<case-id>/case.yaml
    <kb>/<case-id>/<NN>-<failure-id>.yaml
"""

from __future__ import annotations

import contextlib
import errno
import gc
import hashlib
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from stat import S_ISREG
from typing import Any, NamedTuple

from pydantic import BaseModel

from kb import yamlio
from kb.atomic import write_text
from kb.cache import Listings, RecordCache, Stat, Stored, digest
from kb.credentials import credentials_in
from kb.documents import PROMPT, TASK_DOCUMENTS, document_problem, read_document
from kb.errors import InvalidKbError, Problem, RecordError, Severity, UnsafePathError
from kb.fileindex import Known
from kb.layout import CASE_FILE as CASE_FILE
from kb.layout import FAILURE_FILE as FAILURE_FILE
from kb.models import SLUG_PATTERN, Case, Failure, IdealResponse, Summary, Task, Taxonomy
from kb.validate import validate

STAGING_PREFIX = ".import-"
"""Folders an import writes a case into before moving it into place (``kb.importer.write``)."""
OLD_PREFIX = ".import-old-"
"""Where a replacement keeps the old case, as `.import-old-*/<case-id>`, between its two steps."""
TAXONOMY_FILE = "taxonomy.yaml"
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
    documents: tuple[str, ...] = ()
    """The task documents in the case folder (names from ``TASK_DOCUMENTS``), read only on demand."""

    @property
    def id(self) -> str:
        return self.case.id

    def document(self, name: str) -> str | None:
        """The text of a task document (`PROMPT.md`, ...), None when the case has none.

        The prompt falls back to the record's `task.prompt` (hand-written cases may keep it there).
        """
        if name in self.documents:
            return read_document(self.path / name)
        if name == PROMPT and self.case.task is not None:
            return self.case.task.prompt
        return None


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
    _, entry = load_entry(path, model)
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


class NotRegularError(OSError):
    """A path that import and the KB only read when it is a regular file inside its tree."""


def read_regular(path: Path, limit: int, *, within: Path | None = None) -> tuple[bytes, int]:
    """The first ``limit`` bytes of a regular file, and its full size.

    Never follows a symbolic link at ``path`` (``O_NOFOLLOW``), never blocks on a FIFO or
    device (``O_NONBLOCK``, then ``fstat``: anything but a regular file is refused), and
    with ``within``, refuses a path that resolves outside that folder. Raises
    ``NotRegularError`` (an ``OSError``) saying which.
    """
    if within is not None and not inside(within, path):
        raise NotRegularError(f"links outside {within}; not read")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRegularError("a symbolic link; not followed") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        stat = os.fstat(fd)
        if not S_ISREG(stat.st_mode):
            raise NotRegularError("not a regular file (a FIFO, device or socket); not read")
        return handle.read(limit), stat.st_size


def case_dirs(root: Path) -> list[Path]:
    """The case folders of a knowledge base, sorted (folders starting with `.` or `_`, and `taxonomy.yaml`, are not cases)."""
    return sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")) and p.name != TAXONOMY_FILE
    )


def load_kb(
    root: Path | str, *, cases: list[str] | None = None, use_cache: bool = True, slim: bool = False
) -> KnowledgeBase:
    """Load a knowledge base, raising ``InvalidKbError`` listing every error found (``slim``: see ``scan_kb``)."""
    kb = scan_kb(root, cases=cases, use_cache=use_cache, slim=slim)
    if kb.errors:
        raise InvalidKbError(kb.errors)
    return kb


def scan_kb(
    root: Path | str, *, cases: list[str] | None = None, use_cache: bool = True, slim: bool = False
) -> KnowledgeBase:
    """Load what can be loaded and collect a problem for everything else (never raises).

    Records come from the cache when their files are unchanged (see ``kb.cache``); the
    rest are parsed, in parallel when there are many. ``slim`` records are validated in
    full but keep only what `kb check` and `kb stats` read (see ``slim_record``): a
    fraction of the memory, and a cache entry that loads in a blink.
    """
    with RecordCache.open(Path(root), enabled=use_cache) as record_cache:
        return scan_files(root, record_cache, cases=cases, slim=slim).load()


class Entry(NamedTuple):
    """What reading one file gave: its problems and, when it is valid, its record (once loaded)."""

    problems: tuple[Problem, ...]
    valid: bool
    digest: bytes
    ident: str | None = None
    """The record's id (a case's or a failure's), known without loading it."""
    record: Any = None
    credentials: tuple[Problem, ...] = ()
    """The credentials in a valid record's file, as `kb check` errors (``kb.credentials``)."""


@dataclass
class Scan:
    """The record files of a knowledge base by key (path relative to the KB, ``/``-separated),
    each known from the cache by its stat or read again when it changed; records are loaded
    only on demand (``load``)."""

    root: Path
    layout: Layout
    entries: dict[str, Entry]
    models: dict[str, type[BaseModel]]
    cache: RecordCache
    slim: bool
    pending: list[str] = field(default_factory=list)
    """Files changed since the cache saw them (or new), not read yet."""
    documents: dict[Path, Problem | None] = field(default_factory=dict)
    """Task documents checked (``document_problem``) while the records were read in worker processes."""

    def parse_pending(self) -> None:
        """Read and parse the pending files (in parallel when there are many, each worker's part
        taken in, and written to the cache, while the others still read; the task documents of
        the cases read are checked in the same pool)."""
        keys = list(self.pending)
        pending = [(self.root / key, self.models[key]) for key in keys]
        cases = {key for key in keys if key.endswith(f"/{CASE_FILE}")}
        documents = [
            folder.path / name
            for folder in self.layout.cases
            if folder.documents and f"{folder.path.name}/{CASE_FILE}" in cases
            for name in folder.documents
        ]
        done = 0
        for chunk in _parse_chunks(pending, self.slim, documents, self.documents):
            self.adopt(list(zip(keys[done : done + len(chunk)], chunk, strict=True)))
            done += len(chunk)
        self.cache.flush()

    def adopt(self, parsed: list[tuple[str, Parsed]]) -> None:
        """Take in files read (here or in a worker process) and remember them in the cache."""
        with gc_paused():
            self._adopt(parsed)

    def _adopt(self, parsed: list[tuple[str, Parsed]]) -> None:
        stored: list[Stored] = []
        for key, (stat, entry, payloads) in parsed:
            self.entries[key] = entry
            if stat is not None:
                stored.append(Stored(key, stat, entry.digest, entry.problems, entry.ident, payloads, entry.credentials))
        done = {key for key, _ in parsed}
        self.pending = [key for key in self.pending if key not in done]
        self.cache.store(stored)

    @property
    def problems(self) -> list[Problem]:
        problems = list(self.layout.problems)
        for entry in self.entries.values():
            problems.extend(entry.problems)
        return problems

    def content_key(self) -> str:
        """Changes when any record file's bytes change, or which files there are, or how the KB is named."""
        h = hashlib.blake2b(f"{self.root}\0".encode(), digest_size=16)
        for key in sorted(self.entries):
            h.update(f"{key}\0".encode() + self.entries[key].digest)
        return h.hexdigest()

    def digests(self, folder: CaseFolder) -> list[tuple[str, str]]:
        """The case's record files (case first, then failures in order) and the digests of their bytes."""
        return [(key, self.entries[key].digest.hex()) for key in folder.record_keys()]

    def load(self, folders: list[CaseFolder] | None = None) -> KnowledgeBase:
        """The knowledge base with the records of ``folders`` (default: every case) loaded."""
        with gc_paused():
            return self._load(self.layout.cases if folders is None else folders)

    def _load(self, folders: list[CaseFolder]) -> KnowledgeBase:
        wanted = [key for folder in folders for key in folder.record_keys()]
        if self.layout.taxonomy:
            wanted.append(TAXONOMY_FILE)
        self._load_records(wanted)
        taxonomy = self.entries[TAXONOMY_FILE].record if self.layout.taxonomy else None
        builtin = self.layout.taxonomy is None and not self.layout.taxonomy_broken
        if builtin:
            from kb.taxonomy import builtin_taxonomy

            taxonomy = builtin_taxonomy()
        loaded: list[LoadedCase] = []
        for folder in folders:
            keys = folder.record_keys()
            case = self.entries[keys[0]].record
            failures = [
                LoadedFailure(path, number, self.entries[key].record)
                for (number, path), key in zip(folder.failures, keys[1:], strict=True)
                if self.entries[key].record is not None
            ]
            if case is not None:
                loaded.append(LoadedCase(folder.path, case, failures, folder.documents))
        return KnowledgeBase(self.root, taxonomy, loaded, self.problems, taxonomy_builtin=builtin)

    def _load_records(self, keys: list[str]) -> None:
        """Fill in the records of the valid files ``keys``: from the cache's payloads, else parsed again."""
        kind = "slim" if self.slim else "full"
        missing = [key for key in keys if self.entries[key].valid and self.entries[key].record is None]
        payloads = self.cache.payloads(kind, {key: self.entries[key].digest for key in missing})
        pending: list[tuple[Path, type[BaseModel]]] = []
        for key in missing:
            try:
                record = self.models[key].model_validate_json(payloads[key])
            except (KeyError, ValueError):
                pending.append((self.root / key, self.models[key]))
                continue
            self.entries[key] = self.entries[key]._replace(record=record)
        parsed = _parse_all(pending, self.slim)
        self.adopt(
            [(path.relative_to(self.root).as_posix(), item) for (path, _), item in zip(pending, parsed, strict=True)]
        )


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while loading: records are many long-lived objects
    without cycles, which it would otherwise scan again and again (it halves the time to load)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def scan_files(
    root: Path | str,
    record_cache: RecordCache,
    *,
    cases: list[str] | None = None,
    slim: bool = False,
    parse: bool = True,
) -> Scan:
    """Find a knowledge base's files and what each holds: unchanged files (by their stat, see
    ``kb.cache``) from the cache, the others read, hashed and (when their bytes changed) parsed
    (unless not ``parse``: then they are left in ``Scan.pending`` for the caller to read)."""
    with gc_paused():
        return _scan_files(Path(root), record_cache, cases, slim, parse)


def _scan_files(root: Path, record_cache: RecordCache, cases: list[str] | None, slim: bool, parse: bool) -> Scan:
    if not root.is_dir():
        problem = Problem.at(root, "knowledge base folder not found" if not root.exists() else "not a folder")
        return Scan(root, Layout(None, [], [problem]), {}, {}, record_cache, slim)
    listings = record_cache.listings()
    layout = discover(root, cases, listings)
    files = layout.files()
    models = dict(files)
    known = record_cache.known()
    entries: dict[str, Entry] = {}
    pending: list[tuple[str, type[BaseModel]]] = []
    renewed: list[tuple[str, os.stat_result, Known]] = []
    base = f"{root}{os.sep}"
    for key, model in files:
        hit = known.get(key)
        if hit is None:
            pending.append((key, model))
            continue
        try:
            st = os.stat(base + key)
        except OSError:
            pending.append((key, model))
            continue
        if not hit.unchanged(st):
            if _read_digest(base + key) != hit.digest:  # changed (or unreadable): parse it again
                pending.append((key, model))
                continue
            renewed.append((key, st, hit))
        path = base + key
        entries[key] = _entry((hit.problems(path), hit.valid, hit.digest, hit.ident, None, hit.credentials(path)))
    forget = known.keys() - models.keys() if cases is None else set()
    record_cache.store([], renewed=renewed, forget=forget)
    record_cache.store_listings(listings)
    scan = Scan(root, layout, entries, models, record_cache, slim, [key for key, _ in pending])
    if parse:
        scan.parse_pending()
    return scan


_entry = partial(tuple.__new__, Entry)
"""``Entry`` from a tuple of all its fields, in C (half the time of ``Entry(...)``, once a file a run)."""


def _read_digest(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return digest(handle.read(yamlio.MAX_RECORD_BYTES + 1))
    except OSError:
        return None


def _payloads(record: BaseModel | None, slim: bool) -> dict[str, str]:
    """A record's cache payloads as JSON: its slim form, and the full one unless ``slim``."""
    if record is None:
        return {}
    if slim:
        return {"slim": record.model_dump_json(exclude_defaults=True)}
    return {
        "full": record.model_dump_json(exclude_defaults=True),
        "slim": slim_record(record).model_dump_json(exclude_defaults=True),
    }


@dataclass
class CaseFolder:
    """A case folder and its failure files (NN, file name), in NN order."""

    path: Path
    names: list[tuple[int, str]]
    documents: tuple[str, ...] = ()
    """The task documents the folder holds (`PROMPT.md`, ...), in ``TASK_DOCUMENTS`` order."""

    @classmethod
    def listed(cls, path: Path, listing: list[tuple[int, str]]) -> CaseFolder:
        """A folder from its listing (as kb's cache keeps it: task documents numbered -1)."""
        names = [(n, name) for n, name in listing if n >= 0]
        return cls(path, names, tuple(name for n, name in listing if n < 0))

    def listing(self) -> list[tuple[int, str]]:
        return [*self.names, *((-1, name) for name in self.documents)]

    @property
    def case_file(self) -> Path:
        return self.path / CASE_FILE

    @cached_property
    def failures(self) -> list[tuple[int, Path]]:
        return [(number, self.path / name) for number, name in self.names]

    def record_keys(self) -> list[str]:
        """Its record files relative to the KB (`<case>/case.yaml` first, then the failures in order)."""
        case = self.path.name
        return [f"{case}/{CASE_FILE}", *(f"{case}/{name}" for _, name in self.names)]


@dataclass
class Layout:
    """The record files of a knowledge base, found without reading them."""

    taxonomy: Path | None
    cases: list[CaseFolder]
    problems: list[Problem]
    taxonomy_broken: bool = False
    """A `taxonomy.yaml` is there but cannot be read (not a regular file, or a link out of the KB)."""

    def files(self) -> list[tuple[str, type[BaseModel]]]:
        """Each record file relative to the KB (``/``-separated) and its model."""
        files: list[tuple[str, type[BaseModel]]] = [(TAXONOMY_FILE, Taxonomy)] if self.taxonomy else []
        for folder in self.cases:
            keys = folder.record_keys()
            files.append((keys[0], Case))
            files.extend((key, Failure) for key in keys[1:])
        return files


def discover(root: Path, cases: list[str] | None = None, listings: Listings | None = None) -> Layout:
    """Find taxonomy, case folders and failure files; report strays and links leaving the KB.

    Reads folders only (``os.scandir``: one call a folder, no stat of the files in it). With
    ``listings`` (kb's cache of them), a case folder whose own stat is unchanged is not read
    again: adding, removing or renaming an entry changes a folder's mtime and ctime.
    """
    problems: list[Problem] = []
    taxonomy = root / TAXONOMY_FILE
    folders: list[CaseFolder] = []
    wanted = set(cases) if cases is not None else None
    with os.scandir(root) as scan:
        dirs = sorted(
            (e for e in scan if not e.name.startswith((".", "_")) and e.name != TAXONOMY_FILE and e.is_dir()),
            key=lambda e: e.name,
        )
    for found in dirs:
        if wanted is not None and found.name not in wanted:
            continue
        folder = root / found.name
        if found.is_symlink() and not inside(root, folder):
            problems.append(Problem.at(folder, "links outside the knowledge base; refusing to read it"))
            continue
        known = listings.get(found) if listings is not None else None
        if known is not None:
            folders.append(CaseFolder.listed(folder, known))
            continue
        documents: list[str] = []
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        names: list[tuple[int, str]] = []
        strays: list[Problem] = []
        has_case = False
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if entry.is_symlink() and not inside(root, Path(entry.path)):
                strays.append(Problem.at(entry.path, "links outside the knowledge base; refusing to read it"))
                continue
            if name == CASE_FILE:
                has_case = entry.is_file()
                continue
            if name in TASK_DOCUMENTS:
                documents.append(name)
                continue
            match = FAILURE_FILE.match(name)
            if not match or not entry.is_file():
                expected = "failure files are named `<NN>-<failure-id>.yaml`; task documents are " + ", ".join(
                    TASK_DOCUMENTS
                )
                strays.append(Problem.at(entry.path, f"unexpected entry: {expected}"))
                continue
            names.append((int(match["nn"]), name))
        if not has_case:
            problems.append(Problem.at(folder, f"case folder without {CASE_FILE}"))
            continue
        problems.extend(strays)
        names.sort()
        case_folder = CaseFolder(folder, names, tuple(sorted(documents, key=TASK_DOCUMENTS.index)))
        folders.append(case_folder)
        if listings is not None and not strays:
            listings.put(found, case_folder.listing())
    if wanted is None:
        problems.extend(interrupted_imports(root))
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


def interrupted_imports(root: Path) -> list[Problem]:
    """Staging folders a crashed import left: an error for a case that exists only there."""
    problems: list[Problem] = []
    with os.scandir(root) as entries:
        staged = sorted(entry.name for entry in entries if entry.name.startswith(STAGING_PREFIX))
    for name in staged:
        folder = root / name
        if folder.is_symlink() or not folder.is_dir():
            continue
        stranded = []
        if folder.name.startswith(OLD_PREFIX):
            stranded = [c.name for c in sorted(folder.iterdir()) if c.is_dir() and not (root / c.name).exists()]
        for case_id in stranded:
            message = f"case `{case_id}` exists only here, left by an interrupted import; the next import restores it"
            problems.append(Problem.at(folder / case_id, message))
        if not stranded:
            message = "staging folder of an import (running, or interrupted: the next import removes it)"
            problems.append(Problem.at(folder, message, severity=Severity.warning))
    return problems


POOL_MIN_FILES = 400
"""Below this many files to parse, a process pool costs more than it saves."""


def load_entry(path: Path, model: type[BaseModel], slim: bool = False) -> tuple[Stat | None, Entry]:
    """Read and validate one file: its stat when read and what it holds (runs in worker processes too)."""
    try:
        with path.open("rb") as handle:
            stat = Stat.of(os.fstat(handle.fileno()))
            raw = handle.read(yamlio.MAX_RECORD_BYTES + 1)
    except OSError as exc:
        problem = Problem.at(path, f"cannot read: {exc.strerror or exc}")
        return None, Entry((problem,), False, b"")
    if len(raw) > yamlio.MAX_RECORD_BYTES:
        limit = f"file is {stat.size:,} bytes; records are limited to {yamlio.MAX_RECORD_BYTES:,}"
        return stat, Entry((Problem.at(path, limit),), False, digest(raw))
    record, problems = parse_record(path, raw, model)
    if record is None:
        return stat, Entry(tuple(problems), False, digest(raw))
    found = tuple(credentials_in(path, raw.decode("utf-8-sig")))  # here, with the bytes at hand (and in parallel)
    ident = record.id if isinstance(record, Case | Failure) else None
    return stat, Entry(tuple(problems), True, digest(raw), ident, slim_record(record) if slim else record, found)


Parsed = tuple[Stat | None, Entry, dict[str, str]]
"""A file just read: its stat, what it holds and its cache payloads (made where it was parsed)."""


def read_file(path: Path, model: type[BaseModel], slim: bool = False) -> Parsed:
    """Read one record file: its stat, what it holds and its cache payloads."""
    stat, entry = load_entry(path, model, slim)
    return stat, entry, _payloads(entry.record, slim)


def _load_chunk(chunk: list[tuple[Path, type[BaseModel]]], slim: bool) -> list[Parsed]:
    return [read_file(path, model, slim) for path, model in chunk]


def _parse_all(pending: list[tuple[Path, type[BaseModel]]], slim: bool) -> list[Parsed]:
    """What each pending file holds, in order (in parallel when there are many)."""
    return [parsed for chunk in _parse_chunks(pending, slim) for parsed in chunk]


def _parse_chunks(
    pending: list[tuple[Path, type[BaseModel]]],
    slim: bool,
    documents: list[Path] | None = None,
    checked: dict[Path, Problem | None] | None = None,
) -> Iterator[list[Parsed]]:
    """What each pending file holds, in order, a chunk at a time as the workers finish them (in
    parallel when there are many). With a pool, the task ``documents`` are checked in it too,
    their problems put in ``checked``, after the last chunk of records (left alone without a pool:
    the rules check them as before)."""
    workers = min(os.cpu_count() or 1, 8)
    if len(pending) < POOL_MIN_FILES or workers < 2:
        yield _load_chunk(pending, slim)
        return
    from kb.pool import crashed, worker_pool

    size = max(50, len(pending) // (workers * 8))
    chunks = [pending[i : i + size] for i in range(0, len(pending), size)]
    finished = [0]
    with crashed("reading records", finished, len(pending)), worker_pool(workers) as pool:
        results = pool.map(_load_chunk, chunks, [slim] * len(chunks))  # every chunk submitted here
        docs = []
        if documents and checked is not None:
            step = max(50, len(documents) // (workers * 4))
            parts = [documents[i : i + step] for i in range(0, len(documents), step)]
            docs = [pool.submit(_check_documents, part) for part in parts]
        for entries in results:
            finished[0] += len(entries)
            yield entries
        if checked is not None:
            for future in docs:
                checked.update(future.result())


def _check_documents(paths: list[Path]) -> list[tuple[Path, Problem | None]]:
    return [(path, document_problem(path)) for path in paths]


PRESENT = "…"
"""What a slim record holds in place of a long text that is there (``slim_record``)."""


def _present(text: str | None) -> str | None:
    return PRESENT if text and text.strip() else None


def slim_record(record: BaseModel) -> BaseModel:
    """A validated record stripped to what `kb check`'s cross-record rules and `kb stats` read:
    ids, title, impact, status, kind, category, services, related links, the reference, the
    task's platform and language, knowledge gaps, the written totals and the lifecycle fields
    (dates, withdrawal, aliases, successor). Long texts that stats only tests for presence
    (the fix, the root cause) hold ``PRESENT`` when they are there, the docs only their first
    link; everything else is at its default."""
    if isinstance(record, Failure):
        ideal = record.ideal_response
        fix = None
        if ideal is not None:
            fix = IdealResponse(text=_present(ideal.text) or "", code=_present(ideal.code), reference=ideal.reference)
        return Failure(
            id=record.id,
            title=record.title,
            impact=record.impact,
            status=record.status,
            kind=record.kind,
            category=record.category,
            services=record.services,
            related=record.related,
            ideal_response=fix,
            root_cause=_present(record.root_cause),
            docs=record.docs[:1],
            **_lifecycle(record),
        )
    if isinstance(record, Case):
        summary = None
        if record.summary and (record.summary.written_totals or record.summary.knowledge_gaps):
            summary = Summary(
                written_totals=record.summary.written_totals, knowledge_gaps=record.summary.knowledge_gaps
            )
        task = Task(platform=record.task.platform, language=record.task.language) if record.task else None
        return Case(id=record.id, title=record.title, task=task, summary=summary, **_lifecycle(record))
    return record


_LIFECYCLE = ("schema_version", "published", "modified", "withdrawn", "superseded_by", "aliases")


def _lifecycle(record: BaseModel) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _LIFECYCLE}


# -- writing ---------------------------------------------------------------------------


def record_data(record: BaseModel) -> dict[str, Any]:
    """A record as plain data in field order, leaving out what is empty or default."""
    return record.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


def dump_record(record: BaseModel, data: dict[str, Any] | None = None) -> str:
    """The YAML text of a record, modeline first, keys in the schema's order (``data``: its
    ``record_data``, when the caller has it already)."""
    return yamlio.dump(data if data is not None else record_data(record), schema_name=SCHEMA_NAMES[type(record)])


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
