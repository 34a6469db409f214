"""The similarity index of a knowledge base, kept in kb's cache and updated incrementally.

One file per knowledge base (``similar-<hash of its path>.idx`` in kb's cache folder):
a JSON header, then raw arrays and one JSON document per column, never a pickle; a query
maps the file and parses only the columns it reads. Each failure's row (weighted terms
and MinHash signature) is keyed by its file's size, mtime and BLAKE2 hash, so after an
edit only the changed files are read again, and an edit in place patches the rows it
changed; a change of the code that extracts terms drops the whole index. Records are read
as plain YAML data (not validated: `kb check` reports invalid records; a file that does
not parse to a mapping is left out, and read again only when it changes).

Built from scratch, the files are read and analysed on all cores, each worker returning
its rows' terms as a small sparse matrix over its own vocabulary; the vocabulary is then
put in sorted order, so the same knowledge base gives the same index however it was built.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import mmap
import os
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache, cached_property
from operator import attrgetter
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from kb.atomic import replacing
from kb.layout import CASE_FILE, FAILURE_FILE
from kb.recurring.features import analyse
from kb.recurring.vectors import Rows, idf, sorted_count_matrix, weigh

if TYPE_CHECKING:
    import scipy.sparse as sp

# Imported where used, not here, as an up-to-date query needs none of them: yaml (records
# are read only when they changed), kb.pool, kb.recurring.copies (MinHash), kb.cache (sqlite).

FORMAT = 3
MAGIC = b"kb-similar-index\n"
ALIGN = 64
NUMBER_FIELDS = {"size": np.int64, "mtime_ns": np.int64, "failure": np.bool_}
"""The row fields stored as arrays (the others as one JSON document each)."""
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
    folder_mtime_ns: int = 0
    """The case folder's mtime: while it holds, the folder lists the same files (an edit in
    place changes only the file's own stat)."""


ROW_FIELDS = tuple(f.name for f in fields(Row))
CASE_FIELDS = tuple(f.name for f in fields(CaseRow))


