"""Write one imported case: all files into a staging folder inside the KB, then one atomic step.

- **Create**: the staging folder is renamed to `<case-id>` only if that name is free
  (``renameat2(RENAME_NOREPLACE)``; where the system lacks it, under the KB's commit lock),
  so two imports racing for one id cannot both win: the loser gets ``ExistsError``.
- **Replace** (``force``): staging folder and case swap places in one step
  (``RENAME_EXCHANGE``), then the old case, now in the staging folder, is deleted. Where
  the system cannot swap, under the commit lock: the case moves to
  `.import-old-<token>/<case-id>`, the staging folder to `<case-id>`, the old one is deleted.

A reader sees the old case or the new one, never neither (with the swap) and never half
of one. A crash (kill -9 included) leaves at most a `.import-*` folder: `kb check` reports
it (``kb.store.discover``), and the next import (``recover``) puts back a case that exists
only in `.import-old-*/` and deletes the rest, when no other import is running. The
files inside a staging folder need no fsync of their own: the rename is the commit point.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kb.atomic import exchange, locked, rename_noreplace
from kb.documents import TASK_DOCUMENTS
from kb.errors import ExistsError
from kb.models import Case, Failure
from kb.store import CASE_FILE, OLD_PREFIX, STAGING_PREFIX, check_id, dump_record, failure_file_name, record_data

COMMIT_LOCK = ".kb-commit.lock"
"""Held while a case is moved into place where the system has no atomic rename that refuses to replace."""


def case_files(
    case: Case,
    failures: list[Failure],
    documents: dict[str, str] | None = None,
    data: list[dict[str, Any]] | None = None,
) -> list[tuple[str, str]]:
    """The file names and texts of a case folder: `case.yaml`, `NN-<id>.yaml` in order, then the
    task documents (`PROMPT.md`, ... as read from the task folder) kept beside the records.
    ``data``: the failures' ``record_data`` when the caller has it already."""
    data = data if data is not None else [record_data(f) for f in failures]
    files = [(CASE_FILE, dump_record(case))]
    files += [
        (failure_file_name(n, f.id), dump_record(f, d))
        for n, (f, d) in enumerate(zip(failures, data, strict=True), start=1)
    ]
    files += sorted((documents or {}).items(), key=lambda item: TASK_DOCUMENTS.index(item[0]))
    return files


def write_case(into: Path, case: Case, failures: list[Failure], *, force: bool = False) -> Path:
    """Write ``case`` and ``failures`` as ``into/<case-id>/``; ``ExistsError`` if it exists and not ``force``."""
    return write_case_files(into, case.id, case_files(case, failures), force=force)


def write_case_files(into: Path, case_id: str, files: list[tuple[str, str]], *, force: bool = False) -> Path:
    """Write a case folder's files into a staging folder, then move it to ``into/<case_id>`` atomically."""
    target = into / check_id(case_id, what="case")
    if not force and (target.exists() or target.is_symlink()):
        raise _exists(target)
    into.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{case_id}-", dir=into))
    try:
        for name, text in files:
            _create(staging / name, text.encode("utf-8"))
        os.chmod(staging, 0o755)  # noqa: S103 - mkdtemp makes it 0o700; a case folder is as readable as any
        _move_into_place(staging, target, force=force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # the new case's leftovers, or the old case after a swap
    return target


def _create(path: Path, data: bytes) -> None:
    """Write a new file with a bare descriptor: half the system calls of ``open`` (no buffer, no tty check)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _exists(target: Path) -> ExistsError:
    return ExistsError(target, hint="a case of that id exists", replaceable=True)


def _move_into_place(staging: Path, target: Path, *, force: bool) -> None:
    try:
        if rename_noreplace(staging, target):
            return
    except FileExistsError:
        if not force:
            raise _exists(target) from None
    else:  # no atomic no-replace rename here: check and rename under the lock
        with locked(target.parent / COMMIT_LOCK):
            if not (target.exists() or target.is_symlink()):
                os.rename(staging, target)
                return
            if not force:
                raise _exists(target)
    if target.is_symlink() or not target.is_dir():
        raise ExistsError(target, hint="not a case folder; refusing to replace it")
    if exchange(staging, target):
        return
    with locked(target.parent / COMMIT_LOCK):
        _replace_in_two_steps(staging, target)


def _replace_in_two_steps(staging: Path, target: Path) -> None:
    old = Path(tempfile.mkdtemp(prefix=OLD_PREFIX, dir=target.parent))
    os.rename(target, old / target.name)  # the journal: `.import-old-*/<case-id>` names what to put back
    try:
        os.rename(staging, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.rename(old / target.name, target)
        raise  # an empty `old` (or, if even the way back failed, the case in it) is left for ``recover``
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def importing(into: Path) -> Iterator[list[str]]:
    """Mark an import as running in ``into`` for the block; first recover what crashed imports left.

    Yields what the recovery did, one message each (nothing when another import is running:
    its staging folders are alive).
    """
    into.mkdir(parents=True, exist_ok=True)
    done: list[str] = []
    with locked(into, wait=False) as alone:  # the KB folder itself is the lock: shared by every import
        if alone:
            done = recover(into)
    with locked(into, shared=True):
        yield done


def recover(into: Path) -> list[str]:
    """Restore cases left only in `.import-old-*/` by a crash, delete other staging folders.

    Only safe when no import is writing into ``into`` (``importing`` makes sure of that).
    """
    done: list[str] = []
    removed = 0
    for folder in sorted(into.iterdir()):
        if not folder.name.startswith(STAGING_PREFIX) or folder.is_symlink() or not folder.is_dir():
            continue
        if folder.name.startswith(OLD_PREFIX):
            for case in sorted(folder.iterdir()):
                target = into / case.name
                if case.is_dir() and not (target.exists() or target.is_symlink()):
                    os.rename(case, target)
                    done.append(f"{target}: restored from an interrupted replacement ({folder.name})")
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    if removed:
        done.append(f"{into}: removed {removed} staging folder(s) left by an interrupted import")
    return done
