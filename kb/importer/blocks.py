"""Split a Markdown document into top-level blocks with markdown-it-py, keeping every line.

Only markdown-it's block rules run (inline parsing is switched off: nothing here needs
it, and it is most of the parse time). Each block keeps its line range, so any part of
the document can be given back verbatim; lines markdown-it leaves out of every block
(e.g. link reference definitions) become ``text`` blocks, so no line is ever lost.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import accumulate
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

try:  # the Rust port of markdown-it: the same block structure, about 8x faster
    from markdown_it_pyrs import MarkdownIt as _RustMarkdownIt
except ImportError:  # pragma: no cover - an install without the wheel parses with markdown-it-py
    _RustMarkdownIt = None  # type: ignore[assignment,misc]

_KINDS = {
    "paragraph_open": "paragraph",
    "heading_open": "heading",
    "fence": "fence",
    "code_block": "code",
    "bullet_list_open": "list",
    "ordered_list_open": "list",
    "blockquote_open": "quote",
    "hr": "hr",
    "html_block": "html",
    "table_open": "table",
}
_ATX_WITHOUT_SPACE = re.compile(r"^(#{2,6})([^\s#].*)$")
_PLAIN_LINE = re.compile(r"^[A-Za-z(\[\"'][^\n]*$")


@dataclass(frozen=True)
class Item:
    """One item of a top-level list: its line range and marker."""

    start: int
    end: int
    marker: str


@dataclass(frozen=True)
class Block:
    """One top-level block of a document, by line range (0-based, end exclusive)."""

    kind: str
    start: int
    end: int
    level: int = 0
    """Heading level (1-6), 0 for other blocks."""
    title: str = ""
    """A heading's text, without the ``#`` markers."""
    info: str = ""
    """A fence's info string."""
    code: str = ""
    """A fence's content (without the fences)."""
    closed: bool = True
    """False for a fence that runs to the end of the document."""
    ordered: bool = False
    items: tuple[Item, ...] = ()
    head: str | None = None
    """Replaces the first line's text (the rest of a line after a label)."""
    inner: Document | None = None
    """For an ``embedded`` block (a list item used as a failure unit): its content, dedented and parsed."""
    titled: bool = False
    """For a heading made of a bold line or a bold list item with content under it (`**Title**`)."""


@dataclass
class Document:
    """A document's lines and its top-level blocks in order."""

    lines: list[str]
    blocks: list[Block] = field(default_factory=list)

    def text(self, blocks: list[Block] | tuple[Block, ...]) -> str:
        """The verbatim source of consecutive blocks (blank lines between them kept)."""
        if not blocks:
            return ""
        first, last = blocks[0], blocks[-1]
        lines = self.lines[first.start : last.end]
        if first.head is not None and lines:
            lines = [first.head, *lines[1:]]
        return "\n".join(lines).strip("\n")

    def line_range(self, start: int, end: int) -> str:
        return "\n".join(self.lines[start:end]).strip("\n")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark")
    md.disable(["inline", "text_join"])
    return md


_RUST_KINDS = {
    "paragraph": "paragraph",
    "heading": "heading",
    "lheading": "heading",
    "fence": "fence",
    "code_block": "code",
    "bullet_list": "list",
    "ordered_list": "list",
    "blockquote": "quote",
    "hr": "hr",
    "html_block": "html",
}
_RUST_UNSURE_CHARS = re.compile("[\t\r\x00\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_RUST_UNSURE_QUOTE = re.compile(r"^[ ]*(?:(?:[-+*]|\d{1,9}[.)])[ ]+)*>", re.MULTILINE)
"""What the two parsers may read differently, found by parsing the CommonMark spec's
examples and fixtures and many thousands of random mixes of them with both: tabs, odd line
ends, NUL and the spaces only Python's regular expressions count as spaces (`<a href="x">`
then U+001C is an HTML block to markdown-it-py); link reference definitions (a title over
several lines); block quotes (a lazy line that looks like a list item); a fence left open by
a last line of spaces. A text with any of them is parsed by markdown-it-py (1 in 40 of the
texts an import of the corpus parses)."""


