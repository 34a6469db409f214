"""`kb upgrade`: rewrite records written in an older format as the current one.

Version 1 records (no ``schema_version``) read fine; upgrading one adds
``schema_version``, editing only that line, so comments and layout stay. A record that
still uses keys of an older layout (``not_a_failure``, presentation hints at the top
level) is written again in full from its validated data: its values are kept, its
comments are not (such records were written by `kb import`, never by hand).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from kb import yamlio
from kb.atomic import write_text
from kb.errors import Problem
from kb.models import SCHEMA_VERSION, Case, Failure, Versioned
from kb.store import discover, dump_record, load_entry
from kb.yamledit import set_key


@dataclass
class UpgradeResult:
    """What `kb upgrade` changed."""

    edited: list[Path] = field(default_factory=list)
    """Records given ``schema_version`` by editing one line."""
    rewritten: list[Path] = field(default_factory=list)
    """Records written again in full (they used keys of an older layout)."""
    current: int = 0
    """Records already in the current format."""
    problems: list[Problem] = field(default_factory=list)
    """Records that could not be read: left untouched."""


def upgrade_kb(root: Path | str, *, check: bool = False) -> UpgradeResult:
    """Bring every record of the knowledge base at ``root`` to ``SCHEMA_VERSION`` (atomically, file
    by file). With ``check``, write nothing and report what would change."""
    root = Path(root)
    layout = discover(root)
    result = UpgradeResult(problems=list(layout.problems))
    for key, model in layout.files():
        path = root / key
        if model not in (Case, Failure):
            continue
        _, entry = load_entry(path, model)
        record = entry.record
        if record is None:
            result.problems.extend(entry.problems)
            continue
        assert isinstance(record, Versioned)
        if record.version >= SCHEMA_VERSION:
            result.current += 1
            continue
        text = path.read_text(encoding="utf-8-sig")
        if _keys_in_place(path, text, type(record)):
            result.edited.append(path)
            new = set_key(text, "schema_version", SCHEMA_VERSION)
        else:
            result.rewritten.append(path)
            new = dump_record(record.model_copy(update={"schema_version": SCHEMA_VERSION}))
        if not check:
            write_text(path, new)
    return result


def _keys_in_place(path: Path, text: str, model: type[BaseModel]) -> bool:
    """Whether every top-level key of the file is a field of the model (no older-layout keys)."""
    data = yamlio.parse(path, text)
    return isinstance(data, dict) and all(key in model.model_fields for key in data)
