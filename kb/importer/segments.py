"""Cut a run of blocks into labelled segments: `**Root Cause**:` + the blocks up to the next label.

Labels are found at the start of paragraph lines (`**Fix**: ...`, also several in one
paragraph), as sub-headings (`#### Root Cause`), and as list items when every item of a
list is labelled (`- **Issue**: ...`). Text before the first label is the preamble.
Every line ends up in exactly one segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.importer.blocks import Block, Document, dedent, parse_blocks
from kb.importer.labels import Field, Label, heading_label, match_label, strip_list_marker

# Sections whose content is itself a list of labelled bullets (`- **Deployment**: ...`).
_BULLET_FIELDS = {Field.impact_details, Field.impact_or_details, Field.training, Field.docs}
_CORE_FIELDS = {Field.description, Field.model, Field.fix, Field.root_cause, Field.error, Field.impact}


@dataclass
class Segment:
    """A label (None for the preamble) and the blocks that follow it."""

    label: Label | None
    doc: Document
    blocks: list[Block] = field(default_factory=list)
    heading: Block | None = None
    """The sub-heading that opened this segment, when the label was a heading."""
    listed: bool = False
    """The label opened a list item (`- **Fix**: ...`)."""

    @property
    def text(self) -> str:
        return self.doc.text(self.blocks)

    @property
    def field(self) -> Field | None:
        return self.label.field if self.label else None


def split_segments(doc: Document, blocks: list[Block], *, headings_are_sections: bool = True) -> list[Segment]:
    """The preamble, then one segment per label, in order."""
    segments = [Segment(None, doc)]
    for owner, block in _expanded(doc, blocks):
        doc = owner
        current = segments[-1]
        if block.kind == "heading":
            label = heading_label(block.title)
            if label is None and headings_are_sections:
                label = Label(re.sub(r"[*_]{2}", "", block.title).strip(), None, "")
            if label is not None:
                segments.append(Segment(label, doc, heading=block))
                continue
        if block.kind in ("paragraph", "text"):
            _split_paragraph(doc, block, segments)
            continue
        if block.kind == "list" and _labelled_list(doc, block, current):
            segments.extend(_list_segments(doc, block))
            continue
        _append(current, doc, block)
    if not segments[0].blocks and len(segments) > 1:
        segments.pop(0)
    return segments


def _expanded(doc: Document, blocks: list[Block]) -> list[tuple[Document, Block]]:
    """Blocks with the document they belong to; an embedded block contributes its own blocks."""
    out: list[tuple[Document, Block]] = []
    for block in blocks:
        if block.kind == "embedded" and block.inner is not None:
            out.extend((block.inner, inner) for inner in block.inner.blocks)
        else:
            out.append((doc, block))
    return out


def _split_paragraph(doc: Document, block: Block, segments: list[Segment]) -> None:
    start = block.start
    pending_head = block.head
    for number in range(block.start, block.end):
        line = doc.lines[number] if not (number == block.start and block.head is not None) else block.head or ""
        first = number == block.start
        label = match_label(line, allow_unknown=first, allow_plain=first)
        if label is None or (number != block.start and label.field is None):
            continue
        if number > start:
            _append(segments[-1], doc, Block("paragraph", start, number, head=pending_head))
        segments.append(Segment(label, doc))
        pending_head = None
        if label.rest.strip():
            start, pending_head = number, label.rest
        else:
            start = number + 1
    if start < block.end:
        _append(segments[-1], doc, Block("paragraph", start, block.end, head=pending_head))


def _append(segment: Segment, doc: Document, block: Block) -> None:
    """Add a block; after a labelled list item (a small document of its own) the two texts are joined."""
    if segment.doc is doc:
        segment.blocks.append(block)
        return
    joined = "\n\n".join(part for part in (segment.text, doc.text([block])) if part)
    segment.doc = parse_blocks(joined)
    segment.blocks = list(segment.doc.blocks)


def _labelled_list(doc: Document, block: Block, current: Segment) -> bool:
    """A list whose every item starts with a label, at least one of them a failure field."""
    if not block.items:
        return False
    labels = [match_label(strip_list_marker(doc.lines[item.start])[1]) for item in block.items]
    if any(label is None for label in labels):
        return False
    fields = {label.field for label in labels if label is not None}
    # a labelled list carries a core field, or continues one that a code block interrupted
    if not fields & _CORE_FIELDS and not (current.listed and None not in fields):
        return False
    # `- **Deployment**: ...` bullets right under an impact label belong to that label
    if current.field in _BULLET_FIELDS and not current.blocks and current.label and not current.label.rest.strip():
        return False
    return current.field not in _BULLET_FIELDS or bool(fields & (_CORE_FIELDS - {Field.impact}))


def _list_segments(doc: Document, block: Block) -> list[Segment]:
    """One segment per labelled item; the item's own text is parsed again as a small document."""
    out: list[Segment] = []
    for item in block.items:
        marker, first = strip_list_marker(doc.lines[item.start])
        label = match_label(first)
        assert label is not None  # checked by _labelled_list
        indent = len(marker)
        body = [label.rest] + [dedent(line, indent) for line in doc.lines[item.start + 1 : item.end]]
        sub = parse_blocks("\n".join(body))
        out.append(Segment(label, sub, list(sub.blocks), listed=True))
    return out
