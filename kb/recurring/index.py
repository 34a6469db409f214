"""The similarity index of a knowledge base, kept in kb's cache and updated incrementally.

One file per knowledge base (``similar-<hash of its path>.npz`` in kb's cache folder):
plain arrays and one JSON document, never a pickle. Each failure's row (weighted terms
and MinHash signature) is keyed by its file's size, mtime and BLAKE2 hash, so after an
edit only the changed files are read again; a change of the code that extracts terms
drops the whole index. Records are read as plain YAML data (not validated: `kb check`
reports invalid records; a file that does not parse to a mapping is left out).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import yaml
from numpy.typing import NDArray

from kb.atomic import replacing
from kb.cache import cache_file, digest
from kb.pool import crashed, worker_pool
from kb.recurring import copies
from kb.recurring.features import Terms, analyse
from kb.recurring.vectors import count_matrix, idf, weigh
from kb.store import discover

FORMAT = 1
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
    """True for a `kind: failure` entry (only those are ranked and grouped)."""
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


@dataclass
class Index:
    """Rows, their term counts (rows x vocabulary) and MinHash signatures, and the cases."""

    rows: list[Row]
    cases: dict[str, CaseRow]
    vocabulary: dict[str, int]
    counts: sp.csr_matrix
    signatures: NDArray[np.uint32]
    copy_of: dict[str, str]
    """Each case that is a near-copy of another (found by MinHash or stated by `duplicate_of`) -> its group's first case."""

    @cached_property
    def positions(self) -> dict[str, int]:
        return {row.id: i for i, row in enumerate(self.rows)}

    @cached_property
    def idf(self) -> NDArray[np.float32]:
        return idf(self.counts[self.failure_mask]) if self.counts.shape[0] else np.zeros(0, dtype=np.float32)

    @cached_property
    def vectors(self) -> sp.csr_matrix:
        """Unit-length TF-IDF rows (the IDF over failures only)."""
        return weigh(self.counts, self.idf)

    @cached_property
    def failure_mask(self) -> NDArray[np.bool_]:
        return np.array([row.failure for row in self.rows], dtype=bool)

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
        return np.array([names.setdefault(self.group(row.case), len(names)) for row in self.rows], dtype=np.int64)


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
    old = _read(index_path(root))
    index, changed = _update(root, old)
    if changed:
        with contextlib.suppress(OSError):
            _write(index_path(root), index)
    return index


# -- updating ------------------------------------------------------------------------


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _update(root: Path, old: Index | None) -> tuple[Index, bool]:
    layout = discover(root)
    old_rows = {row.path: (i, row) for i, row in enumerate(old.rows)} if old else {}
    old_cases = old.cases if old else {}
    keep: list[tuple[int, Row]] = []
    pending: list[tuple[str, str, Path, int, int]] = []
    cases: dict[str, CaseRow] = {}
    case_pending: list[tuple[str, Path, int, int]] = []
    for folder in layout.cases:
        case_id = folder.path.name
        stat = _stat(folder.case_file)
        if stat is None:
            continue
        cached = old_cases.get(case_id)
        if cached and (cached.size, cached.mtime_ns) == stat:
            cases[case_id] = cached
        else:
            case_pending.append((case_id, folder.case_file, *stat))
        for _, path in folder.failures:
            rel = path.relative_to(root).as_posix()
            stat = _stat(path)
            if stat is None:
                continue
            hit = old_rows.get(rel)
            if hit and (hit[1].size, hit[1].mtime_ns) == stat:
                keep.append(hit)
            else:
                pending.append((case_id, rel, path, *stat))
    changed = (
        bool(pending or case_pending)
        or old is None
        or len(keep) != len(old_rows)
        or len(cases) + len(case_pending) != len(old_cases)
    )
    if not changed and old is not None:
        return old, False
    for case_id, path, size, mtime in case_pending:
        cases[case_id] = _case_row(case_id, path, size, mtime)
    fresh = _read_rows(pending)
    new_rows: list[tuple[Row, Terms, NDArray[np.uint32]]] = []
    for item, made in zip(pending, fresh, strict=True):
        if made is None:
            continue
        row = made[0]
        hit = old_rows.get(item[1])
        if hit and hit[1].digest == row.digest and old is not None:  # touched, not changed
            keep.append((hit[0], row))
            continue
        new_rows.append(made)
    vocabulary = dict(old.vocabulary) if old else {}
    fresh_counts = count_matrix([c for _, c, _ in new_rows], vocabulary)
    width = len(vocabulary)
    parts: list[sp.csr_matrix] = []
    sig_parts: list[NDArray[np.uint32]] = []
    rows: list[Row] = []
    if keep and old is not None:
        take = np.array([i for i, _ in keep], dtype=np.int64)
        kept = old.counts[take]
        kept.resize((kept.shape[0], width))
        parts.append(kept)
        sig_parts.append(old.signatures[take])
        rows.extend(row for _, row in keep)
    if new_rows:
        fresh_counts.resize((fresh_counts.shape[0], width))
        parts.append(fresh_counts)
        sig_parts.append(np.stack([s for _, _, s in new_rows]))
        rows.extend(r for r, _, _ in new_rows)
    counts = sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, width), dtype=np.float32)
    signatures = np.concatenate(sig_parts) if sig_parts else np.zeros((0, copies.NUM_PERM), dtype=np.uint32)
    order = sorted(range(len(rows)), key=lambda i: (rows[i].case, rows[i].path))
    perm = np.array(order, dtype=np.int64)
    rows = [rows[i] for i in order]
    counts = sp.csr_matrix(counts[perm]) if len(order) else counts
    signatures = signatures[perm] if len(order) else signatures
    index = Index(rows, dict(sorted(cases.items())), vocabulary, counts, signatures, {})
    index.copy_of = _copy_groups(index)
    return index, True


