"""One failure unit (a heading and its section) -> the fields of a `Failure` record."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kb.importer import fields as values
from kb.importer.blocks import Document
from kb.importer.headings import unwrap_bold
from kb.importer.impact import Level, read_level, severity_in_title
from kb.importer.labels import REPORT_LABELS, Field
from kb.importer.outline import UnitPart
from kb.importer.segments import Segment, split_segments
from kb.importer.taxonomy import category_for
from kb.models import Impact, Section


@dataclass
class FailureDraft:
    """A failure's fields, before the case gives it a unique id."""

    title: str
    data: dict[str, Any]
    extra: list[Section] = field(default_factory=list)
    inline_labels: int = 0
    """Labels whose value starts on the label's line (`**Fix**: text`), Impact Level aside."""
    own_line_labels: int = 0
    """Labels alone on their line, their value below."""


def build_failure(doc: Document, part: UnitPart, *, categories: frozenset[str]) -> FailureDraft:
    """Map a unit's labelled segments to failure fields; keep what does not map in `extra`."""
    node = part.node
    assert node.info is not None and node.heading is not None
    blocks = node.blocks()
    while blocks and blocks[-1].kind == "hr":
        blocks.pop()
    builder = _Builder(doc, categories)
    segments = split_segments(doc, blocks)
    actual_is_model = any(s.field is Field.expected for s in segments) or not any(
        s.field is Field.model for s in segments
    )
    for segment in segments:
        builder.add(segment, actual_is_model=actual_is_model)
    title = node.info.title.strip() or unwrap_bold(node.heading.title) or "Untitled failure"
    builder.resolve_impact(part, node.info.raw)
    if re.search(r"[^\W\d_]{2}", node.info.prefix):
        builder.labels["title"] = node.info.prefix  # `Issue 2:`: the numbering's words are the source's
    if builder.labels:
        builder.data["labels"] = builder.labels
    draft = FailureDraft(title, builder.data, builder.extra, builder.inline, builder.own_line)
    if part.group is not None and part.group.info is not None:
        group = unwrap_bold(part.group.info.raw)
        impact = draft.data.get("impact")
        default = f"{impact.label} Failures" if isinstance(impact, Impact) else "Other Failures"
        if group != default:
            draft.data["group"] = group
    return draft


class _Builder:
    def __init__(self, doc: Document, categories: frozenset[str]) -> None:
        self.doc = doc
        self.categories = categories
        self.data: dict[str, Any] = {}
        self.extra: list[Section] = []
        self.after = "title"
        self.own_level: Level | None = None
        self.labels: dict[str, str] = {}
        self.inline = self.own_line = 0

    def add(self, segment: Segment, *, actual_is_model: bool) -> None:
        kind = segment.field
        if segment.label is not None and segment.heading is None and kind not in (Field.impact, None):
            if segment.label.rest.strip():
                self.inline += 1
            else:
                self.own_line += 1
        if segment.label is None:
            self._put("description", segment.text, segment)
        elif kind is Field.actual:
            self._response(segment, ideal=not actual_is_model)
        elif kind is Field.expected:
            self._response(segment, ideal=True)
        elif kind in (Field.model, Field.fix):
            self._response(segment, ideal=kind is Field.fix)
        elif kind is Field.impact:
            self._impact(segment)
        elif kind is Field.impact_or_details:
            if self.own_level is None and read_level(segment.text).known and len(segment.text) <= 120:
                self._impact(segment)
            else:
                self._details(segment)
        elif kind is Field.impact_details:
            self._details(segment)
        elif kind is Field.error:
            message = values.error_message(segment.doc, segment.blocks)
            self._put("error", message, segment) if message is not None else self._keep(segment)
        elif kind in (Field.description, Field.root_cause, Field.location):
            self._put(kind.value, segment.text, segment)
        elif kind is Field.docs:
            self._docs(segment)
        elif kind is Field.training:
            self._put("training_value", values.training_value(segment.doc, segment.blocks), segment)
        elif kind is Field.category:
            category = category_for(segment.text, self.categories)
            if category is not None and "category" not in self.data:
                self.data["category"] = category
            self._keep(segment)
        else:
            self._keep(segment)

    def _put(self, name: str, value: Any, segment: Segment) -> None:
        if name in self.data or (isinstance(value, str) and not value.strip()):
            self._keep(segment)
            return
        self.data[name] = value
        self.after = name
        self._label(name, segment)

    def _label(self, name: str, segment: Segment) -> None:
        """Remember the source's wording of a label when a report would print another."""
        if segment.label is not None and segment.label.text != REPORT_LABELS[name]:
            self.labels[name] = segment.label.text

    def _keep(self, segment: Segment) -> None:
        title = segment.label.text if segment.label else "Notes"
        self.extra.append(Section(title=title or "Notes", text=segment.text, after=self.after))

    def _response(self, segment: Segment, *, ideal: bool) -> None:
        name = "ideal_response" if ideal else "model_response"
        if not segment.blocks:
            self._keep(segment)
            return
        self._put(name, values.response(segment.doc, segment.blocks, ideal=ideal), segment)

    def _impact(self, segment: Segment) -> None:
        text = segment.text
        first, _, rest = text.partition("\n")
        level = read_level(first)
        if self.own_level is not None or not level.known:
            self._keep(segment)
            return
        self.own_level = level
        self.data["impact_label"] = first.strip()
        self.after = "impact"
        self._label("impact", segment)
        if rest.strip() and "description" not in self.data:
            self.data["description"] = rest.strip("\n")  # prose under the level line describes the failure
            self.after = "description"
        elif rest.strip():
            title = segment.label.text if segment.label else "Impact"
            self.extra.append(Section(title=title, text=rest.strip("\n"), after="impact"))

    def _details(self, segment: Segment) -> None:
        details = values.impact_details(segment.doc, segment.blocks)
        if details is None or "impact_details" in self.data:
            self._keep(segment)
            return
        self.data["impact_details"] = details
        self.after = "impact_details"
        self._label("impact_details", segment)

    def _docs(self, segment: Segment) -> None:
        if "docs" in self.data or "docs_note" in self.data:
            self._keep(segment)
            return
        links, note = values.doc_links(segment.doc, segment.blocks)
        if links:
            self.data["docs"] = links
        if note:
            self.data["docs_note"] = note
        if not links and not note:
            self._keep(segment)
            return
        self.after = "docs"
        self._label("docs", segment)

    def resolve_impact(self, part: UnitPart, heading: str) -> None:
        """The unit's own label wins; then a level in its title; then its group's level."""
        label = self.data.pop("impact_label", None)
        own = self.own_level
        if own is not None and own.known:
            if own.not_a_failure:
                self.data["not_a_failure"] = True
                self.data["impact_label"] = label
                return
            assert own.impact is not None
            self.data["impact"] = own.impact
            if label and label != own.impact.label:
                self.data["impact_label"] = label
            return
        if part.success:
            self.data["not_a_failure"] = True
            return
        level = severity_in_title(heading) or part.severity
        if level is not None:
            self.data["impact"] = level
