"""A cache of validated records, so an unchanged knowledge base loads without parsing.

Each record file's entry is keyed by its path, size, mtime and a BLAKE2 hash of its
bytes; the whole cache is dropped when kb's version or the code that reads records
changes. Cross-record rules (ids, taxonomy, totals, references) are never cached: they
run on every check, so a changed taxonomy or example is always seen.

The cache lives in a folder kb owns, outside the knowledge base (``$KB_CACHE_DIR``, else
``$XDG_CACHE_HOME/kb``, else ``~/.cache/kb``), one file per knowledge base. It holds
pickles, so it must never live where someone else can write: that is why it is not
inside the (shared, reviewed) knowledge base folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from kb.atomic import replacing
from kb.errors import Problem

FORMAT = 1


@dataclass(frozen=True)
class Entry:
    """What loading one file gave: the record (or None) and its problems."""

    size: int
    mtime_ns: int
    digest: bytes
    record: Any
    problems: tuple[Problem, ...]


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


@cache
def code_fingerprint() -> str:
    """Changes whenever the code that turns bytes into records changes (or kb's version does)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("kb-iac-failures")
    except PackageNotFoundError:
        ours = "unknown"
    here = Path(__file__).parent
    sources = b"".join((here / name).read_bytes() for name in ("models.py", "validate.py", "yamlio.py", "store.py"))
    return f"{FORMAT}:{ours}:{digest(sources).hex()}"


def cache_dir() -> Path:
    if explicit := os.environ.get("KB_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kb"


def cache_file(root: Path, kind: str = "records") -> Path:
    """One cache file per knowledge base folder (by its absolute path) and kind of record."""
    key = digest(str(root.resolve()).encode()).hex()
    return cache_dir() / f"{kind}-{key}.pickle"


@dataclass
class RecordCache:
    """Entries by path; ``changed`` tells whether anything needs saving."""

    path: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    changed: bool = False

    @classmethod
    def open(cls, root: Path, kind: str = "records") -> RecordCache:
        """The cache of ``kind`` (`records`, or `slim` for kb check) for the KB at ``root``."""
        path = cache_file(root, kind)
        try:
            with path.open("rb") as handle:
                fingerprint, entries = pickle.load(handle)  # noqa: S301 (kb's own cache, in the user's cache dir)
        except Exception:  # a missing, foreign or corrupt cache is simply a cold cache
            return cls(path)
        if fingerprint != code_fingerprint() or not isinstance(entries, dict):
            return cls(path)
        return cls(path, entries)

    def get(self, key: str, stat: os.stat_result, data_digest: bytes) -> Entry | None:
        entry = self.entries.get(key)
        if entry and (entry.size, entry.mtime_ns, entry.digest) == (stat.st_size, stat.st_mtime_ns, data_digest):
            return entry
        return None

    def put(self, key: str, entry: Entry) -> None:
        self.entries[key] = entry
        self.changed = True

    def keep_only(self, keys: set[str]) -> None:
        """Forget files that no longer exist."""
        stale = self.entries.keys() - keys
        for key in stale:
            del self.entries[key]
        self.changed = self.changed or bool(stale)

    def save(self) -> None:
        """Write the cache atomically; a cache that cannot be written is not an error."""
        if not self.changed:
            return
        with contextlib.suppress(OSError), replacing(self.path) as handle:
            pickle.dump((code_fingerprint(), self.entries), handle, protocol=pickle.HIGHEST_PROTOCOL)
        self.changed = False
