"""Levels a document gives its failures outside the failures themselves: a severity table
(`| Issue | Severity |`), or a priority list (`### High Priority` + items naming failures,
`- **Critical Issues**: 2 (Hardcoded AMI, Open security group)`).

A failure without a level of its own takes the level of the hint that names it; a hint
wins over the level of the section the failure is listed under (the document said it of
this failure, not of its group).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kb.importer.blocks import Block, Document, table_cells, table_rows
from kb.importer.headings import SectionKind, analyse_heading, classify_section, plain
from kb.importer.impact import read_level
from kb.importer.labels import strip_list_marker
from kb.models import Impact

_LEVEL_COLUMN = re.compile(
    r"^\W*(severity|impact( level)?|priority|risk( level)?|level|criticality)\W*$", re.IGNORECASE
)
_WORD = re.compile(r"[a-z0-9]+")
_LEVEL_WORD = re.compile(r"critical|high|medium|low|major|minor|moderate|severe|blocker|priority|p[0-3]", re.IGNORECASE)
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "for",
        "to",
        "and",
        "or",
        "with",
        "without",
        "is",
        "are",
        "not",
        "no",
        "missing",
        "lack",
        "incorrect",
        "wrong",
        "issue",
        "issues",
        "failure",
    ]
)
_NAMES_IN_PARENS = re.compile(r"\(([^()]{3,400})\)\s*$")


@dataclass(frozen=True)
class LevelHint:
    """A name the document gives a level to."""

    words: frozenset[str]
    level: Impact
    number: str | None = None
    """The failure's number when a table gives one (`| 3 | Hardcoded AZs | High |`)."""


def level_hints(doc: Document) -> list[LevelHint]:
    """Every severity-table row and priority-list item of a document, in order."""
    hints: list[LevelHint] = []
    level: Impact | None = None  # the level the latest heading names, for the lists under it
    for block in doc.blocks:
        if block.kind == "heading":
            info = analyse_heading(block.title)  # cached: the outline reads every heading too
            level = info.severity if info.kind is SectionKind.severity else None
        elif table_rows(doc, block):
            hints.extend(_table_hints(doc, block))
        elif block.kind == "list":
            hints.extend(_list_hints(doc, block, level))
        elif (
            block.kind == "paragraph"
            and len(doc.lines[block.start].split()) <= 8
            and _LEVEL_WORD.search(doc.lines[block.start])
        ):
            kind, named = classify_section(plain(doc.lines[block.start]))
            if kind is SectionKind.severity:
                level = named  # a bold line `**High Priority:**` over a list
    return hints


def best_level(title: str, hints: Sequence[LevelHint], number: str | None = None) -> Impact | None:
    """The level of the hint that names a failure's title best (most of either's words shared),
    else of the table row with the failure's number (when only one row has it)."""
    words = _words(title)
    if not words:
        return None
    numbered = [hint for hint in hints if number is not None and hint.number == number]
    best: tuple[float, Impact] | None = None
    for hint in hints:
        shared = len(words & hint.words)
        score = shared / min(len(words), len(hint.words)) if shared >= 2 or words == hint.words else 0.0
        if score >= 0.75 and (best is None or score > best[0]):
            best = (score, hint.level)
    if best is not None:
        return best[1]
    return numbered[0].level if len(numbered) == 1 else None


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(plain(text).lower()) if w not in _STOP)


def _table_hints(doc: Document, block: Block) -> list[LevelHint]:
    rows = [table_cells(doc.lines[i]) for i in range(block.start, block.end)]
    if len(rows) < 3:
        return []
    header = rows[0]
    level_column = next((i for i, cell in enumerate(header) if _LEVEL_COLUMN.match(plain(cell))), None)
    if level_column is None:
        return []
    name_column = next((i for i in range(len(header)) if i != level_column and not plain(header[i]).isdigit()), None)
    hints: list[LevelHint] = []
    for row in rows[2:]:
        if len(row) <= max(level_column, name_column or 0):
            continue
        found = read_level(row[level_column]).impact
        name = row[name_column] if name_column is not None else ""
        number = None
        if name_column == 0 and re.fullmatch(r"\W*\d+\W*", name) and len(row) > 1:
            number, name = re.sub(r"\D", "", name), row[1]  # a `#` column first
        if found is not None and _words(name):
            hints.append(LevelHint(_words(name), found, number))
    return hints


def _list_hints(doc: Document, block: Block, level: Impact | None) -> list[LevelHint]:
    hints: list[LevelHint] = []
    for item in block.items:
        _, line = strip_list_marker(doc.lines[item.start])
        names = _NAMES_IN_PARENS.search(line)
        if names is not None:  # `- **Critical Issues**: 2 (A, B)`
            kind, named = classify_section(plain(line.partition(":")[0]))
            if kind is SectionKind.severity and named is not None:
                hints.extend(LevelHint(_words(name), named) for name in names[1].split(",") if _words(name))
                continue
        if level is not None and _words(line):
            hints.append(LevelHint(_words(line), level))
    return hints
