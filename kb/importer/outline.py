"""A document's outline: the heading tree, and which headings open a failure unit.

A heading opens a failure unit when it is numbered (`### 3. Title`, `## Issue 2: Title`,
`**1. Title**`), when its section carries failure labels (`**Root Cause**:`, ...), or
when it sits under a failure group (`## Critical Failures`) -- unless a heading below it
is a better unit (`## 1. Syntax Issues` holding `### 1.1 ...`), or it sits in a summary.
Everything that is not a unit is a section, kept verbatim.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field, replace

from kb.importer.blocks import Block, Document, dedent, parse_blocks, table_cells, table_rows
from kb.importer.headings import HeadingInfo, SectionKind, analyse_heading, split_number
from kb.importer.labels import Field, heading_label, match_label, strip_list_marker
from kb.models import Impact, Kind

PSEUDO_LEVEL = 7
"""The level given to a bold line used as a heading (`**1. Title**`): below every real heading."""

_STRONG = {Field.model, Field.fix, Field.root_cause, Field.error, Field.description, Field.expected, Field.actual}


@dataclass(eq=False)
class Node:
    """A heading (None for the document root), its direct body and its sub-sections."""

    heading: Block | None
    info: HeadingInfo | None
    level: int
    body: list[Block] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    def blocks(self) -> list[Block]:
        """Every block below the heading, in order."""
        out = list(self.body)
        for child in self.children:
            inner = child.blocks()
            if child.heading is not None:
                out.append(child.heading)
                if inner and inner[0].start == child.heading.start:
                    inner = inner[1:]  # the rest of the heading's own line, already in it
            out.extend(inner)
        return out


@dataclass
class UnitPart:
    """A failure unit and the context it was found in."""

    node: Node
    group: Node | None
    """The section it was listed under (None at the top level)."""
    severity: Impact | None
    """The level its group names, if any."""
    entry: Kind
    """What the sections it is listed under make it: a failure, or a non-failure entry
    (under `Known Limitations`, `Common Pitfalls Avoided`, `Potential Issues`...)."""


@dataclass
class SectionPart:
    """A non-failure section: a heading (None for loose text) and its blocks, verbatim."""

    node: Node
    blocks: list[Block]


Part = UnitPart | SectionPart


@dataclass
class Outline:
    title: Block | None
    intro: list[Block]
    parts: list[Part]


def build_tree(doc: Document, *, lists_as_units: bool = False) -> Node:
    """The heading tree of a document (bold numbered lines count as headings; with
    `lists_as_units`, so does every item of a list of two or more)."""
    root = Node(None, None, 0)
    stack = [root]
    for block in _with_pseudo_headings(doc, lists_as_units):
        if block.kind != "heading":
            stack[-1].body.append(block)
            continue
        while len(stack) > 1 and stack[-1].level >= block.level:
            stack.pop()
        node = Node(block, analyse_heading(block.title), block.level)
        stack[-1].children.append(node)
        stack.append(node)
    return root


def _with_pseudo_headings(doc: Document, lists_as_units: bool = False) -> list[Block]:
    """Bold numbered lines (`**2. Title**`) and list items used as titles become headings."""
    out: list[Block] = []
    blocks = doc.blocks
    headings: list[frozenset[str]] = []  # the titles of the document's headings, read when a list needs them
    plain = not any(block.kind == "heading" for block in blocks)  # plain text: titles are lines of their own
    for index, block in enumerate(blocks):
        if block.kind == "paragraph" and block.head is None:
            line = doc.lines[block.start].strip()
            if plain and block.end == block.start + 1 and _plain_title(doc, block, blocks[index + 1 : index + 5]):
                out.append(Block("heading", block.start, block.end, level=PSEUDO_LEVEL, title=line, titled=True))
                continue
            if line.startswith(("**", "__")) and line.endswith(("**", "__")) and not line.rstrip("*_").endswith(":"):
                number, title = split_number(line)
                following = blocks[index + 1] if index + 1 < len(blocks) else None
                worded = number is not None and not title and any(c.isalpha() for c in line)  # `**Flaw 1**`
                titled = number is None and _titles_labelled(doc, block, following)
                if ((number is not None and title) or worded or titled) and match_label(line) is None:
                    out.append(
                        Block("heading", block.start, block.start + 1, level=PSEUDO_LEVEL, title=line, titled=titled)
                    )
                    if block.end > block.start + 1:
                        out.append(Block("paragraph", block.start + 1, block.end))
                    continue
        if lists_as_units and table_rows(doc, block) and _FAILURE_COLUMN.search(doc.lines[block.start]):
            out.extend(_row_units(doc, block))
            continue
        if block.kind == "list" and block.items:
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            preceding = blocks[index - 1] if index else None
            if _titled_items(doc, block, following, preceding) or (lists_as_units and _defect_list(doc, block)):
                out.extend(_item_units(doc, block))
                continue
            if not headings:
                headings.extend(_title_words(b.title) for b in blocks if b.kind == "heading")
            if _bold_items(doc, block) or _listed_titles(doc, block, headings):
                out.extend(_item_units(doc, block, titled=True))
                continue
        out.append(block)
    return out


def _item_title(doc: Document, start: int) -> str | None:
    """A list item's first line when it reads as a title (`1. **Title**`, `2. Short title`), else None."""
    marker, first = strip_list_marker(doc.lines[start])
    first = first.strip()
    if not first or match_label(first) is not None or first.endswith(":") or len(first.split()) > 16:
        return None
    bold = first.startswith(("**", "__")) and first.endswith(("**", "__"))
    return first if bold or marker.strip()[:1].isdigit() else None


