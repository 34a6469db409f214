"""Turn a labelled segment's blocks into a field value, or say it does not fit (None).

A value that does not fit its field's shape is never squeezed in: the caller keeps the
segment verbatim in `extra` instead.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from kb.importer.blocks import Block, Document
from kb.importer.labels import match_label, strip_list_marker
from kb.models import DocLink, IdealResponse, ImpactDetail, Reference, Response, TrainingValue, check_url

_LANGUAGE = re.compile(r"^[\w+#.-]{1,30}$")
_DOC_LINK = re.compile(r"^\s*(?:[-*+]\s+|\d{1,3}[.)]\s+)?\[(?P<title>[^\[\]\n]+)\]\((?P<url>[^()\s]+)\)\s*$")
_TRAINING_LEVEL = re.compile(
    r"^(?P<level>(?:very |extremely )?(?:high|medium|low|critical|moderate|significant|excellent|good|strong|minimal"
    r"|limited|none|maximum|minor|major))(?: - (?P<text>.*))?$",
    re.IGNORECASE | re.DOTALL,
)
_REFERENCE = re.compile(r"^Runnable reference: `(?P<symbol>[^`\n]+)` in \[`(?P<path>[^`\n]+)`\]\([^()\s]*\)$")
_ORDERED_ITEM = re.compile(r"^\s*\d{1,3}[.)]\s+")


def response(doc: Document, blocks: list[Block], *, ideal: bool) -> Response | IdealResponse:
    """Prose plus one final code block -> text + code + language; anything richer stays Markdown in text.

    For a fix, a last line `Runnable reference: `symbol` in [`path`](...)` (as reports
    print it) becomes the reference to the runnable example.
    """
    if not ideal:
        return Response(**_prose_and_code(doc, blocks))
    reference = _reference(doc, blocks[-1]) if len(blocks) > 1 else None
    if reference is not None:
        return IdealResponse(**_prose_and_code(doc, blocks[:-1]), reference=reference)
    return IdealResponse(**_prose_and_code(doc, blocks))


def _prose_and_code(doc: Document, blocks: list[Block]) -> dict[str, Any]:
    if blocks and _single_fence(blocks[-1]) and not any(b.kind == "fence" for b in blocks[:-1]):
        fence = blocks[-1]
        return {"text": doc.text(blocks[:-1]), "code": fence.code, "language": fence.info or None}
    return {"text": doc.text(blocks)}


def _reference(doc: Document, block: Block) -> Reference | None:
    if block.kind != "paragraph":
        return None
    match = _REFERENCE.match(doc.text([block]))
    if not match:
        return None
    try:
        return Reference(path=match["path"], symbol=match["symbol"])
    except ValidationError:
        return None


def _single_fence(block: Block) -> bool:
    return block.kind == "fence" and block.closed and (not block.info or bool(_LANGUAGE.match(block.info)))


def error_message(doc: Document, blocks: list[Block]) -> str | None:
    """The message of an error section: one bare code block, or plain prose without code."""
    if len(blocks) == 1 and _single_fence(blocks[0]) and not blocks[0].info:
        return blocks[0].code
    if blocks and all(b.kind in ("paragraph", "text") for b in blocks):
        return doc.text(blocks)
    return None


def doc_links(doc: Document, blocks: list[Block]) -> tuple[list[DocLink], str | None]:
    """A first block made only of https links (one, or a list) -> links; the rest is a note."""
    if not blocks:
        return [], None
    first = doc.text(blocks[:1])
    lines = first.split("\n")
    matches = [_DOC_LINK.match(line) for line in lines]
    is_list = blocks[0].kind == "list" and all(item.end - item.start == 1 for item in blocks[0].items)
    if (len(lines) > 1 and not is_list) or not all(m and _valid(m["url"]) for m in matches):
        return [], doc.text(blocks) or None
    links = [DocLink(title=m["title"].strip(), url=m["url"]) for m in matches if m]
    return links, doc.text(blocks[1:]) or None


def _valid(url: str) -> bool:
    try:
        check_url(url)
    except ValueError:
        return False
    return True


def impact_details(doc: Document, blocks: list[Block]) -> list[ImpactDetail] | None:
    """`- **Area**: text` bullets (or one paragraph) -> details; None when the section is richer."""
    if len(blocks) == 1 and blocks[0].kind in ("paragraph", "text"):
        return [ImpactDetail(text=doc.text(blocks))]
    if len(blocks) != 1 or blocks[0].kind != "list" or blocks[0].ordered:
        return None
    details: list[ImpactDetail] = []
    for item in blocks[0].items:
        if item.end - item.start != 1:
            return None
        _, line = strip_list_marker(doc.lines[item.start])
        label = match_label(line, allow_plain=False)
        if label is not None and label.rest.strip() and "(" not in label.text:
            details.append(ImpactDetail(area=label.text, text=label.rest.strip()))
        elif line.strip():
            details.append(ImpactDetail(text=line.strip()))
        else:
            return None
    return details


def training_value(doc: Document, blocks: list[Block]) -> TrainingValue:
    """`High - text` + a numbered list of lessons; anything else stays as text."""
    whole = TrainingValue(text=doc.text(blocks))
    if not blocks or blocks[0].kind not in ("paragraph", "text") or len(blocks) > 2:
        return whole
    match = _TRAINING_LEVEL.match(doc.text(blocks[:1]))
    if not match:
        return whole
    lessons: list[str] = []
    if len(blocks) == 2:
        lessons_block = blocks[1]
        if lessons_block.kind != "list" or not lessons_block.ordered:
            return whole
        for item in lessons_block.items:
            line = doc.lines[item.start]
            if item.end - item.start != 1 or not _ORDERED_ITEM.match(line):
                return whole
            lessons.append(_ORDERED_ITEM.sub("", line, count=1).strip())
    return TrainingValue(level=match["level"], text=(match["text"] or "").strip(), lessons=lessons)
