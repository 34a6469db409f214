"""A `## Summary` section in the seed's shape -> a `Summary` record (else it stays verbatim).

The shape: a bullet list of labelled items (`- **Total failures**: ...`, `- **Primary
knowledge gaps**:` + numbered items, `- **Training value**: level - text` + bullets),
then labelled blocks (`**Deployment Impact**:`, `**Testing Impact**:`, `**Production
Readiness**:` + checklist, any other `**Label**:` as a free section).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from kb.importer.blocks import Block, Document, dedent, parse_blocks
from kb.importer.labels import match_label, normalise, strip_list_marker
from kb.importer.segments import split_segments
from kb.models import Checklist, Section, Summary, TrainingValue

_LEVEL_TEXT = re.compile(r"^(?P<level>[A-Za-z][A-Za-z ]{0,20}?) - (?P<text>.*)$", re.DOTALL)
_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")


def parse_summary(doc: Document, blocks: list[Block], styles: Counter[bool] | None = None) -> Summary | None:
    """The structured summary, or None when the section is not in the seed's shape.

    ``styles`` counts how its labelled blocks were written: True for a value on the label's
    line (`**Testing Impact**: text`), False for prose starting on the next line.
    """
    if not blocks or blocks[0].kind != "list" or blocks[0].ordered:
        return None
    data: dict[str, Any] = {}
    sections: list[Section] = []
    for item in blocks[0].items:
        marker, first = strip_list_marker(doc.lines[item.start])
        label = match_label(first)
        if label is None:
            return None
        body = [label.rest] + [dedent(line, len(marker)) for line in doc.lines[item.start + 1 : item.end]]
        sub = parse_blocks("\n".join(body))
        if not _list_item(normalise(label.text), label.text, sub, data, sections):
            return None
    if not data:
        return None
    for segment in split_segments(doc, blocks[1:]):
        if segment.label is None:
            return None
        if styles is not None and segment.heading is None:
            if segment.label.rest.strip():
                styles[True] += 1
            elif segment.blocks and segment.blocks[0].kind in ("paragraph", "text"):
                styles[False] += 1
        key = normalise(segment.label.text)
        text = segment.text
        if key == "deployment impact" and "deployment_impact" not in data and text:
            data["deployment_impact"] = text
        elif key == "testing impact" and "testing_impact" not in data and text:
            data["testing_impact"] = text
        elif (
            key == "production readiness"
            and "production_readiness" not in data
            and _checklist(segment.doc, segment.blocks)
        ):
            data["production_readiness"] = _checklist(segment.doc, segment.blocks)
        else:
            sections.append(Section(title=segment.label.text, text=text))
    if sections:
        data["sections"] = sections
    return Summary(**data)


def _list_item(key: str, label: str, sub: Document, data: dict[str, Any], sections: list[Section]) -> bool:
    blocks = sub.blocks
    if key in ("total failures", "total", "totals", "total issues", "failure count") and len(blocks) == 1:
        if "written_totals" in data or sub.text(blocks).count("\n"):
            return False
        data["written_totals"] = sub.text(blocks)
    elif "knowledge gap" in key and "knowledge_gaps" not in data:
        items = _single_line_items(sub, blocks)
        if items is None:
            return False
        data["knowledge_gaps"] = items
    elif key == "training value" and "training_value" not in data:
        value = _training(sub, blocks)
        if value is None:
            return False
        data["training_value"] = value
    else:
        sections.append(Section(title=label, text=sub.text(blocks)))
    return True


def _training(sub: Document, blocks: list[Block]) -> TrainingValue | None:
    if not blocks or blocks[0].kind not in ("paragraph", "text") or len(blocks) > 2:
        return None
    lessons: list[str] = []
    if len(blocks) == 2:
        found = _single_line_items(sub, blocks[1:])
        if found is None or blocks[1].ordered:
            return None
        lessons = found
    lead = sub.text(blocks[:1])
    match = _LEVEL_TEXT.match(lead)
    if match:
        return TrainingValue(level=match["level"], text=match["text"].strip(), lessons=lessons)
    return TrainingValue(level=lead, lessons=lessons) if "\n" not in lead and len(lead) < 30 else None


def _checklist(doc: Document, blocks: list[Block]) -> Checklist | None:
    lead: list[Block] = []
    if blocks and blocks[0].kind in ("paragraph", "text"):
        lead, blocks = blocks[:1], blocks[1:]
    if len(blocks) != 1 or blocks[0].ordered:
        return None
    items = _single_line_items(doc, blocks)
    if items is None:
        return None
    return Checklist(text=doc.text(lead), items=items)


def _single_line_items(doc: Document, blocks: list[Block]) -> list[str] | None:
    if len(blocks) != 1 or blocks[0].kind != "list":
        return None
    items = []
    for item in blocks[0].items:
        if item.end - item.start != 1:
            return None
        items.append(_ITEM.sub("", doc.lines[item.start], count=1).strip())
    return items