def _titled_items(doc: Document, block: Block, following: Block | None, preceding: Block | None) -> bool:
    """`1. **Title**` items holding labelled content, or a lone `1. Title` followed by labelled blocks
    (unless it is a lesson of the training value just before it: `**Training Value**:` + `1. Lesson`)."""
    if any(_item_title(doc, item.start) is None for item in block.items):
        return False
    if len(block.items) == 1 and block.end - block.start == 1 and block.ordered:
        if preceding is not None and preceding.kind == "paragraph" and Field.training in _block_fields(doc, preceding):
            return False  # the lessons of a training value
        return following is not None and bool(_block_fields(doc, following) & _STRONG)
    labelled = 0
    for item in block.items:
        for number in range(item.start + 1, item.end):
            _, line = strip_list_marker(doc.lines[number].strip())
            label = match_label(line, allow_unknown=False)
            if label is not None and label.field in _STRONG:
                labelled += 1
                break
    return labelled * 2 >= len(block.items) and labelled > 0


def _plain_title(doc: Document, block: Block, following: list[Block]) -> bool:
    """A line of its own in a document without headings, over labelled paragraphs (`Hard
    dependency on a non-created VPC` above `Where: ...`, `Impact: ...`, `Fix: ...`): a unit's title."""
    line = doc.lines[block.start].strip()
    if not line[:1].isupper() or line.endswith((".", ";", ",")) or match_label(line) is not None:
        return False
    if not 1 <= len(line.split()) <= 14 or line.startswith(("**", "__")):
        return False
    fields = [_block_fields(doc, after) if after.kind == "paragraph" else set() for after in following]
    return bool(fields) and bool(fields[0]) and any(found & _STRONG for found in fields)


def _titles_labelled(doc: Document, block: Block, following: Block | None) -> bool:
    """A bold line (`**Missing KMS key**`) of a few words over labelled content: a unit's title."""
    line = doc.lines[block.start].strip()
    if not 1 <= len(line.split()) <= 14:
        return False
    rest = Block("paragraph", block.start + 1, block.end) if block.end > block.start + 1 else following
    return rest is not None and bool(_block_fields(doc, rest) & _STRONG)


def _bold_items(doc: Document, block: Block) -> bool:
    """Two or more `- **Title**` items, each with content below its title line."""
    if len(block.items) < 2:
        return False
    for item in block.items:
        _, first = strip_list_marker(doc.lines[item.start])
        first = first.strip().rstrip(":")
        whole_bold = first.startswith(("**", "__")) and first.endswith(("**", "__")) and first.count("**") <= 2
        if not whole_bold or item.end - item.start < 2 or match_label(first) is not None or len(first.split()) > 14:
            return False
    return True


_BOLD_TITLE = re.compile(r"^(\*\*|__)(?P<title>[^*_\n]{3,120})\1(?:\s*(?:[-–—]\s+\S.*)?)$")


