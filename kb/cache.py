"""kb's cache: what reading each record file gave, and what was computed from the records
(`kb check`'s findings per case, each report's inputs, the last `kb stats`).

One SQLite file per knowledge base (``records-<hash of its path>.sqlite``) in a folder kb
owns, outside the knowledge base: ``$KB_CACHE_DIR``, else ``$XDG_CACHE_HOME/kb``, else
``~/.cache/kb``.

- **Stat first, as git's index.** A file is unchanged when its ``(size, mtime_ns,
  ctime_ns, inode)`` equal its entry's: no byte is read. ctime changes on every write,
  even when an editor or ``touch -d`` puts the mtime back. A file whose stat changed is
  hashed (BLAKE2), and parsed again only when its bytes changed.
- **One index.** The entries of all files (stat, digest, problems, id) are one blob
  (``kb.fileindex``), as git's index is one file: a warm run reads it in one query and
  checks one checksum, not one row and one checksum a file.
- **Folder listings** of case folders are kept the same way (one blob): a folder whose own
  stat is unchanged had no file added, removed or renamed, so it is not listed again.
- **Racy entries.** A file written in the same clock tick as its entry could change
  again without changing its stat; so an entry is trusted on stat alone only when the
  file's mtime is older than the time the entry was written by ``RACY_NS``; otherwise
  the file is hashed again (and the entry renewed), as git does for racily clean files.
- **Data, never code.** Entries are bytes, integers and JSON text, each blob, payload and
  result checksummed with keyed BLAKE2 over its name (a payload's: also the digest of the
  file it was made from) and its content (the key: the fingerprint of kb's code), so a
  damaged or edited entry, or one from another version of kb, is ignored and rebuilt.
  The folder must belong to the user and not be writable by group or others, else the
  cache is not used at all (with a ``CacheWarning``).
- **Concurrent runs**: WAL journal and a busy timeout; a write that cannot get the lock
  in time is skipped (a cache that cannot be written is never an error); a file that is
  not a database is deleted and rebuilt. The blobs are merged under the write lock
  (``RecordCache.flush``), so runs at once lose none of each other's entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import stat as stat_mode
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from kb import fileindex
from kb.errors import Problem
from kb.fileindex import RACY_NS, Known, problems_json

FORMAT = 4
BUSY_MS = 10_000
"""How long a run waits for another run's write to the cache before giving up on its own."""


class CacheWarning(UserWarning):
    """The cache could not be used (unsafe folder); kb works without it."""


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


