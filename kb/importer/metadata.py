"""A task folder's `metadata.json` -> a `Task`, and its documents: the one reader of task folders.

Used by `kb import` and by `kb add case --from-task`, so both give the same task for the
same folder. Platform, language and service names are spelled through :mod:`kb.names`;
the raw metadata is kept beside them. The task documents (`PROMPT.md`,
`MODEL_RESPONSE.md`, `IDEAL_RESPONSE.md`, see :mod:`kb.documents`) are decoded to UTF-8
text and kept as files beside the case's records.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.documents import MAX_DOCUMENT_BYTES, TASK_DOCUMENTS
from kb.importer.decode import decode_document
from kb.models import Task
from kb.names import language_name, normalise_services, platform_name

_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


@dataclass
class TaskInfo:
    """The task of a case, its documents, and any warnings about reading them (`(kind, message)` pairs)."""

    task: Task | None
    warnings: list[tuple[str, str]] = field(default_factory=list)
    documents: dict[str, str] = field(default_factory=dict)
    """The task documents found (`PROMPT.md`, ...), name -> UTF-8 text, in `TASK_DOCUMENTS` order."""


def read_task(folder: Path | None, document: Path | None = None) -> TaskInfo:
    """Read `metadata.json` and the task documents from the task folder (or beside a `lib/` document).

    ``task`` is None when there is no usable `metadata.json`.
    """
    warnings: list[tuple[str, str]] = []
    if folder is None:
        return TaskInfo(None)
    raw: dict[str, Any] | None = None
    meta_path = folder / "metadata.json"
    if meta_path.is_file():
        raw = _read_json(meta_path, warnings)
    places = [folder, *([document.parent] if document is not None else []), folder / "lib"]
    documents = {}
    for name in TASK_DOCUMENTS:
        found = next((place / name for place in places if (place / name).is_file()), None)
        if found is not None and (text := _read_document(found, warnings)) is not None:
            documents[name] = text
    task = normalise_task(raw) if raw is not None else None
    return TaskInfo(task, warnings, documents)


def _read_document(path: Path, warnings: list[tuple[str, str]]) -> str | None:
    """A task document decoded to text; None (with a warning) when unreadable or too large to keep."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        warnings.append(("document", f"{path}: not read ({exc.strerror or exc}); not kept"))
        return None
    if len(raw) > MAX_DOCUMENT_BYTES:
        warnings.append(("document", f"{path}: over {MAX_DOCUMENT_BYTES:,} bytes; not kept"))
        return None
    decoded = decode_document(raw)
    warnings.extend((kind, f"{path}: {message}") for kind, message in decoded.warnings)
    return decoded.text


def _read_json(path: Path, warnings: list[tuple[str, str]]) -> dict[str, Any] | None:
    """Parse a JSON object; trailing commas (common in hand-written metadata) are tolerated with a warning."""
    try:
        text = decode_document(path.read_bytes()).text
    except OSError as exc:
        warnings.append(("metadata", f"{path}: not read ({exc.strerror or exc}); ignored"))
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{path}:{exc.lineno}:{exc.colno}"
        try:
            data = json.loads(_TRAILING_COMMA.sub(r"\1", text))
        except json.JSONDecodeError:
            warnings.append(("metadata", f"{where}: invalid JSON ({exc.msg}); ignored"))
            return None
        warnings.append(("metadata", f"{where}: trailing comma ignored"))
    if not isinstance(data, dict):
        warnings.append(("metadata", f"{path}: not a JSON object; ignored"))
        return None
    return data


def normalise_task(raw: dict[str, Any]) -> Task:
    """A `Task` from raw metadata: platform, language and services normalised; raw kept."""
    return Task(
        platform=platform_name(_text(raw.get("platform"))),
        language=language_name(_text(raw.get("language"))),
        complexity=_text(raw.get("complexity")),
        subtask=_text(raw.get("subtask")),
        aws_services=normalise_services(_strings(raw.get("aws_services"))),
        subject_labels=_strings(raw.get("subject_labels")),
        metadata=raw,
    )


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(part).strip() for part in value if str(part).strip()]
    return []