def _listed_titles(doc: Document, block: Block, headings: list[frozenset[str]]) -> bool:
    """Two or more one-line `1. **Title** - what is wrong` items (a list of failures), unless
    they repeat headings of the document: then they are an overview of the detailed sections."""
    if len(block.items) < 2:
        return False
    titles = []
    for item in block.items:
        _, first = strip_list_marker(doc.lines[item.start])
        match = _BOLD_TITLE.match(first.strip())
        if match is None or item.end - item.start > 1 or len(match["title"].split()) > 12:
            return False
        titles.append(_title_words(match["title"]))
    repeated = sum(1 for words in titles if any(_same_title(words, heading) for heading in headings))
    return repeated * 2 < len(titles)


def _title_words(title: str) -> frozenset[str]:
    _, text = split_number(title)
    return frozenset(re.findall(r"[a-z0-9]+", text.lower()))


def _same_title(a: frozenset[str], b: frozenset[str]) -> bool:
    return bool(a) and bool(b) and len(a & b) >= 0.75 * min(len(a), len(b)) and len(a & b) >= 2


_FAILURE_COLUMN = re.compile(
    r"\b(issue|problem|failure|finding|defect|gap|error|mistake)s?\b|model[_ ]response", re.IGNORECASE
)


def _row_units(doc: Document, block: Block) -> list[Block]:
    """A table with one failure per row: its header stays text, each row a unit titled by its first cell."""
    out = [Block("paragraph", block.start, block.start + 2)]
    for number in range(block.start + 2, block.end):
        cells = table_cells(doc.lines[number])
        out.append(Block("heading", number, number + 1, level=PSEUDO_LEVEL, title=cells[0]))
        rest = " | ".join(cell for cell in cells[1:] if cell)
        if rest:
            out.append(Block("paragraph", number, number + 1, head=rest))
    return out


def _defect_list(doc: Document, block: Block) -> bool:
    """A list that may be the document's failures when it has nothing finer: two or more
    items, each opening with prose (not a label, not a bare word or link)."""
    if len(block.items) < 2:
        return False
    for item in block.items:
        _, first = strip_list_marker(doc.lines[item.start])
        first = first.strip()
        if len(first.split()) < 3 or match_label(first, allow_unknown=False) is not None or first.startswith("["):
            return False
    return True


def _item_units(doc: Document, block: Block, *, titled: bool = False) -> list[Block]:
    out: list[Block] = []
    for item in block.items:
        marker, first = strip_list_marker(doc.lines[item.start])
        title = first.strip()
        listed = _BOLD_TITLE.match(title) if titled else None
        rest = ""
        if listed is not None and listed.end("title") + 2 < len(title):  # `**Title** - what is wrong`
            title, rest = title[: listed.end("title") + 2], title[listed.end("title") + 2 :].strip()
        if block.ordered and marker.strip()[:1].isdigit():
            title = f"{marker.strip()} {title}"  # keep the number: it is the unit's numbering
        out.append(Block("heading", item.start, item.start + 1, level=PSEUDO_LEVEL, title=title, titled=titled))
        if rest:
            out.append(Block("paragraph", item.start, item.start + 1, head=rest))
        if item.end > item.start + 1:
            body = "\n".join(dedent(line, len(marker)) for line in doc.lines[item.start + 1 : item.end])
            out.append(Block("embedded", item.start + 1, item.end, inner=parse_blocks(body)))
    return out


def outline(doc: Document) -> Outline:
    """Title, intro and the ordered parts (units and sections) of a document.

    A document without a unit of the usual shapes is read again with looser ones: the
    items of its lists, and headings of prose, are its failures (outside summaries and
    sections of non-failures).
    """
    found = _outline(doc, loose=False)
    if any(isinstance(part, UnitPart) for part in found.parts):
        return found
    loose = _outline(doc, loose=True)
    return loose if any(isinstance(part, UnitPart) for part in loose.parts) else found


def _outline(doc: Document, *, loose: bool) -> Outline:
    root = build_tree(doc, lists_as_units=loose)
    title: Block | None = None
    intro = list(root.body)
    top = list(root.children)
    if not root.body and top and top[0].level == 1 and top[0].heading is not None:
        first = top.pop(0)
        title, intro = first.heading, list(first.body)
        top = first.children + top
    parts: list[Part] = []
    context = _Context(numbered_levels=frozenset() if loose else _numbered_levels(top), loose=loose)
    for child in top:
        parts.extend(_walk(doc, child, None, context))
    if title is None or not _IMPROVEMENTS.search(title.title):  # a document titled `Improvements` lists its failures so
        parts = _improvements(parts)
    return Outline(title, intro, parts)


