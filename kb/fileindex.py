"""The cache's index of record files: one entry a file, packed in one blob, as columns.

A warm `kb check` reads the whole index to decide, by each file's stat, what changed. One
blob, one checksum and a few C-level conversions (an ``array`` of the stat numbers, one
JSON list of ids) cost a fraction of one row, and one checksum, a file: at 55,000 files,
about 0.1 s against 0.45 s. The blob is data only (bytes, integers, JSON text); ``unpack``
refuses anything that is not exactly what ``pack`` writes.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from array import array
from collections.abc import Iterable
from functools import partial
from itertools import chain
from operator import itemgetter
from typing import NamedTuple

from kb.errors import Problem, Severity

RACY_NS = 2_000_000_000
"""An entry is trusted on its stat alone only for a file last modified this long before the
entry was written (two seconds: the coarsest timestamps in use, FAT's, tick that slowly)."""
DIGEST_SIZE = 16
"""The length of a file's digest (``kb.cache.digest``)."""
_MAGIC = b"kbix"
_HEADER = struct.Struct("<4sQQQQ")  # magic, entries, then the bytes of keys, ids and sparse problems
_INTS = 5  # size, mtime_ns, ctime_ns, inode, seen_ns


class Known(NamedTuple):
    """A file as its cache entry last saw it."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    seen_ns: int
    """When the entry was written (``time.time_ns``)."""
    digest: bytes
    valid: bool
    """True when the file gave a record (then its payloads may hold that record)."""
    problems_json: str
    ident: str | None
    """The record's id (a case's or a failure's)."""
    credentials_json: str
    """The credentials found in the file, as `kb check` reports them (JSON, like ``problems_json``)."""

    def unchanged(self, st: os.stat_result) -> bool:
        """True when the stat says the file is as the entry saw it, and the entry is not racy:
        the file was last modified ``RACY_NS`` or more before the entry was written."""
        return (
            st.st_size == self.size
            and st.st_mtime_ns == self.mtime_ns
            and st.st_ctime_ns == self.ctime_ns
            and st.st_ino == self.inode
            and st.st_mtime_ns < self.seen_ns - RACY_NS
        )

    def problems(self, path: str) -> tuple[Problem, ...]:
        """The problems reading the file gave (at ``path``, the file's path as the KB is named)."""
        return problems_at(self.problems_json, path) if self.problems_json != "[]" else ()

    def credentials(self, path: str) -> tuple[Problem, ...]:
        """The credentials in the file, as errors at ``path``."""
        return problems_at(self.credentials_json, path) if self.credentials_json != "[]" else ()


def problems_json(problems: Iterable[Problem]) -> str:
    listed = [[p.line, p.col, p.message, p.severity.value] for p in problems]
    return json.dumps(listed) if listed else "[]"


def problems_at(text: str, path: str) -> tuple[Problem, ...]:
    return tuple(
        Problem(path, line, col, message, Severity(severity)) for line, col, message, severity in json.loads(text)
    )


def pack(index: dict[str, Known]) -> bytes:
    """The index as one blob (entries whose digest is not ``DIGEST_SIZE`` bytes are left out).
    Column by column, with ``map`` and ``itemgetter``: no Python call an entry (it runs on every change)."""
    if any(len(known.digest) != DIGEST_SIZE for known in index.values()):
        index = {key: known for key, known in index.items() if len(known.digest) == DIGEST_SIZE}
    rows = list(index.values())
    keys = "\0".join(index).encode()
    ints = array("q", chain.from_iterable(map(itemgetter(*range(_INTS)), rows)))
    if sys.byteorder == "big":
        ints.byteswap()
    idents = json.dumps(list(map(itemgetter(8), rows)), separators=(",", ":")).encode()
    sparse = {
        str(i): [known.problems_json, known.credentials_json]
        for i, known in enumerate(rows)
        if known.problems_json != "[]" or known.credentials_json != "[]"
    }
    problems = json.dumps(sparse, separators=(",", ":")).encode()
    return b"".join(
        (
            _HEADER.pack(_MAGIC, len(rows), len(keys), len(idents), len(problems)),
            keys,
            ints.tobytes(),
            b"".join(map(itemgetter(5), rows)),
            bytes(map(bool, map(itemgetter(6), rows))),
            idents,
            problems,
        )
    )


def unpack(blob: bytes) -> dict[str, Known]:
    """The index ``pack`` made; ValueError for anything else."""
    try:
        magic, n, keys_size, idents_size, problems_size = _HEADER.unpack_from(blob)
    except struct.error as exc:
        raise ValueError("not a file index") from exc
    ints_at = _HEADER.size + keys_size
    digests_at = ints_at + 8 * _INTS * n
    valid_at = digests_at + DIGEST_SIZE * n
    idents_at = valid_at + n
    problems_at = idents_at + idents_size
    if magic != _MAGIC or problems_at + problems_size != len(blob):
        raise ValueError("not a file index")
    keys = blob[_HEADER.size : ints_at].decode().split("\0") if n else []
    ints = array("q")
    ints.frombytes(blob[ints_at:digests_at])
    if sys.byteorder == "big":
        ints.byteswap()
    digests = [blob[i : i + DIGEST_SIZE] for i in range(digests_at, valid_at, DIGEST_SIZE)]
    valid = [flag == 1 for flag in blob[valid_at:idents_at]]
    idents = json.loads(blob[idents_at:problems_at])
    sparse = json.loads(blob[problems_at:])
    if len(keys) != n or not isinstance(idents, list) or len(idents) != n or not isinstance(sparse, dict):
        raise ValueError("not a file index")
    problems, credentials = ["[]"] * n, ["[]"] * n
    for i, (found, creds) in sparse.items():
        problems[int(i)], credentials[int(i)] = str(found), str(creds)
    columns = (ints[k::_INTS] for k in range(_INTS))
    rows = zip(*columns, digests, valid, problems, idents, credentials, strict=True)
    return dict(zip(keys, map(_known, rows), strict=True))


_known = partial(tuple.__new__, Known)
"""``Known`` from a tuple of its fields, in C (half the time of ``Known(...)``, once a file a run)."""
