"""`kb check --fix-dates`: set ``modified`` on the records whose content changed since the last commit.

A record's content changed when its data (``modified`` left out) differs from the data of
the version in git's ``HEAD``; a record git does not know yet is new and gets
``published`` too (unless it has aliases: then it was renamed, and its date is not
known). Only the date lines are edited (:mod:`kb.yamledit`), so comments and
layout stay. Dates come from the records, never from the cache or the clock of a later
build, so the site's feed and `kb stats --since` are the same for the same files.
"""

from __future__ import annotations

import datetime
import hashlib
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


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, check=False)
    except OSError as exc:
        raise KbError(f"{folder}: dates are set from git, which could not run ({exc.strerror or exc})") from None


def _in_repository(root: Path) -> bool:
    return any((folder / ".git").exists() for folder in (root.resolve(), *root.resolve().parents))


def _committed_blobs(root: Path) -> dict[str, str]:
    """The blob id of every file under ``root`` at ``HEAD``, by path relative to ``root`` (empty before a first commit)."""
    listed = _git(root, "ls-tree", "-r", "-z", "HEAD")
    blobs = {}
    if listed.returncode == 0:
        for entry in listed.stdout.split(b"\0"):
            meta, _, name = entry.partition(b"\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == b"blob":
                blobs[name.decode("utf-8", "surrogateescape")] = parts[2].decode("ascii")
    return blobs


def _blob_id(raw: bytes) -> str:
    """The id git gives a file of these bytes (so unchanged records cost no git call)."""
    return hashlib.sha1(b"blob %d\0" % len(raw) + raw, usedforsecurity=False).hexdigest()


def _content(path: Path, raw: bytes) -> Any:
    data = yamlio.parse(path, yamlio.decode(path, raw))
    return {k: v for k, v in data.items() if k not in _IGNORED} if isinstance(data, dict) else data


def fix_dates(root: Path | str, *, on: datetime.date | None = None) -> tuple[list[Path], list[Problem]]:
    """Date every record of ``root`` whose content changed since ``HEAD`` (``on``, default today).

    Returns the files written and the records that could not be read (left untouched).
    """
    root = Path(root)
    day = on or today()
    if not _in_repository(root):
        raise KbError(f"{root}: not in a git repository; dates are set from git history (set `modified` by hand)")
    committed = _committed_blobs(root)
    written: list[Path] = []
    problems: list[Problem] = []
    for relative, model in discover(root).files():
        path = root / relative
        if model not in (Case, Failure) or committed.get(relative) == _blob_id(path.read_bytes()):
            continue
        _, entry = load_entry(path, model)
        record = entry.record
        if record is None:
            problems.extend(entry.problems)
            continue
        shown = _git(root, "show", f"HEAD:./{relative}") if relative in committed else None
        old = shown.stdout if shown is not None and shown.returncode == 0 else None
        try:
            if old is not None and _content(path, old) == _content(path, path.read_bytes()):
                continue
        except RecordError:
            pass  # the committed version does not parse: the content changed
        text = path.read_text(encoding="utf-8-sig")
        new = text
        try:
            if record.published is None and old is None and not record.aliases:  # an alias: renamed, not new
                new = set_key(new, "published", day, after=("title", "id"))
            if record.modified != day:
                new = set_key(new, "modified", day, after=("published", "title", "id"))
        except ValueError as exc:
            problems.append(Problem.at(path, f"cannot date this record: {exc}"))
            continue
        if new != text:
            write_text(path, new)
            written.append(path)
    return written, problems