def _numbered_levels(nodes: list[Node]) -> frozenset[int]:
    """The levels of numbered headings, when a document numbers its units (two or more)."""
    levels: list[int] = []
    stack = list(nodes)
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        info, heading = node.info, node.heading
        if info is None or heading is None or not info.numbered or info.kind is SectionKind.summary:
            continue
        if heading_label(heading.title) is None:
            levels.append(node.level)
    return frozenset(levels) if len(levels) >= 2 else frozenset()


@dataclass(frozen=True)
class _Context:
    kind: SectionKind = SectionKind.other
    severity: Impact | None = None
    entry: Kind = Kind.failure
    numbered_levels: frozenset[int] = frozenset()
    """Where a document numbers its units: unnumbered headings elsewhere are not units."""
    loose: bool = False
    """Reading a document that has no unit of the usual shapes (see `outline`)."""
    titled_units: bool = False
    """Inside a heading that groups bold-titled items (`**Missing KMS key**` + its details): they are the units."""


def _walk(doc: Document, node: Node, group: Node | None, ctx: _Context) -> list[Part]:
    if _is_unit(doc, node, ctx):
        own = node.info.entry if node.info is not None else None  # `7) Acceptance criteria`, `Rewrite checklist`
        return [UnitPart(node, group, ctx.severity, own if own is Kind.checklist else ctx.entry)]
    info = node.info
    assert info is not None
    inner = _Context(
        kind=info.kind if info.kind is not SectionKind.other else ctx.kind,
        severity=info.severity if info.kind is SectionKind.severity else ctx.severity,
        entry=info.entry or ctx.entry,
        numbered_levels=ctx.numbered_levels,
        loose=ctx.loose,
        titled_units=_groups_titled(doc, node),
    )
    children: list[Part] = []
    for child in node.children:
        children.extend(_walk(doc, child, node, inner))
    if not any(isinstance(part, UnitPart) for part in children):
        return [SectionPart(node, node.blocks())]
    parts: list[Part] = []
    direct_group = any(isinstance(part, UnitPart) and part.group is node for part in children)
    if node.body or not direct_group:
        parts.append(SectionPart(node, list(node.body)))
    return parts + children


def _prose_unit(doc: Document, node: Node) -> bool:
    """A heading whose own text opens with a paragraph of prose (its lists are then its details)."""
    if any(child.level <= 6 for child in node.children):
        return False
    first = next((block for block in node.body if block.kind in ("paragraph", "text")), None)
    return first is not None and len(doc.text([first]).split()) >= 12


def _groups_titled(doc: Document, node: Node) -> bool:
    """Two or more bold-titled items under a heading whose own text has no failure labels."""
    titled = sum(1 for child in node.children if child.heading is not None and child.heading.titled)
    return titled >= 2 and not _label_fields(doc, node) & _STRONG


_IMPROVEMENTS = re.compile(r"\b(improvements?|enhancements?)\b", re.IGNORECASE)
_DEFECT = re.compile(
    r"\b(missing|no|not|lack(s|ing)?|without|incorrect|wrong|invalid|broken|errors?|fail\w*|hard-?coded|insufficient"
    r"|incomplete|deprecated|unused|overly|excessive|weak|insecure|exposed|conflicts?|mismatch\w*|unsupported|bugs?"
    r"|issues?|problems?|gaps?|violations?|limits?|exceeded|circular|undefined|inconsistent|redundant|duplicate\w*)\b",
    re.IGNORECASE,
)


def _improvements(parts: list[Part]) -> list[Part]:
    """Units listed under `... Improvements` beside failures listed elsewhere: what the fix
    added (observations), unless most of their titles name a defect (`Missing Stack Outputs`).
    A document made only of improvements reports its failures that way."""
    by_group: dict[int, list[UnitPart]] = {}
    others = 0
    for part in parts:
        if not isinstance(part, UnitPart) or part.entry is not Kind.failure:
            continue
        group = part.group
        if group is not None and group.info is not None and _IMPROVEMENTS.search(group.info.title):
            by_group.setdefault(id(group), []).append(part)
        else:
            others += 1
    neutral: set[int] = set()
    for units in by_group.values():
        defects = sum(1 for unit in units if unit.node.info is not None and _DEFECT.search(unit.node.info.title))
        if defects * 2 < len(units):
            neutral.update(id(unit) for unit in units)
    if not others or not neutral:
        return parts
    return [
        replace(part, entry=Kind.observation) if isinstance(part, UnitPart) and id(part) in neutral else part
        for part in parts
    ]


