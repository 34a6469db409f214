"""How much `kb import` reads of each input, so no document can make a record `kb check` refuses.

Each limit is configurable (``ImportLimits``); what passes a limit is cut at it with a
warning (documents) or left out with a warning (metadata, which cannot be cut; task
documents, kept only whole up to ``kb.documents.MAX_DOCUMENT_BYTES``), and a case whose
record files would still exceed what a record may hold is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class ImportLimits:
    """The most import reads of each input (bytes) and the deepest metadata it keeps."""

    document: int = 4 * MIB
    """A MODEL_FAILURES.md document (the largest of the 194 real ones is 36 KB)."""
    metadata: int = 256 * 1024
    """A task's metadata.json."""
    json_depth: int = 32
    """Nesting of metadata.json (records allow 64 levels of YAML; the task adds a few)."""


DEFAULT_LIMITS = ImportLimits()


def cut(raw: bytes, size: int, limit: int, what: str, warnings: list[tuple[str, str]]) -> bytes:
    """``raw`` (the first ``limit`` bytes read of ``size``), cut at a character boundary, with a warning."""
    if size <= limit and len(raw) <= limit:
        return raw
    warnings.append(("too-large", f"{what} is {size:,} bytes; only the first {limit:,} are imported"))
    raw = raw[:limit]
    while raw and (raw[-1] & 0xC0) == 0x80:  # do not split a UTF-8 character
        raw = raw[:-1]
    return raw[:-1] if raw and raw[-1] >= 0xC0 else raw


def json_depth(value: object, limit: int) -> int:
    """How deep ``value`` nests, counting up to ``limit + 1`` at most (iterative: no recursion limit)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest
