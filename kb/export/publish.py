"""Write an export as a whole: every file into a staging folder beside ``--out``, then one rename.

A reader (or a crash, kill -9 included) sees the old export or the new one, never a mix
of new data files beside an old card. A new folder is renamed into place; an old export
is replaced by swapping the two folders in one ``renameat2(RENAME_EXCHANGE)`` where the
system has it (Linux), else by two renames (the old one moved aside first, so a crash in
between leaves it whole under a hidden name, reported on the next run). Staging folders
left by an interrupted export are removed by the next export to the same folder.

A full disk, a read-only or unwritable target becomes one clear ``KbError`` and nothing
is changed.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from kb.errors import KbError

STAGING = ".{name}.export-"
"""Prefix of the staging (and swapped-out) folders, beside the out folder."""

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


def write_error(out: Path, exc: OSError) -> KbError:
    """A one-line error for a failed export write: what happened, and that nothing changed."""
    reason = _ERRORS.get(exc.errno or 0, exc.strerror or str(exc))
    return KbError(f"{out}: cannot write the export ({reason}); nothing was changed")


def publish(out: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(staging)`` to fill a new folder, then put it in place of ``out`` as a whole."""
    parent = out.parent
    prefix = STAGING.format(name=out.name)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(parent, prefix)
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    except OSError as exc:
        raise write_error(out, exc) from None
    try:
        write(staging)
        os.chmod(staging, 0o755)  # noqa: S103 - mkdtemp makes it 0o700; a dataset is as readable as any folder
        _fsync_dir(staging)
        _into_place(staging, out)
        _fsync_dir(parent)
    except OSError as exc:
        raise write_error(out, exc) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # the new folder once renamed; the old one after a swap


def _into_place(staging: Path, out: Path) -> None:
    if not out.exists():
        os.rename(staging, out)
        return
    if _exchange(staging, out):
        return  # `staging` now names the old export
    aside = Path(tempfile.mkdtemp(prefix=STAGING.format(name=out.name), dir=out.parent))
    os.rename(out, aside / "old")
    try:
        os.rename(staging, out)
    except OSError:
        os.rename(aside / "old", out)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False when the system cannot."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False  # the file system cannot exchange: fall back to two renames
    raise OSError(code, os.strerror(code), str(b))


def _remove_leftovers(parent: Path, prefix: str) -> None:
    """Remove staging folders an interrupted export to the same folder left behind."""
    with os.scandir(parent) as entries:
        leftovers = [Path(e.path) for e in entries if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False)]
    for leftover in leftovers:
        shutil.rmtree(leftover, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Write a file of the staging folder, synced to disk before the folder is renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, 0o644)
