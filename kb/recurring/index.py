"""The similarity index of a knowledge base, kept in kb's cache and updated incrementally.

One file per knowledge base (``similar-<hash of its path>.npz`` in kb's cache folder):
plain arrays and one JSON document of columns, never a pickle. Each failure's row (weighted
terms and MinHash signature) is keyed by its file's size, mtime and BLAKE2 hash, so after
an edit only the changed files are read again; a change of the code that extracts terms
drops the whole index. Records are read as plain YAML data (not validated: `kb check`
reports invalid records; a file that does not parse to a mapping is left out).

Built from scratch, the files are read and analysed on all cores, each worker returning
its rows' terms as a small sparse matrix over its own vocabulary; the vocabulary is then
put in sorted order, so the same knowledge base gives the same index however it was built.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from functools import cache, cached_property
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import yaml
from numpy.typing import NDArray

from kb.atomic import replacing
from kb.cache import cache_file, digest
from kb.layout import CASE_FILE, FAILURE_FILE
from kb.pool import crashed, worker_pool
from kb.recurring import copies
from kb.recurring.features import analyse
from kb.recurring.vectors import Rows, count_matrix, idf, weigh

if TYPE_CHECKING:
    import scipy.sparse as sp

FORMAT = 2
POOL_MIN_FILES = 600
"""Below this many files to read, a process pool costs more than it saves."""


@dataclass
class Row:
    """One indexed entry (a failure record file) and what a listing shows of it."""

    id: str
    """`<case>/<failure>`."""
    case: str
    path: str
    size: int
    mtime_ns: int
    digest: str
    title: str
    impact: str | None
    failure: bool
    """True for a `kind: failure` entry that is not withdrawn (only those are ranked and grouped)."""
    services: list[str] = field(default_factory=list)
    """The services it lists or names (canonical names)."""
    category: str | None = None
    documented: list[str] = field(default_factory=list)
    """What the record shows: `model_code`, `fix_code`, `root_cause`, `error`, `docs` (for picking a pattern's example)."""


@dataclass
class CaseRow:
    """One indexed case file: what ranking needs of it."""

    id: str
    size: int
    mtime_ns: int
    platform: str | None
    duplicate_of: str | None


ROW_FIELDS = tuple(f.name for f in fields(Row))
CASE_FIELDS = tuple(f.name for f in fields(CaseRow))


@dataclass
class Index:
    """Rows, their term counts (rows x vocabulary) and MinHash signatures, and the cases."""

    columns: dict[str, list[Any]]
    """The rows as one list per field of ``Row`` (a query reads a few of them, and a few rows)."""
    cases: dict[str, CaseRow]
    vocabulary: dict[str, int]
    counts: Rows
    signatures: NDArray[np.uint32]
    copy_of: dict[str, str]
    """Each case that is a near-copy of another (found by MinHash or stated by `duplicate_of`) -> its group's first case."""

    @cached_property
    def rows(self) -> list[Row]:
        return [Row(*values) for values in zip(*(self.columns[name] for name in ROW_FIELDS), strict=True)]

    def row(self, i: int) -> Row:
        if "rows" in self.__dict__:
            return self.rows[i]
        return Row(*(self.columns[name][i] for name in ROW_FIELDS))

    @cached_property
    def positions(self) -> dict[str, int]:
        return {row_id: i for i, row_id in enumerate(self.columns["id"])}

    @cached_property
    def idf(self) -> NDArray[np.float32]:
        return idf(self.counts, self.failure_mask)

    @cached_property
    def weighted(self) -> Rows:
        """Unit-length TF-IDF rows (the IDF over failures only)."""
        return weigh(self.counts, self.idf)

    @cached_property
    def vectors(self) -> sp.csr_matrix:
        """``weighted`` as a scipy matrix, for matrix algebra over many rows."""
        return self.weighted.matrix()

    @cached_property
    def failure_mask(self) -> NDArray[np.bool_]:
        return np.array(self.columns["failure"], dtype=bool)

    @cached_property
    def case_numbers(self) -> NDArray[np.int64]:
        """Each row's case, as a number (rows of one case share it)."""
        names: dict[str, int] = {}
        return np.array([names.setdefault(case, len(names)) for case in self.columns["case"]], dtype=np.int64)

    @cached_property
    def terms(self) -> list[str]:
        out = [""] * len(self.vocabulary)
        for term, col in self.vocabulary.items():
            out[col] = term
        return out

    def group(self, case: str) -> str:
        """The near-copy group of a case (its own id when it has no copies)."""
        return self.copy_of.get(case, case)

    @cached_property
    def groups(self) -> NDArray[np.int64]:
        """Each row's near-copy group, as a number."""
        names: dict[str, int] = {}
        copy_of = self.copy_of
        return np.array(
            [names.setdefault(copy_of.get(case, case), len(names)) for case in self.columns["case"]], dtype=np.int64
        )


def index_path(root: Path) -> Path:
    return cache_file(root, "similar").with_suffix(".npz")


@cache
def fingerprint() -> str:
    """Changes when the code that turns records into rows changes."""
    here = Path(__file__).parent
    sources = b"".join((here / name).read_bytes() for name in ("features.py", "copies.py", "index.py"))
    return f"{FORMAT}:{hashlib.blake2b(sources, digest_size=8).hexdigest()}"


def load_index(root: Path | str) -> Index:
    """The index of the knowledge base at ``root``, brought up to date with its files."""
    root = Path(root)
    with _no_gc():
        old = _read(index_path(root))
        index, changed = _update(root, old, *scan(root))
    if changed:
        with contextlib.suppress(OSError):
            _write(index_path(root), index)
    return index


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The garbage collector paused: reading an index makes ~100,000 objects that live on,
    and the collector walking them again and again cost a third of an up-to-date load."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# -- finding the files ---------------------------------------------------------------


class Found(NamedTuple):
    """A record file of the knowledge base, as its stat says it is now."""

    case: str
    rel: str
    path: str
    size: int
    mtime_ns: int


def _inside(root: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def scan(root: Path) -> tuple[list[Found], list[Found]]:
    """The case files and failure files of a knowledge base, with their size and mtime.

    The same files as ``kb.store.discover`` finds (case folders are the folders holding a
    case file, not starting with `.` or `_`; failure files are named `<NN>-<id>.yaml`;
    links leaving the knowledge base are not followed), from one `scandir` per folder:
    this runs on every `kb similar`, so it does no more than stat each file once.
    """
    base = str(root)
    real_root = os.path.realpath(base)
    cases: list[Found] = []
    failures: list[Found] = []
    match_failure = FAILURE_FILE.match
    with os.scandir(base) as top:
        folders = sorted((e for e in top if not e.name.startswith((".", "_"))), key=lambda e: e.name)
    for folder in folders:
        try:
            if not folder.is_dir() or (folder.is_symlink() and not _inside(real_root, folder.path)):
                continue
            with os.scandir(folder.path) as scan_folder:
                entries = list(scan_folder)
        except OSError:
            continue
        found_case: Found | None = None
        found_failures: list[Found] = []
        case_name = folder.name
        for entry in entries:
            name = entry.name
            if not name.endswith(".yaml") or (name != CASE_FILE and not match_failure(name)):
                continue
            try:
                if entry.is_symlink() and not _inside(real_root, entry.path):
                    continue
                if not entry.is_file():
                    continue
                st = entry.stat()
            except OSError:
                continue
            item = Found(case_name, f"{case_name}/{name}", entry.path, st.st_size, st.st_mtime_ns)
            if name == CASE_FILE:
                found_case = item
            else:
                found_failures.append(item)
        if found_case is not None:
            cases.append(found_case)
            found_failures.sort()
            failures.extend(found_failures)
    return cases, failures


# -- updating ------------------------------------------------------------------------


def _update(root: Path, old: Index | None, case_files: list[Found], failure_files: list[Found]) -> tuple[Index, bool]:
    if old is not None and _unchanged(old, case_files, failure_files):
        return old, False
    old_rows = {row.path: (i, row) for i, row in enumerate(old.rows)} if old else {}
    old_cases = old.cases if old else {}
    keep: list[tuple[int, Row]] = []
    pending: list[Found] = []
    for item in failure_files:
        hit = old_rows.get(item.rel)
        if hit and (hit[1].size, hit[1].mtime_ns) == (item.size, item.mtime_ns):
            keep.append(hit)
        else:
            pending.append(item)
    cases: dict[str, CaseRow] = {}
    case_pending: list[Found] = []
    for item in case_files:
        cached = old_cases.get(item.case)
        if cached and (cached.size, cached.mtime_ns) == (item.size, item.mtime_ns):
            cases[item.case] = cached
        else:
            case_pending.append(item)
    changed = old is None or bool(pending or case_pending) or len(keep) != len(old_rows) or len(cases) != len(old_cases)
    if not changed and old is not None:
        return old, False
    made, made_cases = _read_all(pending, case_pending)
    cases.update((c.id, c) for c in made_cases)
    fresh_rows: list[Row] = []
    fresh_at: list[int] = []
    for k, row in enumerate(made.rows):
        hit = old_rows.get(row.path)
        if hit and hit[1].digest == row.digest and old is not None:  # touched, not changed
            keep.append((hit[0], row))
        else:
            fresh_rows.append(row)
            fresh_at.append(k)
    terms = sorted(set(old.vocabulary if old else ()) | set(made.vocabulary))
    vocabulary = {term: col for col, term in enumerate(terms)}
    parts: list[Rows] = []
    sig_parts: list[NDArray[np.uint32]] = []
    rows: list[Row] = []
    if keep and old is not None:
        take = np.array([i for i, _ in keep], dtype=np.int64)
        parts.append(_recolumn(old.counts.take(take), old.terms, vocabulary))
        sig_parts.append(old.signatures[take])
        rows.extend(row for _, row in keep)
    if fresh_rows:
        at = np.array(fresh_at, dtype=np.int64)
        parts.append(_recolumn(made.counts.take(at), made.vocabulary, vocabulary))
        sig_parts.append(made.signatures[at])
        rows.extend(fresh_rows)
    counts = Rows.stacked(parts, len(vocabulary))
    signatures = np.concatenate(sig_parts) if sig_parts else np.zeros((0, copies.NUM_PERM), dtype=np.uint32)
    order = sorted(range(len(rows)), key=lambda i: (rows[i].case, rows[i].path))
    if order:
        perm = np.array(order, dtype=np.int64)
        rows = [rows[i] for i in order]
        counts = counts.take(perm)
        signatures = signatures[perm]
    counts, vocabulary = _used_terms(counts, terms)
    index = Index(_columns(rows, ROW_FIELDS), dict(sorted(cases.items())), vocabulary, counts, signatures, {})
    index.rows = rows
    index.copy_of = _copy_groups(index)
    return index, True


def _unchanged(old: Index, case_files: list[Found], failure_files: list[Found]) -> bool:
    """Whether the files are those the index was made of, each of the same size and mtime
    (both lists are in the order of the index's rows and cases)."""
    columns = old.columns
    return (
        [f.rel for f in failure_files] == columns["path"]
        and [f.size for f in failure_files] == columns["size"]
        and [f.mtime_ns for f in failure_files] == columns["mtime_ns"]
        and [(f.case, f.size, f.mtime_ns) for f in case_files]
        == [(c.id, c.size, c.mtime_ns) for c in old.cases.values()]
    )


def _used_terms(counts: Rows, terms: list[str]) -> tuple[Rows, dict[str, int]]:
    """``counts`` without the columns of terms no row has any more (an edit removed them),
    the vocabulary still in sorted order."""
    used = np.flatnonzero(np.bincount(counts.indices, minlength=len(terms)))
    compact = Rows(counts.data, np.searchsorted(used, counts.indices).astype(np.int32), counts.indptr, len(used))
    return compact, {terms[col]: k for k, col in enumerate(used.tolist())}


def _recolumn(counts: Rows, terms: list[str] | dict[str, int], vocabulary: dict[str, int]) -> Rows:
    """``counts`` (columns named by ``terms``) with its columns renumbered to ``vocabulary``."""
    names = terms if isinstance(terms, list) else sorted(terms, key=terms.__getitem__)
    mapping = np.fromiter((vocabulary[t] for t in names), dtype=np.int32, count=len(names))
    return counts.renumbered(mapping, len(vocabulary))


def _copy_groups(index: Index) -> dict[str, str]:
    """Near-copy groups: by MinHash of the cases' text, joined with stated `duplicate_of` links."""
    numbers = index.case_numbers
    case_ids = list(dict.fromkeys(index.columns["case"]))
    if case_ids:
        starts = np.flatnonzero(np.r_[True, numbers[1:] != numbers[:-1]])
        sigs = np.minimum.reduceat(index.signatures, starts, axis=0)
    else:
        sigs = index.signatures
    found = copies.copy_groups(case_ids, sigs)
    parent: dict[str, str] = {}

    def root(c: str) -> str:
        while parent.get(c, c) != c:
            c = parent[c]
        return c

    links = list(found.items()) + [(c.id, c.duplicate_of) for c in index.cases.values() if c.duplicate_of]
    for a, b in links:
        ra, rb = root(a), root(b)
        if ra != rb:
            keep, drop = sorted((ra, rb))
            parent[drop] = keep
    return {c: root(c) for c in sorted(parent) if root(c) != c}


def _case_row(item: Found) -> CaseRow:
    try:
        with open(item.path, "rb") as handle:
            data = _parse(handle.read())
    except OSError:
        data = None
    task = data.get("task") if data else None
    platform = task.get("platform") if isinstance(task, dict) else None
    duplicate = data.get("duplicate_of") if data else None
    return CaseRow(
        item.case,
        item.size,
        item.mtime_ns,
        platform if isinstance(platform, str) else None,
        duplicate if isinstance(duplicate, str) else None,
    )


class _TextLoader(yaml.CBaseLoader):
    """libyaml's parser and composer, every node left untagged (``_plain`` reads them as text)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        return ""


_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"})
_FALSE = frozenset({"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"})


def _parse(raw: bytes) -> dict[str, Any] | None:
    """A record file as plain data: mappings, lists and strings, plain nulls and booleans
    resolved as YAML 1.1 does, numbers left as text (the index reads text only).

    libyaml composes the document; building the data from its nodes here skips the
    per-scalar type resolution of SafeLoader, which costs more than the parse. Aliases
    are shared, never copied.
    """
    try:
        loader = _TextLoader(raw)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        data = _plain(node, {}) if node is not None else None
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, TypeError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _plain(node: yaml.Node, made: dict[int, Any]) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value = node.value
        if not node.style:  # plain (libyaml gives "" where PyYAML gives None)
            if value in _NULL:
                return None
            if value in _TRUE:
                return True
            if value in _FALSE:
                return False
        return value
    if id(node) in made:
        return made[id(node)]
    if isinstance(node, yaml.SequenceNode):
        items: list[Any] = []
        made[id(node)] = items
        items.extend(_plain(item, made) for item in node.value)
        return items
    mapping: dict[Any, Any] = {}
    made[id(node)] = mapping
    for key, value in node.value:
        mapping[_plain(key, made)] = _plain(value, made)
    return mapping


@dataclass
class Made:
    """Rows read from files: their terms (rows x their own vocabulary) and signatures."""

    rows: list[Row]
    vocabulary: dict[str, int]
    counts: Rows
    signatures: NDArray[np.uint32]


def make_row(item: Found) -> tuple[Row, dict[str, float], list[str]] | None:
    """Read one failure file into its row, terms and words (None when it is not a record)."""
    try:
        with open(item.path, "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    data = _parse(raw)
    if data is None or not isinstance(data.get("id"), str):
        return None
    impact = data.get("impact")
    category = data.get("category")
    found = analyse(data)
    row = Row(
        id=f"{item.case}/{data['id']}",
        case=item.case,
        path=item.rel,
        size=item.size,
        mtime_ns=item.mtime_ns,
        digest=digest(raw).hex(),
        title=str(data.get("title") or data["id"]),
        impact=impact if isinstance(impact, str) else None,
        failure=data.get("kind", "failure") == "failure"
        and data.get("not_a_failure") is not True
        and not data.get("withdrawn"),  # a withdrawn failure is never a match
        services=found.services,
        category=category if isinstance(category, str) else None,
        documented=_documented(data),
    )
    return row, found.terms, found.words


def _documented(data: dict[str, Any]) -> list[str]:
    def code(key: str) -> bool:
        value = data.get(key)
        return isinstance(value, dict) and bool(value.get("code"))

    shown = {
        "model_code": code("model_response"),
        "fix_code": code("ideal_response"),
        "root_cause": bool(data.get("root_cause")),
        "error": bool(data.get("error")),
        "docs": bool(data.get("docs")),
    }
    return [name for name, present in shown.items() if present]


def _read_chunk(items: list[Found]) -> Made:
    made = [m for m in map(make_row, items) if m is not None]
    vocabulary: dict[str, int] = {}
    counts = count_matrix([terms for _, terms, _ in made], vocabulary)
    return Made([row for row, _, _ in made], vocabulary, counts, copies.signatures([words for _, _, words in made]))


def _read_cases(items: list[Found]) -> list[CaseRow]:
    return [_case_row(item) for item in items]


def _read_all(pending: list[Found], case_pending: list[Found]) -> tuple[Made, list[CaseRow]]:
    """Read the changed failure files and case files, on all cores when there are many."""
    workers = min(os.cpu_count() or 1, 8)
    if len(pending) + len(case_pending) < POOL_MIN_FILES or workers < 2:
        return _read_chunk(pending), _read_cases(case_pending)
    size = max(100, len(pending) // (workers * 4))
    chunks = [pending[i : i + size] for i in range(0, len(pending), size)]
    case_size = max(100, len(case_pending) // (workers * 2))
    case_chunks = [case_pending[i : i + case_size] for i in range(0, len(case_pending), case_size)]
    finished = [0]
    with crashed("indexing failures", finished, len(pending)), worker_pool(workers) as pool:
        case_parts = pool.map(_read_cases, case_chunks)
        parts = []
        for part in pool.map(_read_chunk, chunks):
            parts.append(part)
            finished[0] += len(part.rows)
        made_cases = [c for part in case_parts for c in part]
    return _merge(parts), made_cases


def _merge(parts: list[Made]) -> Made:
    """One ``Made`` of several, over the union of their vocabularies."""
    vocabulary: dict[str, int] = {}
    for part in parts:
        for term in part.vocabulary:
            vocabulary.setdefault(term, len(vocabulary))
    counts = Rows.stacked([_recolumn(part.counts, part.vocabulary, vocabulary) for part in parts], len(vocabulary))
    sigs = [part.signatures for part in parts if len(part.signatures)]
    signatures = np.concatenate(sigs) if sigs else np.zeros((0, copies.NUM_PERM), dtype=np.uint32)
    return Made([row for part in parts for row in part.rows], vocabulary, counts, signatures)


# -- storing -------------------------------------------------------------------------


def _columns(records: list[Any], names: tuple[str, ...]) -> dict[str, list[Any]]:
    return {name: list(map(attrgetter(name), records)) for name in names}


def _write(path: Path, index: Index) -> None:
    meta = {
        "fingerprint": fingerprint(),
        "rows": index.columns,
        "cases": _columns(list(index.cases.values()), CASE_FIELDS),
        "vocabulary": index.terms,
        "copy_of": index.copy_of,
    }
    buffer = io.BytesIO()
    np.savez(
        buffer,
        meta=np.frombuffer(json.dumps(meta, separators=(",", ":")).encode("utf-8"), dtype=np.uint8),
        data=index.counts.data.astype(np.float32),
        indices=index.counts.indices.astype(np.int32),
        indptr=index.counts.indptr.astype(np.int64),
        shape=np.array((index.counts.height, index.counts.width), dtype=np.int64),
        signatures=index.signatures,
    )
    with replacing(path) as handle:
        handle.write(buffer.getvalue())


def _read(path: Path) -> Index | None:
    """The stored index, or None when it is missing, foreign, corrupt or from other code."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(stored["meta"].tobytes())
            if meta.get("fingerprint") != fingerprint():
                return None
            height, width = (int(x) for x in stored["shape"])
            counts = Rows(stored["data"], stored["indices"], stored["indptr"], width)
            signatures = stored["signatures"]
        columns = meta["rows"]
        rows = len(columns["id"])
        if any(len(columns[name]) != rows for name in ROW_FIELDS):
            return None
        case_columns = meta["cases"]
        cases = [CaseRow(*values) for values in zip(*(case_columns[name] for name in CASE_FIELDS), strict=True)]
        vocabulary = {term: i for i, term in enumerate(meta["vocabulary"])}
        if not height == counts.height == rows == signatures.shape[0] or width != len(vocabulary):
            return None
        return Index(columns, {c.id: c for c in cases}, vocabulary, counts, signatures, dict(meta["copy_of"]))
    except Exception:  # a missing or damaged cache is a cold cache
        return None