class Columns(Mapping[str, list[Any]]):
    """The rows' fields, one list each, parsed from the stored index when first read."""

    def __init__(self, lists: dict[str, list[Any]], stored: dict[str, bytes | NDArray[Any]] | None = None) -> None:
        self._lists = lists
        self._stored = stored or {}

    def __getitem__(self, name: str) -> list[Any]:
        if name not in self._lists:
            value = self._stored[name]
            self._lists[name] = value.tolist() if isinstance(value, np.ndarray) else json.loads(value)
        return self._lists[name]

    def __iter__(self) -> Iterator[str]:
        return iter(ROW_FIELDS)

    def __len__(self) -> int:
        return len(ROW_FIELDS)

    def array(self, name: str) -> NDArray[Any]:
        """A number field as an array (as stored, when it was never read as a list)."""
        value = self._stored.get(name)
        if isinstance(value, np.ndarray):
            return value
        return np.array(self[name], dtype=NUMBER_FIELDS[name])

    def stored(self, name: str) -> bytes | NDArray[Any]:
        """What to store of a field: its array, or its JSON (as read, when it was read: the
        lists are never changed in place)."""
        if name in NUMBER_FIELDS:
            return self.array(name)
        value = self._stored.get(name)
        if isinstance(value, bytes):
            return value
        return json.dumps(self[name], separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass
class Index:
    """Rows, their term counts (rows x vocabulary) and MinHash signatures, and the cases."""

    columns: Columns
    """The rows as one list per field of ``Row`` (a query reads a few of them, and a few rows)."""
    cases: dict[str, CaseRow]
    terms: list[str]
    """The vocabulary, in sorted order (a term's column is its position)."""
    counts: Rows
    signatures: NDArray[np.uint32]
    copy_of: dict[str, str]
    """Each case that is a near-copy of another (found by MinHash or stated by `duplicate_of`) -> its group's first case."""
    skipped: list[list[Any]] = field(default_factory=list)
    """The failure files that are not records, as ``[path, size, mtime_ns]`` (read again only when changed)."""

    @cached_property
    def vocabulary(self) -> dict[str, int]:
        return {term: col for col, term in enumerate(self.terms)}

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
        return self.columns.array("failure").astype(bool)

    @cached_property
    def case_numbers(self) -> NDArray[np.int64]:
        """Each row's case, as a number (rows of one case share it; the rows are in case order)."""
        cases = self.columns["case"]
        if not cases:
            return np.zeros(0, dtype=np.int64)
        numbers: NDArray[np.int64] = np.unique(np.array(cases), return_inverse=True)[1].astype(np.int64)
        return numbers

    @cached_property
    def case_starts(self) -> NDArray[np.int64]:
        """The first row of each case that has rows."""
        numbers = self.case_numbers
        return np.flatnonzero(np.r_[True, numbers[1:] != numbers[:-1]]) if len(numbers) else numbers

    def group(self, case: str) -> str:
        """The near-copy group of a case (its own id when it has no copies)."""
        return self.copy_of.get(case, case)

    @cached_property
    def groups(self) -> NDArray[np.int64]:
        """Each row's near-copy group, as a number."""
        names: dict[str, int] = {}
        copy_of = self.copy_of
        cases = self.columns["case"]
        of_case = [
            names.setdefault(copy_of.get(c, c), len(names)) for c in (cases[i] for i in self.case_starts.tolist())
        ]
        return np.array(of_case, dtype=np.int64)[self.case_numbers]


def index_path(root: Path) -> Path:
    from kb.cache import cache_file

    return cache_file(root, "similar").with_suffix(".idx")


@cache
def fingerprint() -> str:
    """Changes when the code that turns records into rows changes."""
    here = Path(__file__).parent
    files = [here / name for name in ("features.py", "copies.py", "index.py")] + [here.parent / "yamlio.py"]
    sources = b"".join(path.read_bytes() for path in files)
    return f"{FORMAT}:{hashlib.blake2b(sources, digest_size=8).hexdigest()}"


def load_index(root: Path | str) -> Index:
    """The index of the knowledge base at ``root``, brought up to date with its files."""
    root = Path(root)
    with _no_gc():
        old = _read(index_path(root))
        index, changed = _update(root, old, *scan(root, _listings(old) if old else None))
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
    folder_mtime_ns: int = 0


def _inside(root: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def _listings(index: Index) -> dict[str, tuple[int, list[str]]]:
    """Each case folder's mtime and the failure files it held when the index was made, as
    paths `<case>/<file>` (not for folders holding a file that is not a record: those are
    listed again every time)."""
    paths = index.columns["path"]
    starts = index.case_starts.tolist()
    names: dict[str, list[str]] = {}
    for start, end in zip(starts, [*starts[1:], len(paths)], strict=True):
        names[paths[start].split("/", 1)[0]] = paths[start:end]
    unlisted = {path.split("/", 1)[0] for path, _, _ in index.skipped}
    return {
        case: (row.folder_mtime_ns, names.get(case, []))
        for case, row in index.cases.items()
        if case not in unlisted and row.folder_mtime_ns
    }


def scan(root: Path, listed: dict[str, tuple[int, list[str]]] | None = None) -> tuple[list[Found], list[Found]]:
    """The case files and failure files of a knowledge base, with their size and mtime.

    The same files as ``kb.store.discover`` finds (case folders are the folders holding a
    case file, not starting with `.` or `_`; failure files are named `<NN>-<id>.yaml`;
    links leaving the knowledge base are not followed), from one `scandir` per folder:
    this runs on every `kb similar`, so it does no more than stat each file once. A folder
    of ``listed`` whose mtime is the one given there holds the files given there: those
    are stat'ed without listing the folder again.
    """
    base = str(root)
    real_root = os.path.realpath(base)
    cases: list[Found] = []
    failures: list[Found] = []
    match_failure = FAILURE_FILE.match
    listed = listed or {}
    with os.scandir(base) as top:
        folders = sorted((e for e in top if not e.name.startswith((".", "_"))), key=lambda e: e.name)
    for folder in folders:
        try:
            if not folder.is_dir() or (folder.is_symlink() and not _inside(real_root, folder.path)):
                continue
            folder_mtime = folder.stat().st_mtime_ns
            known = listed.get(folder.name)
            if known is not None and known[0] == folder_mtime and not folder.is_symlink():
                found = _stat_listed(folder.name, folder.path, known[1], folder_mtime)
                if found is not None:
                    cases.append(found[0])
                    failures.extend(found[1])
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
            item = Found(case_name, f"{case_name}/{name}", entry.path, st.st_size, st.st_mtime_ns, folder_mtime)
            if name == CASE_FILE:
                found_case = item
            else:
                found_failures.append(item)
        if found_case is not None:
            cases.append(found_case)
            found_failures.sort()
            failures.extend(found_failures)
    return cases, failures


def _stat_listed(case: str, folder: str, rels: list[str], folder_mtime: int) -> tuple[Found, list[Found]] | None:
    """The case file and the failure files ``rels`` (`<case>/<file>`) of a folder known to
    hold just them (None when one is gone, or is a link: then the folder is listed again)."""
    found: list[Found] = []
    stat, make, regular = os.stat, tuple.__new__, S_ISREG  # this loop runs for every file of the KB
    above = folder[: len(folder) - len(case)]  # the folder is ``above + case``
    for rel in [f"{case}/{CASE_FILE}", *rels]:
        path = above + rel
        try:
            st = stat(path, follow_symlinks=False)
        except OSError:
            return None
        if not regular(st.st_mode):  # a link, or replaced by a folder
            return None
        found.append(make(Found, (case, rel, path, st.st_size, st.st_mtime_ns, folder_mtime)))
    return found[0], found[1:]


# -- updating ------------------------------------------------------------------------


def _update(root: Path, old: Index | None, case_files: list[Found], failure_files: list[Found]) -> tuple[Index, bool]:
    if old is not None and _unchanged(old, case_files, failure_files):
        return old, False
    old_rows = {path: i for i, path in enumerate(old.columns["path"])} if old else {}
    sizes = old.columns["size"] if old else []
    mtimes = old.columns["mtime_ns"] if old else []
    skipped = {path: (size, mtime) for path, size, mtime in old.skipped} if old else {}
    keep: list[int] = []
    pending: list[Found] = []
    still_skipped: list[list[Any]] = []
    for item in failure_files:
        i = old_rows.get(item.rel)
        if i is not None and (sizes[i], mtimes[i]) == (item.size, item.mtime_ns):
            keep.append(i)
        elif skipped.get(item.rel) == (item.size, item.mtime_ns):
            still_skipped.append([item.rel, item.size, item.mtime_ns])
        else:
            pending.append(item)
    old_cases = old.cases if old else {}
    cases: dict[str, CaseRow] = {}
    case_pending: list[Found] = []
    for item in case_files:
        cached = old_cases.get(item.case)
        if cached and (cached.size, cached.mtime_ns) == (item.size, item.mtime_ns):
            same = cached.folder_mtime_ns == item.folder_mtime_ns
            cases[item.case] = cached if same else replace(cached, folder_mtime_ns=item.folder_mtime_ns)
        else:
            case_pending.append(item)
    made, made_cases = _read_all(pending, case_pending)
    cases.update((c.id, c) for c in made_cases)
    cases = dict(sorted(cases.items()))
    made_paths = {row.path for row in made.rows}
    still_skipped += [[f.rel, f.size, f.mtime_ns] for f in pending if f.rel not in made_paths]
    still_skipped.sort()
    if (
        old is not None
        and not made.rows
        and still_skipped == old.skipped
        and list(cases.values()) == list(old_cases.values())
    ):
        return old, False  # the same records (a file that is not one, unchanged, made the quick test fail)
    if old is not None and list(cases) == list(old_cases) and len(keep) + len(made.rows) == len(old_rows):
        at = [old_rows.get(row.path, -1) for row in made.rows]
        if -1 not in at:  # the same files, some edited in place
            return _patch(old, at, made, cases, still_skipped), True
    return _rebuilt(old, keep, made, cases, still_skipped), True


def _rebuilt(old: Index | None, keep: list[int], made: Made, cases: dict[str, CaseRow], skipped: list[Any]) -> Index:
    """The index of the old rows ``keep`` and the rows ``made``, in case and path order."""
    from kb.recurring import copies

    rows: list[Row] = []
    parts: list[Rows] = []
    sig_parts: list[NDArray[np.uint32]] = []
    terms = sorted(set(old.terms if old else ()) | set(made.vocabulary))
    vocabulary = {term: col for col, term in enumerate(terms)}
    if keep and old is not None:
        take = np.array(keep, dtype=np.int64)
        parts.append(_recolumn(old.counts.take(take), old.terms, vocabulary))
        sig_parts.append(old.signatures[take])
        rows.extend(old.row(i) for i in keep)
    if made.rows:
        parts.append(_recolumn(made.counts, made.vocabulary, vocabulary))
        sig_parts.append(made.signatures)
        rows.extend(made.rows)
    counts = Rows.stacked(parts, len(vocabulary))
    signatures = np.concatenate(sig_parts) if sig_parts else np.zeros((0, copies.NUM_PERM), dtype=np.uint32)
    order = sorted(range(len(rows)), key=lambda i: (rows[i].case, rows[i].path))
    if order != list(range(len(rows))):
        perm = np.array(order, dtype=np.int64)
        rows = [rows[i] for i in order]
        counts = counts.take(perm)
        signatures = signatures[perm]
    counts, terms = _used_terms(counts, terms)
    index = Index(Columns(_columns(rows, ROW_FIELDS)), cases, terms, counts, signatures, {}, skipped)
    index.rows = rows
    index.copy_of = _copy_groups(index)
    return index


def _patch(old: Index, at: list[int], made: Made, cases: dict[str, CaseRow], skipped: list[Any]) -> Index:
    """``old`` with its rows at ``at`` replaced by the rows ``made`` (the same files, edited
    in place): the index a full build gives, at the cost of what changed."""
    terms = old.terms
    new_terms = sorted(t for t in made.vocabulary if t not in old.vocabulary)
    counts = old.counts
    if new_terms:
        where = [bisect_left(terms, t) for t in new_terms]
        merged: list[str] = []
        for start, end, term in zip([0, *where[:-1]], where, new_terms, strict=True):
            merged += terms[start:end]
            merged.append(term)
        merged += terms[where[-1] :]
        shift = np.searchsorted(np.array(where), np.arange(len(terms)), side="right")
        counts = counts.renumbered((np.arange(len(terms)) + shift).astype(np.int32), len(merged))
        terms = merged
    made_terms = sorted(made.vocabulary, key=made.vocabulary.__getitem__)
    mapping = np.fromiter((bisect_left(terms, t) for t in made_terms), dtype=np.int32, count=len(made_terms))
    replaced = np.arange(old.counts.height, dtype=np.int64)
    replaced[at] = old.counts.height + np.arange(len(at))
    counts = Rows.stacked([counts, made.counts.renumbered(mapping, len(terms))], len(terms)).take(replaced)
    counts, terms = _used_terms(counts, terms)
    signatures = np.array(old.signatures)
    signatures[at] = made.signatures
    lists: dict[str, list[Any]] = {}
    kept: dict[str, bytes | NDArray[Any]] = {}
    for name in ROW_FIELDS:
        if name in ("path", "case"):  # the same file's, by construction: stored again unparsed
            kept[name] = old.columns.stored(name)
            continue
        values = [getattr(row, name) for row in made.rows]
        column = old.columns[name]
        if all(column[i] == value for i, value in zip(at, values, strict=True)):
            lists[name], kept[name] = column, old.columns.stored(name)  # stored again as it was
        else:
            lists[name] = list(column)
            for i, value in zip(at, values, strict=True):
                lists[name][i] = value
    index = Index(Columns(lists, kept), cases, terms, counts, signatures, {}, skipped)
    index.case_numbers = old.case_numbers
    if _same_copy_evidence(old, index, at):
        index.copy_of, index.groups = old.copy_of, old.groups
    else:
        index.copy_of = _copy_groups(index)
    return index


def _same_copy_evidence(old: Index, new: Index, at: list[int]) -> bool:
    """Whether the near-copy groups of ``new`` (``old`` with the rows ``at`` replaced) are
    ``old``'s: every case states the same `duplicate_of`, and each case of a replaced row
    has the same signature (the minimum of its rows'), so ``_copy_groups`` has the same input."""
    if any(new.cases[c].duplicate_of != old.cases[c].duplicate_of for c in old.cases):
        return False
    starts = old.case_starts
    ends = np.append(starts[1:], len(old.signatures))
    for k in set(np.searchsorted(starts, np.array(at, dtype=np.int64), side="right").tolist()):
        start, end = int(starts[k - 1]), int(ends[k - 1])
        before = np.minimum.reduce(old.signatures[start:end], axis=0)
        if not np.array_equal(before, np.minimum.reduce(new.signatures[start:end], axis=0)):
            return False
    return True


def _unchanged(old: Index, case_files: list[Found], failure_files: list[Found]) -> bool:
    """Whether the files are those the index was made of, each of the same size and mtime
    (both lists are in the order of the index's rows and cases), and the case folders list
    the files they listed then."""
    columns = old.columns
    return (
        len(failure_files) == len(old.failure_mask)
        and np.array_equal(np.fromiter((f.size for f in failure_files), np.int64), columns.array("size"))
        and np.array_equal(np.fromiter((f.mtime_ns for f in failure_files), np.int64), columns.array("mtime_ns"))
        and [(f.case, f.size, f.mtime_ns, f.folder_mtime_ns) for f in case_files]
        == [(c.id, c.size, c.mtime_ns, c.folder_mtime_ns) for c in old.cases.values()]
        and [f.rel for f in failure_files] == columns["path"]
    )


def _used_terms(counts: Rows, terms: list[str]) -> tuple[Rows, list[str]]:
    """``counts`` without the columns of terms no row has any more (an edit removed them),
    the vocabulary still in sorted order."""
    used = np.bincount(counts.indices, minlength=len(terms)) > 0
    if used.all():
        return counts, terms
    new_column = (np.cumsum(used) - 1).astype(np.int32)
    compact = Rows(counts.data, new_column[counts.indices], counts.indptr, int(np.count_nonzero(used)))
    return compact, [term for term, kept in zip(terms, used.tolist(), strict=True) if kept]


def _recolumn(counts: Rows, terms: list[str] | dict[str, int], vocabulary: dict[str, int]) -> Rows:
    """``counts`` (columns named by ``terms``) with its columns renumbered to ``vocabulary``."""
    names = terms if isinstance(terms, list) else sorted(terms, key=terms.__getitem__)
    mapping = np.fromiter((vocabulary[t] for t in names), dtype=np.int32, count=len(names))
    return counts.renumbered(mapping, len(vocabulary))


def _copy_groups(index: Index) -> dict[str, str]:
    """Near-copy groups: by MinHash of the cases' text, joined with stated `duplicate_of` links."""
    from kb.recurring import copies

    case_ids = list(dict.fromkeys(index.columns["case"]))
    sigs = np.minimum.reduceat(index.signatures, index.case_starts, axis=0) if case_ids else index.signatures
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
        item.folder_mtime_ns,
    )


def _parse(raw: bytes) -> dict[str, Any] | None:
    """A record file's data as `kb check` reads it (`kb.yamlio`: libyaml's events, CSafeLoader's
    types), or None when check would refuse it as YAML or it is not a mapping. The index reads
    its text fields only."""
    from kb.errors import RecordError
    from kb.yamlio import decode, parse

    try:
        data = parse("", decode("", raw))
    except RecordError:
        return None
    return data if isinstance(data, dict) else None


@dataclass
class Made:
    """Rows read from files: their terms (rows x their own vocabulary) and signatures."""

    rows: list[Row]
    vocabulary: dict[str, int]
    counts: Rows
    signatures: NDArray[np.uint32]


def make_row(item: Found) -> tuple[Row, dict[str, float], list[str]] | None:
    """Read one failure file into its row, terms and words (None when it is not a record)."""
    from kb.cache import digest

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
    from kb.recurring import copies

    made = [m for m in map(make_row, items) if m is not None]
    vocabulary, counts = sorted_count_matrix([terms for _, terms, _ in made])
    return Made([row for row, _, _ in made], vocabulary, counts, copies.signatures([words for _, _, words in made]))


def _read_cases(items: list[Found]) -> list[CaseRow]:
    return [_case_row(item) for item in items]


def _read_all(pending: list[Found], case_pending: list[Found]) -> tuple[Made, list[CaseRow]]:
    """Read the changed failure files and case files, on all cores when there are many."""
    workers = min(os.cpu_count() or 1, 8)
    if len(pending) + len(case_pending) < POOL_MIN_FILES or workers < 2:
        return _read_chunk(pending), _read_cases(case_pending)
    from kb.pool import crashed, worker_pool  # a process pool costs a tenth of a second to import

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
    """One ``Made`` of several, over the union of their vocabularies (in sorted order, as
    each part's is: renumbering a part's columns keeps their order)."""
    from kb.recurring import copies

    union: set[str] = set()
    for part in parts:
        union.update(part.vocabulary)
    vocabulary = {term: col for col, term in enumerate(sorted(union))}
    counts = Rows.stacked([_recolumn(part.counts, part.vocabulary, vocabulary) for part in parts], len(vocabulary))
    sigs = [part.signatures for part in parts if len(part.signatures)]
    signatures = np.concatenate(sigs) if sigs else np.zeros((0, copies.NUM_PERM), dtype=np.uint32)
    return Made([row for part in parts for row in part.rows], vocabulary, counts, signatures)


# -- storing -------------------------------------------------------------------------


def _columns(records: list[Any], names: tuple[str, ...]) -> dict[str, list[Any]]:
    return {name: list(map(attrgetter(name), records)) for name in names}


def _write(path: Path, index: Index) -> None:
    """The index as one file: ``MAGIC``, the header's length (8 bytes) and JSON header, then
    each part (an array or a JSON document) at an offset aligned for mapping it."""
    parts: dict[str, bytes | NDArray[Any]] = {name: index.columns.stored(name) for name in ROW_FIELDS}
    parts.update(
        cases=_json(_columns(list(index.cases.values()), CASE_FIELDS)),
        terms=_json(index.terms),
        copy_of=_json(index.copy_of),
        skipped=_json(index.skipped),
        data=index.counts.data.astype(np.float32),
        indices=index.counts.indices.astype(np.int32),
        indptr=index.counts.indptr.astype(np.int64),
        signatures=np.ascontiguousarray(index.signatures, dtype=np.uint32),
        case_numbers=index.case_numbers.astype(np.int64),
        groups=index.groups.astype(np.int64),
    )
    places: dict[str, list[Any]] = {}
    offset = 0
    for name, part in parts.items():
        size = part.nbytes if isinstance(part, np.ndarray) else len(part)
        kind = [part.dtype.str, list(part.shape)] if isinstance(part, np.ndarray) else ["json"]
        places[name] = [offset, size, *kind]
        offset += -(-size // ALIGN) * ALIGN
    header = _json({"fingerprint": fingerprint(), "width": index.counts.width, "parts": places})
    start = -(-(len(MAGIC) + 8 + len(header)) // ALIGN) * ALIGN
    with replacing(path, durable=False) as handle:  # a cache: a crash may leave it old or empty, never half
        handle.write(MAGIC + len(header).to_bytes(8, "little") + header)
        for name, part in parts.items():
            handle.seek(start + places[name][0])
            handle.write(part.data if isinstance(part, np.ndarray) else part)
        handle.truncate(start + offset)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _read(path: Path) -> Index | None:
    """The stored index, or None when it is missing, foreign, corrupt or from other code.

    The file is mapped, not read: the arrays are views of it, and a JSON document is
    parsed when its column is first used."""
    try:
        with open(path, "rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        if mapped[: len(MAGIC)] != MAGIC:
            return None
        length = int.from_bytes(mapped[len(MAGIC) : len(MAGIC) + 8], "little")
        header = json.loads(mapped[len(MAGIC) + 8 : len(MAGIC) + 8 + length])
        if header.get("fingerprint") != fingerprint():
            return None
        start = -(-(len(MAGIC) + 8 + length) // ALIGN) * ALIGN
        blobs: dict[str, bytes] = {}
        arrays: dict[str, NDArray[Any]] = {}
        for name, (offset, size, *kind) in header["parts"].items():
            at = start + offset
            if at + size > len(mapped):
                return None
            if kind == ["json"]:
                blobs[name] = mapped[at : at + size]
            else:
                dtype, shape = np.dtype(kind[0]), tuple(kind[1])
                arrays[name] = np.frombuffer(mapped, dtype, count=size // dtype.itemsize, offset=at).reshape(shape)
        counts = Rows(arrays["data"], arrays["indices"], arrays["indptr"], int(header["width"]))
        case_columns = json.loads(blobs["cases"])
        cases = [CaseRow(*values) for values in zip(*(case_columns[name] for name in CASE_FIELDS), strict=True)]
        rows = counts.height
        if not all(len(part) == rows for part in (arrays["signatures"], arrays["case_numbers"], arrays["size"])):
            return None
        index = Index(
            Columns({}, {name: arrays[name] if name in NUMBER_FIELDS else blobs[name] for name in ROW_FIELDS}),
            {c.id: c for c in cases},
            json.loads(blobs["terms"]),
            counts,
            arrays["signatures"],
            json.loads(blobs["copy_of"]),
            json.loads(blobs["skipped"]),
        )
        if len(index.terms) != counts.width:
            return None
        index.case_numbers = arrays["case_numbers"]
        index.groups = arrays["groups"]
        return index
    except Exception:  # a missing or damaged cache is a cold cache
        return None
