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
from kb.models import Task
from kb.names import language_name, normalise_services, platform_name

_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


@dataclass
class TaskInfo:
    """The task of a case, and any warnings about reading it (`(kind, message)` pairs)."""

    task: Task | None
    warnings: list[tuple[str, str]] = field(default_factory=list)


def read_task(folder: Path | None, document: Path | None = None) -> TaskInfo:
    """Read `metadata.json` and `PROMPT.md` from the task folder (or beside a `lib/` document).

    ``task`` is None when neither file gives anything.
    """
    warnings: list[tuple[str, str]] = []
    if folder is None:
        return TaskInfo(None)
    raw: dict[str, Any] | None = None
    meta_path = folder / "metadata.json"
    if meta_path.is_file():
        raw = _read_json(meta_path, warnings)
    prompt = None
    candidates = [folder / "PROMPT.md"]
    if document is not None:
        candidates.append(document.parent / "PROMPT.md")
    candidates.append(folder / "lib" / "PROMPT.md")
    for candidate in candidates:
        if candidate.is_file():
            decoded = decode_document(candidate.read_bytes())
            warnings.extend((kind, f"{candidate}: {message}") for kind, message in decoded.warnings)
            prompt = decoded.text
            break
    if raw is None and prompt is None:
        return TaskInfo(None, warnings)
    return TaskInfo(normalise_task(raw or {}, prompt), warnings)


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