@cache
def code_fingerprint() -> str:
    """Changes whenever kb's code (any module under ``kb/``) or the pydantic that validates and
    serialises its records changes."""
    import pydantic

    here = Path(__file__).parent
    sources = hashlib.blake2b(digest_size=16)
    for path in sorted(here.rglob("*.py")):
        sources.update(path.relative_to(here).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{FORMAT}:{pydantic.VERSION}:{sources.hexdigest()}"


def cache_dir() -> Path:
    if explicit := os.environ.get("KB_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kb"


def cache_file(root: Path, kind: str = "records") -> Path:
    """One cache file per knowledge base folder (by its absolute path) and kind (``.sqlite``: records)."""
    key = digest(str(root.resolve()).encode()).hex()
    return cache_dir() / f"{kind}-{key}.sqlite"


def safe_cache_dir() -> Path | None:
    """The cache folder, created private if missing; None (and a warning) when someone else could write it."""
    folder = cache_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError:
        return None  # cannot be created: no cache, silently (a read-only home is not an error)
    if not stat_mode.S_ISDIR(info.st_mode):
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        owner = "belongs to another user" if info.st_uid != os.getuid() else "is writable by group or others"
        warnings.warn(f"{folder}: not using kb's cache: the folder {owner}", CacheWarning, stacklevel=2)
        return None
    return folder


@dataclass(frozen=True)
class Stat:
    """What decides, without reading a file, that it has not changed."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> Stat:
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass(frozen=True)
class Stored:
    """A file's new entry: ``payloads`` by kind (`slim`, `full`), JSON text of its record."""

    key: str
    stat: Stat
    digest: bytes
    problems: tuple[Problem, ...]
    ident: str | None
    payloads: dict[str, str]
    credentials: tuple[Problem, ...] = ()

    @property
    def valid(self) -> bool:
        return bool(self.payloads)


class Listings:
    """Case folders' failure files (NN, name) by folder name, each valid while the folder's own
    stat (size, mtime, ctime, inode) is unchanged and was taken ``RACY_NS`` after its mtime."""

    def __init__(self, known: dict[str, tuple[str, list[tuple[int, str]]]]) -> None:
        self.known = known
        self.new: dict[str, tuple[str, list[tuple[int, str]]]] = {}
        self.now = time.time_ns()

    @staticmethod
    def _stat(entry: os.DirEntry[str]) -> tuple[str, int] | None:
        try:
            st = entry.stat()
        except OSError:
            return None
        return f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}", st.st_mtime_ns

    def get(self, entry: os.DirEntry[str]) -> list[tuple[int, str]] | None:
        """The folder's failure files as last listed, when its stat says nothing was added, removed or renamed."""
        cached = self.known.get(entry.name)
        stat = self._stat(entry)
        if cached is None or stat is None or cached[0] != stat[0]:
            return None
        return cached[1]

    def put(self, entry: os.DirEntry[str], names: list[tuple[int, str]]) -> None:
        """Remember a folder just listed (unless modified too recently to trust its stat next time)."""
        stat = self._stat(entry)
        if stat is not None and stat[1] < self.now - RACY_NS and self.known.get(entry.name, ("", []))[0] != stat[0]:
            self.new[entry.name] = (stat[0], names)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (name TEXT PRIMARY KEY, body BLOB NOT NULL, checksum BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS payloads (
    key TEXT, kind TEXT, digest BLOB, payload TEXT, checksum BLOB, PRIMARY KEY (key, kind)
);
CREATE TABLE IF NOT EXISTS results (name TEXT PRIMARY KEY, value TEXT NOT NULL, checksum BLOB NOT NULL);
"""
_FILES = "files"
"""The blob of the file index (``kb.fileindex``)."""
_LISTINGS = "listings"
"""The blob of the case folders' listings (JSON: name -> [stat, [[NN, name], ...]])."""
_BLOB = "SELECT body, checksum FROM blobs WHERE name=?"


@cache
def _key() -> bytes:
    return hashlib.blake2b(code_fingerprint().encode(), digest_size=32).digest()


def _sum(name: str, file_digest: bytes, text: str) -> bytes:
    """The checksum of an entry: keyed BLAKE2 (the key: kb's code fingerprint) over the entry's
    name, the digest of the file's bytes it was made from (fixed length) and its text."""
    return hashlib.blake2b(file_digest + f"{name}\0{text}".encode(), digest_size=16, key=_key()).digest()


def _blob_sum(name: str, body: bytes) -> bytes:
    """The checksum of a blob: keyed BLAKE2 over its name and bytes."""
    return hashlib.blake2b(f"{name}\0".encode() + body, digest_size=16, key=_key()).digest()


def _unpack_listings(body: bytes) -> dict[str, tuple[str, list[tuple[int, str]]]]:
    folders = json.loads(body)
    if not isinstance(folders, dict) or not all(
        isinstance(stat, str) and isinstance(names, list) for stat, names in folders.values()
    ):
        raise ValueError("not listings")
    return folders


class RecordCache:
    """The cache of one knowledge base; a disabled one (no file) answers nothing and stores nothing.

    Payloads and results are written as they come; the file index and the listings, one blob
    each, are written once, by ``flush`` (at the latest when the cache is closed): merged,
    under the write lock, into what other runs may have written since they were read."""

    def __init__(self, db: sqlite3.Connection | None, root: Path) -> None:
        self.db = db
        self.root = root
        self._read: dict[str, tuple[bytes, Any]] = {}
        """Each blob as this run read it: its checksum, and what it decoded to."""
        self._files: dict[str, Known | None] = {}
        """File entries to write (None: to forget)."""
        self._listings: dict[str, tuple[str, list[tuple[int, str]]]] = {}
        """Listings to write."""

    @classmethod
    def open(cls, root: Path, *, enabled: bool = True) -> RecordCache:
        folder = safe_cache_dir() if enabled else None
        if folder is None:
            return cls(None, root)
        for kind in ("records", "slim"):  # the pickles of kb before this cache: never read, removed
            with contextlib.suppress(OSError):
                cache_file(root, kind).with_suffix(".pickle").unlink()
        return cls(_connect(cache_file(root)), root)

    def close(self) -> None:
        if self.db is not None:
            self.flush()
            self.db.close()
            self.db = None

    def __enter__(self) -> RecordCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- files -------------------------------------------------------------------------

    def known(self) -> dict[str, Known]:
        """Every file entry, by key (the path relative to the KB); none when the index's checksum fails."""
        found: dict[str, Known] = self._blob(_FILES, fileindex.unpack, self._query_blob(_FILES)) or {}
        return found

    def payloads(self, kind: str, wanted: dict[str, bytes]) -> dict[str, str]:
        """The ``kind`` payloads of the files ``wanted`` (key -> digest of its bytes) whose checksum holds."""
        found: dict[str, str] = {}
        if not wanted:
            return found
        sql = "SELECT key, digest, payload, checksum FROM payloads WHERE kind=?"
        if len(wanted) < 500:
            rows = self._query(f"{sql} AND key IN ({','.join('?' * len(wanted))})", (kind, *wanted))
        else:
            rows = self._query(sql, (kind,))
        for key, file_digest, payload, checksum in rows:
            if wanted.get(key) == file_digest and checksum == _sum(f"{kind}:{key}", file_digest, payload):
                found[key] = payload
        return found

    def store(
        self,
        entries: list[Stored],
        *,
        renewed: Iterable[tuple[str, os.stat_result, Known]] = (),
        forget: Iterable[str] = (),
    ) -> None:
        """Write new entries' payloads (replacing the file's old ones) now; their index entries,
        the renewed stat and time of files hashed unchanged, and the files gone, at ``flush``."""
        if self.db is None:
            return
        now = time.time_ns()
        payloads: list[tuple[str, str, bytes, str, bytes]] = []
        for e in entries:
            s = e.stat
            problems, credentials = problems_json(e.problems), problems_json(e.credentials)
            known = Known(
                s.size, s.mtime_ns, s.ctime_ns, s.inode, now, e.digest, e.valid, problems, e.ident, credentials
            )
            self._files[e.key] = known
            payloads.extend(
                (e.key, kind, e.digest, payload, _sum(f"{kind}:{e.key}", e.digest, payload))
                for kind, payload in e.payloads.items()
            )
        for key, st, k in renewed:
            self._files[key] = k._replace(
                size=st.st_size, mtime_ns=st.st_mtime_ns, ctime_ns=st.st_ctime_ns, inode=st.st_ino, seen_ns=now
            )
        gone = [(e.key,) for e in entries]
        for key in forget:
            self._files[key] = None
            gone.append((key,))
        if not gone:
            return

        def write(db: sqlite3.Connection) -> None:
            db.executemany("DELETE FROM payloads WHERE key=?", gone)
            db.executemany("INSERT OR REPLACE INTO payloads VALUES (?,?,?,?,?)", payloads)

        self._write(write)

    # -- folders -----------------------------------------------------------------------

    def listings(self) -> Listings:
        """The cached listings of the KB's case folders (none when their checksum fails)."""
        return Listings(self._blob(_LISTINGS, _unpack_listings, self._query_blob(_LISTINGS)) or {})

    def store_listings(self, listings: Listings) -> None:
        """Remember the folders ``listings`` listed anew (written at ``flush``)."""
        if self.db is not None:
            self._listings.update(listings.new)

    def flush(self) -> None:
        """Write the file entries and listings stored since the last flush, in one transaction,
        into the blobs as they are now (another run may have written them since this one read them)."""
        if self.db is None or not (self._files or self._listings):
            return
        files, listings = self._files, self._listings
        self._files, self._listings = {}, {}

        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")  # the read below is under the write lock
            if files:
                index = dict(self._current(db, _FILES, fileindex.unpack))
                for key, known in files.items():
                    if known is None:
                        index.pop(key, None)
                    else:
                        index[key] = known
                self._put_blob(db, _FILES, fileindex.pack(index), index)
            if listings:
                folders = {**self._current(db, _LISTINGS, _unpack_listings), **listings}
                self._put_blob(db, _LISTINGS, json.dumps(folders, separators=(",", ":")).encode(), folders)

        self._write(write)

    def _current(self, db: sqlite3.Connection, name: str, decode: Callable[[bytes], Any]) -> Any:
        """A blob's value as the database holds it now (decoded again only when another run changed it)."""
        row = db.execute("SELECT checksum FROM blobs WHERE name=?", (name,)).fetchone()
        if row is not None and name in self._read and self._read[name][0] == row[0]:
            return self._read[name][1]
        rows = db.execute(_BLOB, (name,)).fetchall()
        return self._blob(name, decode, rows) or {}

    def _put_blob(self, db: sqlite3.Connection, name: str, body: bytes, value: Any) -> None:
        checksum = _blob_sum(name, body)
        db.execute("INSERT OR REPLACE INTO blobs VALUES (?,?,?)", (name, body, checksum))
        self._read[name] = (checksum, value)

    def _query_blob(self, name: str) -> Iterator[tuple[Any, ...]]:
        return self._query(_BLOB, (name,))

    def _blob(self, name: str, decode: Callable[[bytes], Any], rows: Iterable[tuple[Any, ...]]) -> Any:
        """The decoded blob of ``rows`` (body, checksum), when its checksum holds and it decodes; else None."""
        for body, checksum in rows:
            if isinstance(body, bytes) and checksum == _blob_sum(name, body):
                try:
                    value = decode(body)
                except (ValueError, TypeError, IndexError, UnicodeDecodeError):
                    return None
                self._read[name] = (checksum, value)
                return value
        return None

    # -- results -----------------------------------------------------------------------

    def result(self, name: str) -> Any:
        """The JSON value stored under ``name`` (None when missing or damaged)."""
        for value, checksum in self._query("SELECT value, checksum FROM results WHERE name=?", (name,)):
            if checksum == _sum(f"result:{name}", b"", value):
                with contextlib.suppress(ValueError):
                    return json.loads(value)
        return None

    def put_results(self, values: dict[str, Any]) -> None:
        rows = []
        for name, value in values.items():
            text = json.dumps(value)
            rows.append((name, text, _sum(f"result:{name}", b"", text)))
        if self.db is not None and rows:
            self._write(lambda db: db.executemany("INSERT OR REPLACE INTO results VALUES (?,?,?)", rows))

    def results(self, prefix: str) -> dict[str, Any]:
        """Every result whose name starts with ``prefix`` (checksums holding), by name."""
        found = {}
        for name, value, checksum in self._query(
            "SELECT name, value, checksum FROM results WHERE name >= ? AND name < ?", (prefix, prefix + "\uffff")
        ):
            if checksum == _sum(f"result:{name}", b"", value):
                with contextlib.suppress(ValueError):
                    found[name] = json.loads(value)
        return found

    # -- plumbing ----------------------------------------------------------------------

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        if self.db is None:
            return iter(())
        try:
            return iter(self.db.execute(sql, args).fetchall())
        except sqlite3.Error:
            self._discard()
            return iter(())

    def _write(self, action: Any) -> None:
        if self.db is None:
            return
        try:
            with self.db:
                action(self.db)
        except sqlite3.OperationalError:  # locked past the timeout, disk full, read-only: no cache this time
            return
        except sqlite3.Error:
            self._discard()

    def _discard(self) -> None:
        """A damaged database: delete it; the next run starts a fresh one."""
        self.close()
        _remove(cache_file(self.root))


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            os.unlink(f"{path}{suffix}")


def _fingerprint(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE name='fingerprint'").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    return row[0] if row else None


def _reset(db: sqlite3.Connection) -> None:
    """Start afresh (a new file, or one written by another version of kb), in one transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if _fingerprint(db) != code_fingerprint():  # another run may have just done it
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
                db.execute(f'DROP TABLE "{table}"')
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            db.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (code_fingerprint(),))
        db.commit()
    except BaseException:
        db.rollback()
        raise


def _connect(path: Path) -> sqlite3.Connection | None:
    """The cache database at ``path``, created when missing, deleted and rebuilt when damaged or foreign."""
    for _ in range(2):
        try:
            if path.exists() and (path.is_symlink() or path.stat().st_uid != os.getuid()):
                _remove(path)
            db = sqlite3.connect(path, timeout=BUSY_MS / 1000, isolation_level="IMMEDIATE")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if _fingerprint(db) != code_fingerprint():
                _reset(db)
            return db
        except sqlite3.OperationalError:
            return None  # locked or unwritable: run without a cache
        except sqlite3.DatabaseError:  # not a database (a planted or truncated file)
            _remove(path)
        except OSError:
            return None
    return None
