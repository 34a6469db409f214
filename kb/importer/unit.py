"""One failure unit (a heading and its section) -> the fields of a `Failure` record."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, get_args

from kb.importer import fields as values
from kb.importer.blocks import Document
from kb.importer.folded import Folded
from kb.importer.headings import unwrap_bold
from kb.importer.impact import Level, read_level, severity_in_title
from kb.importer.labels import REPORT_LABELS, Field
from kb.importer.levels import LevelHint, best_level
from kb.importer.outline import UnitPart
from kb.importer.segments import Segment, split_segments
from kb.importer.snippets import inline_snippet, remove, snippets, split_halves, usable
from kb.importer.taxonomy import category_for
from kb.models import FailureField, IdealResponse, Impact, Kind, Response, Section, SectionLayout


class LabelStyle(NamedTuple):
    """How one label was written."""

    field: str
    """The field it filled (`root_cause`, ...), or `extra` for a label kept in ``extra``."""
    inline: bool
    """The value starts on the label's line (`**Fix**: text`), not on the next."""


@dataclass
class FailureDraft:
    """A failure's fields, before the case gives it a unique id."""

    title: str
    data: dict[str, Any]
    extra: list[Section] = field(default_factory=list)
    label_styles: Counter[LabelStyle] = field(default_factory=Counter)
    """How the source wrote its labels (only labels followed by prose tell)."""
    rule: bool = False
    """The source closed the unit with a `---` rule."""
    number: str | None = None
    """The number the source printed in the unit's heading (`3`, `2.1`, `MF001`), if any."""
    heading_level: int = 3
    """The unit heading's level (7 for a bold line or list item used as a heading)."""
    bold_title: bool = False
    """The title was written in bold after its number (`### 1. **Title**`)."""
    colons: Counter[bool] = field(default_factory=Counter)
    """Its emphasised labels by where the colon was: inside the bold (`**Fix:**`) or not (`**Fix**:`)."""
    listed: Counter[bool] = field(default_factory=Counter)
    """Its labels by whether they opened a list item (`- **Fix**: ...`) or a paragraph."""
    detail_paragraph: bool = False
    """Its impact details were one paragraph (`**Impact**: text`), not bullets."""


def build_failure(
    doc: Document, part: UnitPart, *, categories: frozenset[str], hints: Sequence[LevelHint] = ()
) -> FailureDraft:
    """Map a unit's labelled segments to failure fields; keep what does not map in `extra`."""
    node = part.node
    assert node.info is not None and node.heading is not None
    blocks = node.blocks()
    rule = bool(blocks) and blocks[-1].kind == "hr"
    while blocks and blocks[-1].kind == "hr":
        blocks.pop()
    builder = _Builder(doc, categories)
    segments = split_segments(doc, blocks)
    actual_is_model = any(s.field is Field.expected for s in segments) or not any(
        s.field is Field.model for s in segments
    )
    for segment in segments:
        builder.add(segment, actual_is_model=actual_is_model)
    builder.place_code()
    if part.entry is Kind.failure and _SAYS_FINE.search(doc.text(blocks)[:1500]):
        part = replace(part, entry=Kind.observation)  # the document says the model was right here
    title = node.info.title.strip() or unwrap_bold(node.heading.title) or "Untitled failure"
    builder.resolve_impact(part, node.info.raw, best_level(title, hints, node.info.number) if hints else None)
    if re.search(r"[^\W\d_]{2}", node.info.prefix):
        builder.labels["title"] = node.info.prefix  # `Issue 2:`: the numbering's words are the source's
    elif not node.info.numbered and node.level <= 6:
        builder.labels["title"] = ""  # an unnumbered heading
    layout: dict[str, Any] = {"labels": builder.labels} if builder.labels else {}
    order = builder.field_order()
    if order is not None:
        layout["field_order"] = order
    if layout:
        builder.data["layout"] = layout
    raw = node.info.raw.strip()
    draft = FailureDraft(
        title,
        builder.data,
        builder.extra,
        builder.styles,
        rule=rule,
        number=node.info.number,
        heading_level=node.level,
        bold_title=not raw.startswith(("**", "__")) and raw.endswith((f"**{title}**", f"__{title}__")),
        colons=builder.colons,
        listed=builder.listed,
        detail_paragraph=builder.detail_paragraph,
    )
    if part.group is None or part.group.info is None:
        draft.data["group"] = ""  # listed under no group heading
    else:
        group = unwrap_bold(part.group.info.raw)
        impact = draft.data.get("impact")
        default = f"{impact.label} Failures" if isinstance(impact, Impact) else "Other Failures"
        if group != default:
            draft.data["group"] = group
    return draft