def _rust_unsure(text: str) -> bool:
    """Whether ``text`` has something the Rust parser may read differently (see above)."""
    return (
        "]:" in text
        or text.endswith(" ")
        or bool(_RUST_UNSURE_CHARS.search(text))
        or (">" in text and bool(_RUST_UNSURE_QUOTE.search(text)))
    )


@lru_cache(maxsize=1)
def _rust_parser() -> Any:
    """The Rust parser with markdown-it-py's CommonMark block rules only (no inline rules)."""
    if _RustMarkdownIt is None:
        return None
    return _RustMarkdownIt("zero").enable_many(
        ["blockquote", "code", "fence", "heading", "hr", "lheading", "list", "paragraph", "reference", "html_block"]
    )


def parse_blocks(text: str, *, rust: bool = True) -> Document:
    """Parse ``text`` (LF line ends) into its top-level blocks."""
    lines = text.split("\n")
    if len(lines) == 1 and _PLAIN_LINE.match(text):
        return Document(lines, [Block("paragraph", 0, 1)])  # the common one-line case, without a parse
    if not text.strip():
        return Document(lines, [])
    if rust and _rust_parser() is not None and not _rust_unsure(text):
        try:
            starts = _line_starts(text, lines)
        except UnicodeEncodeError:  # a lone surrogate
            pass
        else:
            return Document(lines, _rust_blocks(text, lines, starts))
    tokens = _parser().parse(text)
    spans = (
        (token.map[0], token.map[1], partial(_make, token, tokens, index, lines, *token.map))
        for index, token in enumerate(tokens)
        if token.level == 0 and token.map is not None and token.type in _KINDS
    )
    return Document(lines, _tile(lines, spans))


def _tile(lines: list[str], spans: Iterable[tuple[int, int, Callable[[], list[Block]]]]) -> list[Block]:
    """The blocks of top-level spans in order: a span inside the previous one is skipped (its
    blocks never made), and the lines no span covers become blocks of their own."""
    blocks: list[Block] = []
    covered = 0
    for start, end, make in spans:
        if start < covered:
            continue
        if start > covered:
            blocks.extend(_uncovered(lines, covered, start))
        blocks.extend(make())
        covered = end
    if covered < len(lines):
        blocks.extend(_uncovered(lines, covered, len(lines)))
    return blocks


def _line_starts(text: str, lines: list[str]) -> list[int]:
    """The UTF-8 byte offset of each line (the Rust parser's source maps count bytes)."""
    sizes = map(len, lines) if text.isascii() else (len(line.encode("utf-8")) for line in lines)
    return [0, *accumulate(size + 1 for size in sizes)]


def _rust_blocks(text: str, lines: list[str], starts: list[int]) -> list[Block]:
    """The blocks of the Rust parser's tree, made as `_make` makes them from markdown-it-py's tokens."""

    def spans() -> Iterator[tuple[int, int, Callable[[], list[Block]]]]:
        for node in _rust_parser().tree(text).children:
            kind = _RUST_KINDS.get(node.name)
            if kind is None or node.srcmap is None:
                continue
            first, last = node.srcmap
            start = bisect_right(starts, first) - 1
            end = bisect_right(starts, max(first, last - 1))
            yield start, end, partial(_make_rust, node, kind, lines, starts, start, end)

    return _tile(lines, spans())


