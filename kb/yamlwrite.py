"""A small, fast YAML writer for record data (PyYAML's representer costs more than the parse).

Records are plain data: mappings with string keys, lists, strings, numbers, booleans,
null. Output is block style, readable and deterministic: strings that need no quotes
stay plain, multi-line strings become literal blocks (``|``), and anything else is a
JSON string, which YAML reads as a double-quoted scalar. Whatever it writes,
``yaml.CSafeLoader`` reads back to the same data (a property the tests check).
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

import yaml

_PLAIN = re.compile(r"[A-Za-z0-9_(/.$][^\x00-\x1f\x7f-\x9f:#\u2028\u2029\ufeff\ufffe\uffff]*")
# characters a literal block can't hold (YAML's non-printables and its extra line breaks)
_NOT_LITERAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
_ESCAPE = re.compile(r"[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
# PyYAML's implicit types (bool, int, float, null, timestamp...) by first character
_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = yaml.resolver.Resolver.yaml_implicit_resolvers


def to_yaml(data: Any) -> str:
    """The YAML text of ``data`` (a mapping at the top)."""
    out: list[str] = []
    if isinstance(data, dict) and data:
        _mapping(data, 0, out)
    else:
        out.append(_inline(data) + "\n")
    return "".join(out)


def _mapping(data: dict[str, Any], indent: int, out: list[str], *, first_prefix: str | None = None) -> None:
    pad = " " * indent
    for number, (key, value) in enumerate(data.items()):
        prefix = first_prefix if number == 0 and first_prefix is not None else pad
        head = f"{prefix}{_key(str(key))}:"
        if isinstance(value, dict) and value:
            out.append(head + "\n")
            _mapping(value, indent + 2, out)
        elif isinstance(value, list) and value:
            out.append(head + "\n")
            _sequence(value, indent, out)
        else:
            _value(head, value, indent + 2, out)


def _sequence(items: list[Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, dict) and item:
            _mapping(item, indent + 2, out, first_prefix=pad + "- ")
        elif isinstance(item, list) and item:
            out.append(pad + "-\n")
            _sequence(item, indent + 2, out)
        else:
            _value(pad + "-", item, indent + 2, out)


def _value(head: str, value: Any, indent: int, out: list[str]) -> None:
    if isinstance(value, str) and "\n" in value and not _NOT_LITERAL.search(value):
        out.append(f"{head} {_literal(value, indent)}")
    else:
        out.append(f"{head} {_inline(value)}\n")


def _literal(text: str, indent: int) -> str:
    """A literal block scalar holding ``text`` exactly (chomping and indentation made explicit)."""
    if text.endswith("\n\n") or text == "\n":
        chomp = "+"
        body = text[:-1]
    elif text.endswith("\n"):
        chomp = ""
        body = text[:-1]
    else:
        chomp = "-"
        body = text
    indicator = "2" if text[:1] in (" ", "\t", "\n") else ""
    pad = " " * indent
    lines = [pad + line if line else "" for line in body.split("\n")]
    return f"|{indicator}{chomp}\n" + "\n".join(lines) + "\n"


def _inline(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _scalar(value)
    if isinstance(value, dict | list) and not value:
        return "{}" if isinstance(value, dict) else "[]"
    raise TypeError(f"cannot write {type(value).__name__} as record YAML")


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text or "E" in text:
        mantissa, exponent = text.lower().split("e")
        mantissa = mantissa if "." in mantissa else mantissa + ".0"
        sign = "" if exponent.startswith(("-", "+")) else "+"
        text = f"{mantissa}e{sign}{exponent}"
    return text


@functools.lru_cache(maxsize=1024)
def _key(text: str) -> str:
    return _scalar(text)


def _scalar(text: str) -> str:
    """A one-line scalar: plain when YAML would read it back as this very string, else quoted."""
    if (
        _PLAIN.fullmatch(text)
        and text[-1] not in " \t"
        and " #" not in text
        and not any(pattern.match(text) for _, pattern in _IMPLICIT.get(text[0], ()))
    ):
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)
