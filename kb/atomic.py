"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from kb.errors import ExistsError


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically: temp file in the same folder, fsync, rename."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (``durable=False``: without the fsync, for
    derived files that a crash may leave old or empty but never half-written for a reader)."""
    with replacing(path, durable=durable) as handle:
        handle.write(data)


@contextlib.contextmanager
def replacing(path: Path, *, durable: bool = True) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``path`` atomically when the block ends without error
    (flushed to disk first, unless not ``durable``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def create_text(path: Path, text: str) -> None:
    """Create ``path`` holding ``text``; never overwrite (``O_EXCL``), never leave half a file.

    The content is written to a temp file first and then linked into place, so the new
    name appears complete or not at all; ``ExistsError`` when the name is taken.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, path)  # fails if the name exists: O_EXCL semantics, atomically
        except FileExistsError:
            raise ExistsError(path, hint="never overwritten") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