def _is_unit(doc: Document, node: Node, ctx: _Context) -> bool:
    if not _candidate(doc, node, ctx):
        return False
    if node.level <= 6 and _groups_titled(doc, node):
        return False
    if ctx.loose and node.level <= 6 and _prose_unit(doc, node):
        return True
    own = _label_fields(doc, node)
    inner = _Context(
        kind=node.info.kind if node.info else ctx.kind, numbered_levels=ctx.numbered_levels, loose=ctx.loose
    )
    for child in node.children:
        better = child.info is not None and child.info.numbered and _candidate(doc, child, inner)
        if better and (_label_fields(doc, child) & _STRONG or not own & _STRONG):
            return False
    return True


def _candidate(doc: Document, node: Node, ctx: _Context) -> bool:
    info = node.info
    if info is None or node.heading is None or heading_label(node.heading.title) is not None:
        return False
    fields = _label_fields(doc, node)
    strong = len(fields & _STRONG) >= 2 or (Field.impact in fields and bool(fields & _STRONG))
    if info.numbered:
        return (ctx.kind is not SectionKind.summary and info.kind is not SectionKind.summary) or strong
    if info.title.rstrip("*_ ").endswith(":"):
        return False  # `### Lint Errors Fixed:` leads into a list, a recap
    if ctx.titled_units and node.heading.titled:
        listed = node.heading.end - node.heading.start == 1 and not node.body and not node.children
        return (
            ctx.kind in (SectionKind.failures, SectionKind.severity) if listed else ctx.kind is not SectionKind.summary
        )
    if ctx.loose and ctx.entry is Kind.failure and SectionKind.summary not in (ctx.kind, info.kind):
        # a list item, or a heading over prose: the finest unit there is
        return node.level == PSEUDO_LEVEL or _prose_unit(doc, node)
    if ctx.numbered_levels and (node.level not in ctx.numbered_levels or info.kind is SectionKind.summary):
        return False
    if ctx.kind is SectionKind.summary or info.kind is SectionKind.summary or strong:
        return strong
    if info.kind in (SectionKind.severity, SectionKind.success) and not fields:
        return False
    if ctx.kind in (SectionKind.severity, SectionKind.failures, SectionKind.success):
        return not any(_candidate(doc, child, ctx) for child in node.children if child.info)
    return False


def _label_fields(doc: Document, node: Node) -> set[Field]:
    """The failure fields labelled in a section's own text and its label sub-headings."""
    cached = _FIELDS_CACHE.get(node)
    if cached is None:
        cached = _FIELDS_CACHE[node] = _find_label_fields(doc, node)
    return cached


_FIELDS_CACHE: weakref.WeakKeyDictionary[Node, set[Field]] = weakref.WeakKeyDictionary()


def _find_label_fields(doc: Document, node: Node) -> set[Field]:
    found: set[Field] = set()
    for block in node.body:
        found |= _block_fields(doc, block)
    for child in node.children:
        if child.heading is not None:
            label = heading_label(child.heading.title)
            if label is not None and label.field is not None:
                found.add(label.field)
                found |= _label_fields(doc, child)
    return found


def _block_fields(doc: Document, block: Block) -> set[Field]:
    """The failure fields labelled in one block (paragraph lines, list items, embedded content)."""
    found: set[Field] = set()
    if block.kind in ("paragraph", "text"):
        for number in range(block.start, block.end):
            label = match_label(doc.lines[number], allow_unknown=False, allow_plain=number == block.start)
            if label is not None and label.field is not None:
                found.add(label.field)
    elif block.kind == "list":
        for item in block.items:
            label = match_label(strip_list_marker(doc.lines[item.start])[1], allow_unknown=False)
            if label is not None and label.field is not None:
                found.add(label.field)
    elif block.kind == "embedded" and block.inner is not None:
        for inner in block.inner.blocks:
            found |= _block_fields(block.inner, inner)
    return found