def _copy_groups(index: Index) -> dict[str, str]:
    """Near-copy groups: by MinHash of the cases' text, joined with stated `duplicate_of` links."""
    case_ids = sorted({row.case for row in index.rows})
    by_case: dict[str, list[int]] = {}
    for i, row in enumerate(index.rows):
        by_case.setdefault(row.case, []).append(i)
    sigs = np.stack([copies.union(index.signatures[by_case[c]]) for c in case_ids]) if case_ids else index.signatures
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


def _case_row(case_id: str, path: Path, size: int, mtime: int) -> CaseRow:
    data = _parse(path)
    task = data.get("task") if data else None
    platform = task.get("platform") if isinstance(task, dict) else None
    duplicate = data.get("duplicate_of") if data else None
    return CaseRow(
        case_id,
        size,
        mtime,
        platform if isinstance(platform, str) else None,
        duplicate if isinstance(duplicate, str) else None,
    )


def _parse(path: Path, raw: bytes | None = None) -> dict[str, Any] | None:
    try:
        data = yaml.load(raw if raw is not None else path.read_bytes(), Loader=yaml.CSafeLoader)
    except (OSError, yaml.YAMLError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


Made = tuple[Row, Terms, NDArray[np.uint32]]


def make_row(case_id: str, rel: str, path: Path, size: int, mtime: int) -> Made | None:
    """Read one failure file into its row, terms and signature (None when it is not a record)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    data = _parse(path, raw)
    if data is None or not isinstance(data.get("id"), str):
        return None
    impact = data.get("impact")
    category = data.get("category")
    row = Row(
        id=f"{case_id}/{data['id']}",
        case=case_id,
        path=rel,
        size=size,
        mtime_ns=mtime,
        digest=digest(raw).hex(),
        title=str(data.get("title") or data["id"]),
        impact=impact if isinstance(impact, str) else None,
        failure=data.get("kind", "failure") == "failure" and data.get("not_a_failure") is not True,
        services=[],
        category=category if isinstance(category, str) else None,
        documented=_documented(data),
    )
    found = analyse(data)
    row.services = found.services
    return row, found.terms, copies.signature(found.words)


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


def _read_chunk(items: list[tuple[str, str, Path, int, int]]) -> list[Made | None]:
    return [make_row(*item) for item in items]


def _read_rows(pending: list[tuple[str, str, Path, int, int]]) -> list[Made | None]:
    workers = min(os.cpu_count() or 1, 8)
    if len(pending) < POOL_MIN_FILES or workers < 2:
        return _read_chunk(pending)
    size = max(100, len(pending) // (workers * 4))
    chunks = [pending[i : i + size] for i in range(0, len(pending), size)]
    made: list[Made | None] = []
    finished = [0]
    with crashed("indexing failures", finished, len(pending)), worker_pool(workers) as pool:
        for part in pool.map(_read_chunk, chunks):
            made.extend(part)
            finished[0] = len(made)
    return made


# -- storing -------------------------------------------------------------------------


def _write(path: Path, index: Index) -> None:
    meta = {
        "fingerprint": fingerprint(),
        "rows": [asdict(r) for r in index.rows],
        "cases": [asdict(c) for c in index.cases.values()],
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
        shape=np.array(index.counts.shape, dtype=np.int64),
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
            shape = tuple(int(x) for x in stored["shape"])
            counts = sp.csr_matrix((stored["data"], stored["indices"], stored["indptr"]), shape=shape)
            signatures = stored["signatures"]
        rows = [Row(**r) for r in meta["rows"]]
        cases = {c["id"]: CaseRow(**c) for c in meta["cases"]}
        vocabulary = {term: i for i, term in enumerate(meta["vocabulary"])}
        if counts.shape[0] != len(rows) or signatures.shape[0] != len(rows):
            return None
        return Index(rows, cases, vocabulary, counts, signatures, dict(meta["copy_of"]))
    except Exception:  # a missing or damaged cache is a cold cache
        return None
