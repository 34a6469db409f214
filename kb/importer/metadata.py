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
from kb.importer.limits import DEFAULT_LIMITS, ImportLimits, json_depth
from kb.models import Task
from kb.names import language_name, normalise_services, platform_name
from kb.store import read_regular

_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


@dataclass
class TaskInfo:
    """The task of a case, its documents, and any warnings about reading them (`(kind, message)` pairs)."""

    task: Task | None
    warnings: list[tuple[str, str]] = field(default_factory=list)
    documents: dict[str, str] = field(default_factory=dict)
    """The task documents found (`PROMPT.md`, ...), name -> UTF-8 text, in `TASK_DOCUMENTS` order."""


def read_task(folder: Path | None, document: Path | None = None, limits: ImportLimits = DEFAULT_LIMITS) -> TaskInfo:
    """Read `metadata.json` and the task documents from the task folder (or beside a `lib/` document).

    Only regular files inside the task folder are read (no links out, no FIFOs or
    devices), metadata up to its limit, a task document only whole (up to
    ``MAX_DOCUMENT_BYTES``). ``task`` is None when there is no usable `metadata.json`.
    """
    warnings: list[tuple[str, str]] = []
    if folder is None:
        return TaskInfo(None)
    raw: dict[str, Any] | None = None
    meta_path = folder / "metadata.json"
    if meta_path.exists() or meta_path.is_symlink():
        raw = _read_json(meta_path, folder, limits, warnings)
    places = [folder, *([document.parent] if document is not None else []), folder / "lib"]
    documents = {}
    for name in TASK_DOCUMENTS:
        found = next((place / name for place in places if (place / name).exists() or (place / name).is_symlink()), None)
        if found is not None and (text := _read_document(found, folder, warnings)) is not None:
            documents[name] = text
    task = normalise_task(raw) if raw is not None else None
    return TaskInfo(task, warnings, documents)


def _read_document(path: Path, folder: Path, warnings: list[tuple[str, str]]) -> str | None:
    """A task document decoded to text; None (with a warning) when unreadable or too large to keep."""
    try:
        raw, size = read_regular(path, MAX_DOCUMENT_BYTES + 1, within=folder)
    except OSError as exc:
        warnings.append(("document", f"{path}: not read ({exc.strerror or exc}); not kept"))
        return None
    if size > MAX_DOCUMENT_BYTES or len(raw) > MAX_DOCUMENT_BYTES:
        warnings.append(("document", f"{path}: over {MAX_DOCUMENT_BYTES:,} bytes; not kept"))
        return None
    decoded = decode_document(raw)
    warnings.extend((kind, f"{path}: {message}") for kind, message in decoded.warnings)
    return decoded.text


def _read_json(
    path: Path, folder: Path, limits: ImportLimits, warnings: list[tuple[str, str]]
) -> dict[str, Any] | None:
    """Parse a JSON object; trailing commas (common in hand-written metadata) are tolerated with a warning.

    Kept as text: `NaN` and `Infinity` (not JSON numbers); replaced: lone surrogates (not text).
    Left out with a warning: metadata over its size or depth limit.
    """
    try:
        raw, size = read_regular(path, limits.metadata + 1, within=folder)
    except OSError as exc:
        warnings.append(("metadata", f"{path}: not read ({exc.strerror or exc}); ignored"))
        return None
    if size > limits.metadata:
        warnings.append(("metadata", f"{path}: {size:,} bytes, over the limit of {limits.metadata:,}; ignored"))
        return None
    text = decode_document(raw).text
    try:
        data = _loads(text)
    except RecursionError:
        data = None
    except json.JSONDecodeError as exc:
        where = f"{path}:{exc.lineno}:{exc.colno}"
        try:
            data = _loads(_TRAILING_COMMA.sub(r"\1", text))
        except (json.JSONDecodeError, RecursionError):
            warnings.append(("metadata", f"{where}: invalid JSON ({exc.msg}); ignored"))
            return None
        warnings.append(("metadata", f"{where}: trailing comma ignored"))
    if data is None or json_depth(data, limits.json_depth) > limits.json_depth:
        warnings.append(("metadata", f"{path}: nested deeper than {limits.json_depth} levels; ignored"))
        return None
    if not isinstance(data, dict):
        warnings.append(("metadata", f"{path}: not a JSON object; ignored"))
        return None
    return data


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=str, object_hook=_text_keys_and_values)


def _text_keys_and_values(pairs: dict[str, Any]) -> dict[str, Any]:
    return {_valid_text(k): _valid_text(v) if isinstance(v, str) else _listed(v) for k, v in pairs.items()}


def _listed(value: Any) -> Any:
    if isinstance(value, list):
        return [_valid_text(v) if isinstance(v, str) else v for v in value]
    return value


def _valid_text(text: str) -> str:
    """``text`` with lone surrogates (which JSON's `\\ud800` escapes allow) replaced by U+FFFD."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


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
