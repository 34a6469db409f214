"""Write one imported case: all files into a temp folder inside the KB, then one rename.

A crash leaves at most a hidden `.import-*` folder (ignored by `kb check`), never half a
case; an existing case folder is replaced only with ``force``. The rename is the commit
point, so the files inside the (still invisible) staging folder need no fsync of their
own: an interrupted import (kill -9 included) leaves each case whole or absent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from kb.documents import TASK_DOCUMENTS
from kb.errors import ExistsError
from kb.models import Case, Failure
from kb.store import CASE_FILE, check_id, dump_record, failure_file_name


def case_files(case: Case, failures: list[Failure], documents: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The file names and texts of a case folder: `case.yaml`, `NN-<id>.yaml` in order, then the
    task documents (`PROMPT.md`, ... as read from the task folder) kept beside the records."""
    files = [(CASE_FILE, dump_record(case))]
    files += [(failure_file_name(n, f.id), dump_record(f)) for n, f in enumerate(failures, start=1)]
    files += sorted((documents or {}).items(), key=lambda item: TASK_DOCUMENTS.index(item[0]))
    return files


def write_case(into: Path, case: Case, failures: list[Failure], *, force: bool = False) -> Path:
    """Write ``case`` and ``failures`` as ``into/<case-id>/``; ``ExistsError`` if it exists and not ``force``."""
    return write_case_files(into, case.id, case_files(case, failures), force=force)


def write_case_files(into: Path, case_id: str, files: list[tuple[str, str]], *, force: bool = False) -> Path:
    """Write a case folder's files into a staging folder, then rename it to ``into/<case_id>``."""
    target = into / check_id(case_id, what="case")
    if (target.exists() or target.is_symlink()) and not force:
        raise ExistsError(target, hint="a case of that id exists; use --force to replace it")
    into.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".import-{case_id}-", dir=into))
    try:
        for name, text in files:
            (staging / name).write_text(text, encoding="utf-8")
        os.chmod(staging, 0o755)  # noqa: S103 - mkdtemp makes it 0o700; a case folder is as readable as any
        _move_into_place(staging, target, force=force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _move_into_place(staging: Path, target: Path, *, force: bool) -> None:
    if not (target.exists() or target.is_symlink()):
        try:
            os.rename(staging, target)
            return
        except OSError:
            if not force:
                raise ExistsError(target, hint="a case of that id exists; use --force to replace it") from None
    if target.is_symlink() or not target.is_dir():
        raise ExistsError(target, hint="not a case folder; refusing to replace it")
    old = Path(tempfile.mkdtemp(prefix=f".import-old-{target.name}-", dir=target.parent))
    os.rename(target, old / "case")
    try:
        os.rename(staging, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.rename(old / "case", target)
            old.rmdir()
        raise
    shutil.rmtree(old, ignore_errors=True)
