"""Reading and writing record YAML: libyaml fast path, precise locations on failure.

The fast path decodes, lets libyaml's C parser (``yaml.CSafeLoader``'s) cut the text into
events and builds the plain data from them here, resolving each plain scalar exactly as
``yaml.CSafeLoader`` does (its own implicit resolvers and constructors, looked up only for a
scalar whose first character could start a non-string). A document this builder does not
handle alike (tags, anchors, aliases, merge keys, complex keys, more than one document,
absurd nesting, any error) is loaded again by ``yaml.CSafeLoader`` itself, so every
result and every error is the one ``yaml.CSafeLoader`` gives.
Only when something is wrong do we pay for locating it: ``locate`` composes the
document again and walks its nodes to the offending key's line and column.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml._yaml import CParser
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

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


class _Unsure(Exception):
    """The fast builder leaves this document to ``yaml.CSafeLoader``."""


_STR_TAG = "tag:yaml.org,2002:str"
_IMPLICIT: dict[str, list[tuple[str, Any]]] = {
    first: resolvers + yaml.CSafeLoader.yaml_implicit_resolvers.get(None, [])
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
    if first is not None
}
"""CSafeLoader's implicit resolvers by the first character of a plain scalar ('' for an empty one)."""
_FAST = None not in yaml.CSafeLoader.yaml_implicit_resolvers
"""A resolver for any first character (PyYAML's SafeLoader has none) would make every plain scalar a candidate."""
_CONSTRUCTORS = yaml.CSafeLoader.yaml_constructors
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


_RESOLVED: dict[str, Any] = {}
"""Plain scalars resolved already (keys and short values repeat from record to record); all immutable."""
_RESOLVED_MAX = 8192


def _plain(value: str) -> Any:
    """A plain (unquoted, untagged) scalar as CSafeLoader resolves and constructs it."""
    if value in _RESOLVED:
        return _RESOLVED[value]
    result: Any = value
    for tag, regexp in _IMPLICIT.get(value[:1], ()):
        if regexp.match(value):
            if tag != _STR_TAG:
                construct = _CONSTRUCTORS.get(tag)
                if construct is None:
                    raise _Unsure  # the merge key `<<`, the value key `=`: CSafeLoader's own handling
                result = construct(_CONSTRUCTOR, ScalarNode(tag, value))
            break
    if len(_RESOLVED) < _RESOLVED_MAX:
        _RESOLVED[value] = result
    return result


def _build(text: str) -> Any:
    """The data of one plain YAML document, built from libyaml's events; ``_Unsure`` if unusual."""
    if not _FAST:
        raise _Unsure
    parser: Any = CParser(text)
    get = parser.get_event
    get()  # the stream's start
    event = get()
    if type(event) is StreamEndEvent:
        return None
    if type(event) is not DocumentStartEvent:
        raise _Unsure
    stack: list[tuple[Any, Any, bool]] = []
    no_key: Any = stack  # a sentinel no key can be
    node: Any = None  # the open container
    key: Any = no_key  # the open mapping's key waiting for its value
    is_map = False
    root: Any = None
    while True:
        event = get()
        kind = type(event)
        if kind is ScalarEvent:
            if event.anchor is not None or event.tag is not None:
                raise _Unsure
            value = event.value
            if event.implicit[0] and value[:1] in _IMPLICIT:
                value = _plain(value)
            if node is None:
                root = value
                break
            if not is_map:
                node.append(value)
            elif key is no_key:
                key = value
            else:
                node[key] = value
                key = no_key
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.anchor is not None or event.tag is not None or len(stack) > MAX_DEPTH:
                raise _Unsure
            child: Any = {} if kind is MappingStartEvent else []
            if node is None:
                root = child
            elif not is_map:
                node.append(child)
            elif key is no_key:
                raise _Unsure  # a complex key
            else:
                node[key] = child
                key = no_key
            stack.append((node, key, is_map))
            node, key, is_map = child, no_key, kind is MappingStartEvent
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            node, key, is_map = stack.pop()
            if node is None:
                break
        else:
            raise _Unsure
    if type(get()) is not DocumentEndEvent or type(get()) is not StreamEndEvent:
        raise _Unsure
    return root


def parse(path: Path | str, text: str) -> Any:
    """Parse one YAML document with libyaml. Aliases and absurd nesting are refused."""
    with contextlib.suppress(Exception):  # anything unusual is yaml.CSafeLoader's to load or refuse
        return _build(text)
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise RecordError(_mark_problem(path, exc)) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise RecordError(Problem.at(path, f"invalid YAML: {exc}")) from None
    except (ValueError, OverflowError) as exc:  # a date that matched the pattern but is none (`2024-13-45`)
        raise RecordError(_value_problem(path, text, exc)) from None
    _check_shape(path, text, data)
    return data


def _value_problem(path: Path | str, text: str, exc: Exception) -> Problem:
    """Where the plain scalar that CSafeLoader could not construct is (the first one that fails again)."""
    message = f"invalid YAML: cannot read this value ({exc}); quote it to keep it as text"
    try:
        root = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        root = None
    stack: list[yaml.Node] = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            construct = _CONSTRUCTORS.get(node.tag)
            try:
                if construct is not None:
                    construct(_CONSTRUCTOR, node)
            except (ValueError, OverflowError):
                mark = node.start_mark
                return Problem.at(path, message, line=mark.line + 1, col=mark.column + 1)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            stack.extend(part for pair in reversed(node.value) for part in reversed(pair))
    return Problem.at(path, message)


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
