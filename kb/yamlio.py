"""Reading and writing record YAML: libyaml fast path, precise locations on failure.

The fast path decodes, parses with ``yaml.CSafeLoader`` and hands back plain data.
Only when something is wrong do we pay for locating it: ``locate`` composes the
document again and walks its nodes to the offending key's line and column.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from kb.errors import Problem, RecordError, Severity
from kb.yamlwrite import to_yaml

MAX_RECORD_BYTES = 8 * 1024 * 1024
"""Records larger than this are refused before parsing."""
MAX_DEPTH = 64
"""Records nest a few levels; deeper documents are refused (they only serve to hurt the parser)."""

SCHEMA_BASE = "../../schemas"
"""Where the modeline of a record points, relative to the record (``<kb>/<case>/x.yaml``)."""

Loc = Sequence[str | int]


def decode(path: Path | str, raw: bytes) -> str:
    """Decode record bytes as UTF-8 (a BOM is dropped, CRLF is accepted)."""
    if len(raw) > MAX_RECORD_BYTES:
        raise RecordError(Problem.at(path, f"file is {len(raw):,} bytes; records are limited to {MAX_RECORD_BYTES:,}"))
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RecordError(
            Problem.at(
                path, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8", line=line, col=col
            )
        ) from None
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        raise RecordError(Problem.at(path, "NUL byte in a text file", line=line))
    return text


def _mark_problem(path: Path | str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark and "end of stream" in (exc.problem or ""):
        mark = exc.context_mark  # point at what was left open, not at the end of the file
    message = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
    if mark is None:
        return Problem.at(path, f"invalid YAML: {message}")
    return Problem.at(path, f"invalid YAML: {message}", line=mark.line + 1, col=mark.column + 1)


def parse(path: Path | str, text: str) -> Any:
    """Parse one YAML document with libyaml. Aliases and absurd nesting are refused."""
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise RecordError(_mark_problem(path, exc)) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise RecordError(Problem.at(path, f"invalid YAML: {exc}")) from None
    _check_shape(path, text, data)
    return data


def _check_shape(path: Path | str, text: str, data: Any) -> None:
    """Refuse shared containers (aliases: the billion-laughs attack) and deep nesting."""
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise RecordError(Problem.at(path, f"nesting deeper than {MAX_DEPTH} levels"))
        if id(node) in seen:
            raise RecordError(_alias_problem(path, text))
        seen.add(id(node))
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children)


def _alias_problem(path: Path | str, text: str) -> Problem:
    message = "YAML aliases (*name) are not allowed in records; write the value out"
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.AliasEvent) and event.start_mark is not None:
                return Problem.at(path, message, line=event.start_mark.line + 1, col=event.start_mark.column + 1)
    except yaml.YAMLError:
        pass
    return Problem.at(path, message)


def problem_at(path: Path, loc: Loc, message: str, severity: Severity = Severity.error) -> Problem:
    """A problem pointing at the key at ``loc`` in the file (read again only now, when something is wrong)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        text = ""
    line, col = locate(text, loc)
    return Problem.at(path, message, line=line, col=col, severity=severity)


def locate(text: str, loc: Loc) -> tuple[int, int]:
    """The 1-based line and column of the key at ``loc`` (or of its nearest existing parent)."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return 1, 1
    if node is None:
        return 1, 1
    best = node.start_mark
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    best, child = key.start_mark, value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
            best = child.start_mark
        if child is None:
            break
        node = child
    return best.line + 1, best.column + 1


def modeline(schema_name: str, schema_base: str = SCHEMA_BASE) -> str:
    return f"# yaml-language-server: $schema={schema_base}/{schema_name}\n"


def dump(data: Any, *, schema_name: str, schema_base: str = SCHEMA_BASE) -> str:
    """YAML text for a record's data, with the editor modeline first."""
    return modeline(schema_name, schema_base) + to_yaml(data)