_SAYS_FINE = Folded(
    r"\b(is|was) (actually|technically) (correct|fine|valid|acceptable)\b|\bactually correct in the original\b"
    r"|\bnot (a|an) (real |actual )?(model )?(failure|issue|bug|defect)\b|\bnot the model'?s fault\b"
    r"|\bfunctionally equivalent\b|\bno (fix|change) (was |is )?(needed|required)\b",
)
"""A unit the document itself calls fine (`This is actually correct in the original`)."""

_LEVEL_FIRST = re.compile(r"^\W*(critical|high|medium|low|severe|major|minor|moderate|blocker)\W*\s*([-–—:(|]|$)", re.I)
"""An impact value that opens with its level (`CRITICAL - the template ...`): a level, not details."""

FIELD_ORDER: tuple[str, ...] = get_args(FailureField)
"""The failure fields in the order a report prints them."""


class _Builder:
    def __init__(self, doc: Document, categories: frozenset[str]) -> None:
        self.doc = doc
        self.categories = categories
        self.data: dict[str, Any] = {}
        self.extra: list[Section] = []
        self.after = "title"
        self.own_level: Level | None = None
        self.labels: dict[str, str] = {}
        self.styles: Counter[LabelStyle] = Counter()
        self.colons: Counter[bool] = Counter()
        self.detail_paragraph = False
        self.listed: Counter[bool] = Counter()
        self.sequence: list[str] = []
        """The fields filled, in the order the source gave them."""

    def add(self, segment: Segment, *, actual_is_model: bool) -> None:
        kind = segment.field
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
            if (
                self.own_level is None
                and read_level(segment.text).known
                and (len(segment.text) <= 120 or _LEVEL_FIRST.match(segment.text))
            ):
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

    def _label(self, name: str, segment: Segment | None) -> None:
        """A field was filled: remember where, the source's wording of its label when a report
        would print another (empty: the source gave none), and the label's style."""
        self.sequence.append(name)
        if segment is None or segment.label is None:
            self.labels[name] = ""
            return
        if segment.label.text != REPORT_LABELS[name]:
            self.labels[name] = segment.label.text
        self._style(name, segment)

    def _style(self, name: str, segment: Segment) -> None:
        """Count whether the label shared its line with the value (only prose values tell)."""
        label = segment.label
        if label is None or segment.heading is not None:
            return
        if label.colon_inside is not None:
            self.colons[label.colon_inside] += 1
        self.listed[segment.listed] += 1
        if name == "impact":
            return
        if label.rest.strip():
            self.styles[LabelStyle(name, True)] += 1
        elif segment.blocks and segment.blocks[0].kind in ("paragraph", "text"):
            self.styles[LabelStyle(name, False)] += 1

    def _keep(self, segment: Segment) -> None:
        title = segment.label.text if segment.label else "Notes"
        level = segment.heading.level if segment.heading is not None and segment.heading.level <= 6 else None
        self.extra.append(
            Section(title=title or "Notes", text=segment.text, after=self.after, layout=SectionLayout(heading=level))
        )
        self._style("extra", segment)

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
        inside = segment.label.text.partition(":")[2] if segment.label is not None else ""
        if not level.known and inside.strip() and read_level(inside).known:
            first, rest, level = inside.strip(), text, read_level(inside)  # `**Severity: MEDIUM**`
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
            self._label("description", None)
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
        self.detail_paragraph = segment.blocks[0].kind != "list"  # `**Impact**: text`, not a bullet

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

    def place_code(self) -> None:
        """Fill the model's and the fix's code from the blocks their prose shows (see `snippets`):
        first each response's own blocks, then blocks marked as one or the other elsewhere."""
        self._take("model_response", want="model_response")
        self._take("ideal_response", want="ideal_response")
        for source in ("model_response", "ideal_response", "description", "location", "root_cause", "extra"):
            if self._has_code("model_response") and self._has_code("ideal_response"):
                return
            self._take(source, want=None)
        for name in ("model_response", "ideal_response"):
            response = self.data.get(name)
            if isinstance(response, Response) and not response.code:
                span = inline_snippet(response.text)
                if span is not None:  # the text keeps it; a report prints it once
                    self.data[name] = response.model_copy(update={"code": span})

    def _has_code(self, name: str) -> bool:
        response = self.data.get(name)
        return isinstance(response, Response) and bool(response.code)

    def _take(self, source: str, *, want: str | None) -> None:
        """Move one block of a field's text into the code field it belongs to: `want` when
        given (a response's own block, unless marked as the other's), else by its marks
        (unmarked blocks in a description or location show the model's code)."""
        for text, heading, put_back in self._texts(source):
            for snippet in snippets(text, heading):
                if not usable(snippet):
                    continue
                halves = split_halves(snippet.code)
                if halves and not self._has_code("model_response") and not self._has_code("ideal_response"):
                    self._set_code("model_response", halves[0], snippet.language)
                    self._set_code("ideal_response", halves[1], snippet.language)
                    put_back(remove(text, snippet))
                    return
                if want is not None:
                    marked = {"model": "model_response", "fix": "ideal_response"}.get(snippet.role or "", want)
                    if marked != want or self._has_code(want):
                        continue
                    target = want
                elif snippet.role is not None:
                    target = "ideal_response" if snippet.role == "fix" else "model_response"
                elif source in ("description", "location"):
                    target = "model_response"
                else:
                    continue
                if (want is None and target == source) or self._has_code(target):
                    continue
                self._set_code(target, snippet.code, snippet.language)
                put_back(remove(text, snippet))
                return

    def _texts(self, source: str) -> list[tuple[str, str, Any]]:
        """The Markdown texts of a field, each with the label it sat under and a function that replaces it."""
        if source == "extra":
            out = []
            for index, section in enumerate(self.extra):
                if not snippets(section.text):
                    continue

                def put(text: str, index: int = index) -> None:
                    self.extra[index] = self.extra[index].model_copy(update={"text": text})

                out.append((section.text, section.title, put))
            return out
        value = self.data.get(source)
        if isinstance(value, Response):

            def put_response(text: str) -> None:
                self.data[source] = self.data[source].model_copy(update={"text": text})

            return [(value.text, "", put_response)]
        if isinstance(value, str):

            def put_text(text: str) -> None:
                self.data[source] = text

            return [(value, "", put_text)]
        return []

    def _set_code(self, name: str, code: str, language: str | None) -> None:
        response = self.data.get(name)
        if isinstance(response, Response):
            self.data[name] = response.model_copy(update={"code": code, "language": language})
            return
        model = IdealResponse if name == "ideal_response" else Response
        self.data[name] = model(code=code, language=language)
        self.labels[name] = ""  # the source gave the code without a label of its own
        self.sequence.append(name)

    def resolve_impact(self, part: UnitPart, heading: str, hinted: Impact | None = None) -> None:
        """The unit's own label wins; then a level in its title; then one the document gives it
        elsewhere (a severity table, a priority list); then its group's level."""
        label = self.data.pop("impact_label", None)
        own = self.own_level
        if part.entry is not Kind.failure:
            self.data["kind"] = part.entry
        if own is not None and own.known:
            if own.not_a_failure:
                self.data.setdefault("kind", Kind.success)
                self.data["impact_label"] = label
                return
            assert own.impact is not None
            self.data["impact"] = own.impact
            if label and label != own.impact.label:
                self.data["impact_label"] = label
            return
        if part.entry is not Kind.failure:
            return
        level = severity_in_title(heading) or hinted or part.severity
        if level is not None:
            self.data["impact"] = level
            self.labels["impact"] = ""  # implied by the heading: the source wrote no level line

    def field_order(self) -> list[str] | None:
        """The order the source gave the fields in, when a report's usual order would differ."""
        ranks = [FIELD_ORDER.index(name) for name in self.sequence]
        return list(self.sequence) if ranks != sorted(ranks) else None
