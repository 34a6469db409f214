"""Edit one top-level key of a record's YAML text in place, keeping every other byte.

`kb upgrade` and `kb check --fix-dates` change a key or two of records people wrote by
hand; writing the whole record again (``kb.yamlwrite``) would drop their comments and
layout, so these edits touch only the line of the key they set.
"""

from __future__ import annotations

import datetime

import yaml

from kb.yamlwrite import to_yaml


def _top_keys(text: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
    node = yaml.compose(text, Loader=yaml.CSafeLoader)
    if not isinstance(node, yaml.MappingNode):
        raise ValueError("the record is not a mapping")
    return [(k.value, k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]


def _line(key: str, value: object) -> str:
    if isinstance(value, datetime.date):
        return f"{key}: {value.isoformat()}\n"  # a plain YAML date, as people write it
    return to_yaml({key: value})


def set_key(text: str, key: str, value: object, *, after: tuple[str, ...] = ()) -> str:
    """``text`` with the top-level ``key`` set to ``value`` (a scalar).

    An existing one-line value is replaced where it stands (a comment after it stays); a
    missing key goes on a line of its own after the first key of ``after`` present (with a
    one-line value), else before the first key.
    """
    lines = text.splitlines(keepends=True)
    keys = _top_keys(text)
    new = _line(key, value)
    for name, key_node, value_node in keys:
        if name != key:
            continue
        start, end = key_node.start_mark, value_node.end_mark
        if start.line != end.line or isinstance(value_node, yaml.CollectionNode):
            raise ValueError(f"`{key}` spans several lines; edit it by hand")
        old = lines[start.line]
        lines[start.line] = old[: start.column] + new.rstrip("\n") + old[end.column :]
        return "".join(lines)
    found = {name: (k, v) for name, k, v in keys}
    for wanted in after:
        if wanted not in found:
            continue
        key_node, value_node = found[wanted]
        if isinstance(value_node, yaml.ScalarNode) and key_node.start_mark.line == value_node.end_mark.line:
            return _insert(lines, value_node.end_mark.line + 1, new)
    return _insert(lines, keys[0][1].start_mark.line if keys else len(lines), new)


def _insert(lines: list[str], at: int, new: str) -> str:
    if at >= len(lines) and lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join([*lines[:at], new, *lines[at:]])
