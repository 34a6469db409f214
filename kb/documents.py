"""A task's documents, kept as files beside a case's records: the prompt the model was
given (`PROMPT.md`), its whole answer (`MODEL_RESPONSE.md`) and the corrected one
(`IDEAL_RESPONSE.md`).

They stay Markdown files, not YAML fields: `kb check` parses no more than the records,
and the texts are read only by what uses them (export, the site). A case folder may hold
any of them; `kb check` reports one that is not a regular UTF-8 file within
``MAX_DOCUMENT_BYTES``.
"""

from __future__ import annotations

from pathlib import Path

from kb.errors import Problem

PROMPT = "PROMPT.md"
MODEL_RESPONSE = "MODEL_RESPONSE.md"
IDEAL_RESPONSE = "IDEAL_RESPONSE.md"
TASK_DOCUMENTS = (PROMPT, MODEL_RESPONSE, IDEAL_RESPONSE)
"""The task documents a case folder may hold, in the order a task presents them."""

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
"""The largest task document kept (real ones measure up to about 160 KB)."""


def document_problem(path: Path) -> Problem | None:
    """Why ``path`` is not a valid task document (not a regular file, too large, not UTF-8), or None."""
    if not path.is_file():  # before opening: a FIFO would block
        return Problem.at(path, "task document is not a regular file")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        return Problem.at(path, f"cannot read: {exc.strerror or exc}")
    if len(raw) > MAX_DOCUMENT_BYTES:
        return Problem.at(path, f"task document over {MAX_DOCUMENT_BYTES:,} bytes; shorten it or remove it")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return Problem.at(path, "task document is not UTF-8", line=line, col=col)
    return None


def read_document(path: Path) -> str:
    """A task document's text (``OSError``/``UnicodeDecodeError`` when it cannot be read as one)."""
    with path.open("rb") as handle:
        raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise OSError(f"{path}: task document over {MAX_DOCUMENT_BYTES:,} bytes")
    return raw.decode("utf-8")
