"""JSON Schemas of the records, generated from the models, for editors and docs."""

from __future__ import annotations

import json
from pathlib import Path

from kb.atomic import write_text
from kb.store import SCHEMA_NAMES


def schema_texts() -> dict[str, str]:
    """File name -> JSON Schema text, deterministic."""
    texts = {}
    for model, name in SCHEMA_NAMES.items():
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = name
        texts[name] = json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    return dict(sorted(texts.items()))


def stale_schemas(out: Path) -> list[Path]:
    """The schema files under ``out`` that are missing or differ from the models."""
    stale = []
    for name, text in schema_texts().items():
        path = out / name
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            stale.append(path)
    return stale


def write_schemas(out: Path) -> list[Path]:
    """Write every schema that changed (atomically); return the paths written."""
    written = []
    texts = schema_texts()
    for path in stale_schemas(out):
        write_text(path, texts[path.name])
        written.append(path)
    return written