def _make_rust(node: Any, kind: str, lines: list[str], starts: list[int], start: int, end: int) -> list[Block]:
    end = _trim_blank(lines, start, end)
    if kind == "heading":
        if node.name == "lheading" and node.meta.get("marker") == "-":
            return [Block("paragraph", start, end - 1), Block("hr", end - 1, end)]
        title = "".join(child.meta.get("content", "") for child in node.children)
        return [Block("heading", start, end, level=node.meta["level"], title=title.strip())]
    if kind == "paragraph" and end - start == 1:
        match = _ATX_WITHOUT_SPACE.match(lines[start])
        if match:
            return [Block("heading", start, end, level=len(match[1]), title=match[2].strip())]
    if kind == "fence":
        markup = node.meta["marker"] * node.meta["marker_len"]
        return [
            Block(
                "fence",
                start,
                end,
                info=node.meta.get("info", "").strip(),
                code=node.meta.get("content", "").removesuffix("\n"),
                closed=_closes(lines[end - 1], markup) and end - start > 1,
            )
        ]
    if kind == "list":
        marker = node.meta["marker"]
        items = []
        for item in node.children:
            if item.name != "list_item" or item.srcmap is None:
                continue
            first, last = item.srcmap
            item_start = bisect_right(starts, first) - 1
            item_end = bisect_right(starts, max(first, last - 1))
            items.append(Item(item_start, _trim_blank(lines, item_start, item_end), marker))
        return [Block("list", start, end, ordered=node.name == "ordered_list", items=tuple(items))]
    return [Block(kind, start, end)]


def _uncovered(lines: list[str], start: int, end: int) -> list[Block]:
    """Lines no block holds: each run of non-blank lines becomes a ``text`` block."""
    out: list[Block] = []
    run_start: int | None = None
    for number in range(start, end):
        if lines[number].strip():
            if run_start is None:
                run_start = number
        elif run_start is not None:
            out.append(Block("text", run_start, number))
            run_start = None
    if run_start is not None:
        out.append(Block("text", run_start, end))
    return out


def _make(token: Token, tokens: list[Token], index: int, lines: list[str], start: int, end: int) -> list[Block]:
    kind = _KINDS[token.type]
    end = _trim_blank(lines, start, end)
    if kind == "heading":
        title = tokens[index + 1].content if index + 1 < len(tokens) else ""
        if token.markup == "-":
            # `text` + `---` is a setext heading to CommonMark, but in these documents it is
            # nearly always a paragraph followed by a rule: read it that way.
            return [Block("paragraph", start, end - 1), Block("hr", end - 1, end)]
        return [Block("heading", start, end, level=int(token.tag[1]), title=title.strip())]
    if kind == "paragraph" and end - start == 1:
        match = _ATX_WITHOUT_SPACE.match(lines[start])
        if match:
            return [Block("heading", start, end, level=len(match[1]), title=match[2].strip())]
    if kind == "fence":
        return [
            Block(
                "fence",
                start,
                end,
                info=token.info.strip(),
                code=token.content.removesuffix("\n"),
                closed=_closes(lines[end - 1], token.markup) and end - start > 1,
            )
        ]
    if kind == "list":
        return [
            Block("list", start, end, ordered=token.type == "ordered_list_open", items=_items(tokens, index, lines))
        ]
    return [Block(kind, start, end)]


def _trim_blank(lines: list[str], start: int, end: int) -> int:
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def _closes(line: str, markup: str) -> bool:
    stripped = line.strip()
    return bool(markup) and stripped.startswith(markup) and set(stripped) == {markup[0]}


def _items(tokens: list[Token], index: int, lines: list[str]) -> tuple[Item, ...]:
    items: list[Item] = []
    for token in tokens[index + 1 :]:
        if token.level == 0:
            break
        if token.type == "list_item_open" and token.level == 1 and token.map is not None:
            start, end = token.map
            items.append(Item(start, _trim_blank(lines, start, end), token.markup))
    return tuple(items)


_TABLE_RULE = re.compile(r"^\s*+(?:\|\s*+)?:?-{3,}")


def table_rows(doc: Document, block: Block) -> bool:
    """A GitHub table (the parser reads it as a paragraph): a `| a | b |` header over
    `|---|---|` and at least one row."""
    return (
        block.kind in ("paragraph", "table")
        and block.end - block.start >= 3
        and doc.lines[block.start].lstrip().startswith("|")
        and bool(_TABLE_RULE.match(doc.lines[block.start + 1]))
    )


def table_cells(line: str) -> list[str]:
    """The cells of one table row, stripped."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def dedent(line: str, indent: int) -> str:
    """Remove up to ``indent`` leading spaces (a list item's continuation lines)."""
    stripped = len(line) - len(line.lstrip(" "))
    return line[min(indent, stripped) :]
