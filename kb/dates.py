"""`kb check --fix-dates`: set ``modified`` on the records whose content changed since the last commit.

A record's content changed when its data (``modified`` left out) differs from the data of
the version in git's ``HEAD``; a record git does not know yet is new and gets
``published`` too. Only the date lines are edited (:mod:`kb.yamledit`), so comments and
layout stay. Dates come from the records, never from the cache or the clock of a later
build, so the site's feed and `kb stats --since` are the same for the same files.
"""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path
from typing import Any

from kb import yamlio
from kb.atomic import write_text
from kb.errors import KbError, Problem, RecordError
from kb.lifecycle import today
from kb.models import Case, Failure
from kb.store import discover, load_entry
from kb.yamledit import set_key

_IGNORED = ("modified",)
"""Keys whose change is not a change of content."""


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)  # noqa: S603, S607


def _repository(root: Path) -> Path:
    try:
        found = _git(root, "rev-parse", "--show-toplevel")
    except OSError as exc:
        raise KbError(f"{root}: dates are set from git, which could not run ({exc.strerror or exc})") from None
    if found.returncode != 0:
        raise KbError(f"{root}: not in a git repository; dates are set from git history (set `modified` by hand)")
    return Path(found.stdout.decode("utf-8", "replace").strip())


def _committed(repo: Path, path: Path) -> bytes | None:
    """The bytes of ``path`` at ``HEAD``, or None when it is not committed (or there is no commit yet)."""
    relative = path.resolve().relative_to(repo.resolve()).as_posix()
    shown = _git(repo, "show", f"HEAD:{relative}")
    return shown.stdout if shown.returncode == 0 else None


def _content(path: Path, raw: bytes) -> Any:
    data = yamlio.parse(path, yamlio.decode(path, raw))
    return {k: v for k, v in data.items() if k not in _IGNORED} if isinstance(data, dict) else data


def fix_dates(root: Path | str, *, on: datetime.date | None = None) -> tuple[list[Path], list[Problem]]:
    """Date every record of ``root`` whose content changed since ``HEAD`` (``on``, default today).

    Returns the files written and the records that could not be read (left untouched).
    """
    root = Path(root)
    day = on or today()
    repo = _repository(root)
    changed = {Path(p) for p in _changed_files(repo, root)}
    written: list[Path] = []
    problems: list[Problem] = []
    for path, model in discover(root).files():
        if model not in (Case, Failure) or path.resolve() not in changed:
            continue
        entry = load_entry(path, model)
        record = entry.record
        if record is None:
            problems.extend(entry.problems)
            continue
        old = _committed(repo, path)
        try:
            if old is not None and _content(path, old) == _content(path, path.read_bytes()):
                continue
        except RecordError:
            pass  # the committed version does not parse: the content changed
        text = path.read_text(encoding="utf-8-sig")
        new = text
        if record.published is None and old is None:
            new = set_key(new, "published", day, after=("title", "id"))
        if record.modified != day:
            new = set_key(new, "modified", day, after=("published", "title", "id"))
        if new != text:
            write_text(path, new)
            written.append(path)
    return written, problems


def _changed_files(repo: Path, root: Path) -> list[str]:
    """Files under ``root`` that differ from ``HEAD`` or are not tracked (absolute paths)."""
    paths: list[str] = []
    diff = _git(repo, "diff", "--name-only", "-z", "HEAD", "--", str(root.resolve()))
    if diff.returncode != 0:  # no commit yet: everything is new
        diff = _git(repo, "ls-files", "-z", "--", str(root.resolve()))
    untracked = _git(repo, "ls-files", "-z", "--others", "--exclude-standard", "--", str(root.resolve()))
    for output in (diff.stdout, untracked.stdout):
        for name in output.decode("utf-8", "surrogateescape").split("\0"):
            if name:
                paths.append(str((repo / name).resolve()))
    return paths
