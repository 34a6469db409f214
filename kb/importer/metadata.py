"""A task folder's `metadata.json` and `PROMPT.md` -> a `Task`: the one reader of task folders.

Used by `kb import` and by `kb add case --from-task`, so both give the same task for the
same folder. Platform, language and service names are spelled through :mod:`kb.names`;
the raw metadata is kept beside them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.importer.decode import decode_document
from kb.importer.limits import DEFAULT_LIMITS, ImportLimits, cut, json_depth
from kb.models import Task
from kb.names import language_name, normalise_services, platform_name
from kb.store import read_regular

_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


@dataclass
class TaskInfo:
    """The task of a case, and any warnings about reading it (`(kind, message)` pairs)."""

    task: Task | None
    warnings: list[tuple[str, str]] = field(default_factory=list)


def read_task(folder: Path | None, document: Path | None = None, limits: ImportLimits = DEFAULT_LIMITS) -> TaskInfo:
    """Read `metadata.json` and `PROMPT.md` from the task folder (or beside a `lib/` document).

    Only regular files inside the task folder are read (no links out, no FIFOs or
    devices), each up to its limit. ``task`` is None when neither file gives anything.
    """
    warnings: list[tuple[str, str]] = []
    if folder is None:
        return TaskInfo(None)
    raw: dict[str, Any] | None = None
    meta_path = folder / "metadata.json"
    if meta_path.exists() or meta_path.is_symlink():
        raw = _read_json(meta_path, folder, limits, warnings)
    prompt = None
    candidates = [folder / "PROMPT.md"]
    if document is not None:
        candidates.append(document.parent / "PROMPT.md")
    candidates.append(folder / "lib" / "PROMPT.md")
    for candidate in candidates:
        if not (candidate.exists() or candidate.is_symlink()):
            continue
        data = _read(candidate, folder, limits.prompt, "prompt", warnings)
        if data is None:
            continue
        decoded = decode_document(data)
        warnings.extend((kind, f"{candidate}: {message}") for kind, message in decoded.warnings)
        prompt = decoded.text
        break
    if raw is None and prompt is None:
        return TaskInfo(None, warnings)
    return TaskInfo(normalise_task(raw or {}, prompt), warnings)


def _read(path: Path, folder: Path, limit: int, what: str, warnings: list[tuple[str, str]]) -> bytes | None:
    """A task file's bytes up to ``limit`` (cut with a warning), or None with a warning when it cannot be read."""
    try:
        data, size = read_regular(path, limit + 1, within=folder)
    except OSError as exc:
        warnings.append(("unreadable", f"{path}: {exc.strerror or exc}; ignored"))
        return None
    return cut(data, size, limit, f"{path}: the {what}", warnings)


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


def normalise_task(raw: dict[str, Any], prompt: str | None) -> Task:
    """A `Task` from raw metadata: platform, language and services normalised; raw kept."""
    return Task(
        platform=platform_name(_text(raw.get("platform"))),
        language=language_name(_text(raw.get("language"))),
        complexity=_text(raw.get("complexity")),
        subtask=_text(raw.get("subtask")),
        aws_services=normalise_services(_strings(raw.get("aws_services"))),
        subject_labels=_strings(raw.get("subject_labels")),
        prompt=prompt,
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
