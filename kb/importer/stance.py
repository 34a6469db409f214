"""What a document as a whole reports: this model's failures, none (a success report), or
generic ones (what models "often" get wrong, possible scenarios) that it never saw here.

Read from the document's opening prose (title, intro and the first paragraphs, code left
out): a document frames itself in its first sentences ("This document outlines typical
failures...", "No fixes were required."). List items are not read: a bullet saying "No
changes needed" is about one file, not the document.
"""

from __future__ import annotations

import re

from kb.importer.blocks import Document
from kb.importer.folded import Folded
from kb.models import Kind

OPENING_CHARS = 2500
"""How much of a document's opening prose frames it."""

_GENERIC = Folded(
    r"\bthis (document|file|analysis|guide|page)\b[^.\n]{0,80}"
    r"\b(common|typical|typically|possible|potential|hypothetical)\b[^.\n]{0,60}"
    r"\b(mistakes|failures|failure|issues|errors|anti-?patterns|pitfalls|ways|scenarios|problems)\b",
)
_SUCCESS = Folded(
    r"\bno (significant |real |actual )?(failures|issues|fixes|corrections|changes|errors)\b[^.\n]{0,40}"
    r"\b(were |was |are )?(needed|required|found|identified|necessary|detected)\b"
    r"|\brequires? no (fixes|changes|corrections)\b|\bmodel failures:? *none\b"
    r"|\bcorrect\b[^.\n]{0,80}\bon the first attempt\b"
    r"|\btotal failures:? *0\b(?! *\()|\btotal failures: *0 critical, *0 high, *0 medium, *0 low\b"
    r"|\bcompletion status\W*successful\b",
)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s")


def document_stance(doc: Document) -> Kind:
    """`failure` for a document reporting this model's failures; `observation` for a success
    report; `potential` for one listing generic or hypothetical failures."""
    opening = _opening_prose(doc)
    if _SUCCESS.search(opening):
        return Kind.observation
    if _GENERIC.search(opening):
        return Kind.potential
    return Kind.failure


def _opening_prose(doc: Document) -> str:
    """The first prose lines of a document (headings and paragraphs; no code, no list items)."""
    kept: list[str] = []
    size = 0
    fence: str | None = None
    for line in doc.lines:
        marker = _FENCE.match(line)
        if fence is not None:
            if marker and marker[1][0] == fence[0] and len(marker[1]) >= len(fence):
                fence = None
            continue
        if marker:
            if line[marker.end() :].strip().lower() not in ("markdown", "md"):
                fence = marker[1]  # a document wrapped whole in a Markdown fence is still prose
            continue
        if _LIST_ITEM.match(line):
            continue
        kept.append(line)
        size += len(line) + 1
        if size >= OPENING_CHARS:
            break
    return "\n".join(kept)
