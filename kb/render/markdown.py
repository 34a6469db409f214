"""Safe Markdown building blocks for templates: code fences, inline text, links, diffs.

Records hold two kinds of text. Markdown-valued fields (intro, root cause, ...) are
Markdown already and go out as written (through ``block``, which only trims blank
lines and closes a fence left open). Everything else is data that must not change the
document's structure: code goes through ``fence``, single-line plain text (titles,
labels, list items) through ``inline``. The site reuses these helpers; their names and
signatures are a stable API.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

__all__ = ["block", "code_span", "diff", "fence", "inline", "link"]

_BACKTICKS = re.compile(r"`+")
# Runs of whitespace and backslashes are matched from their start only, so both stay linear.
_LINE_BREAKS = re.compile(r"(?<!\s)\s*[\r\n\u2028\u2029\x0b\x0c\x85]\s*+")
# `<` followed by what makes it a raw HTML tag, comment, declaration, PI or autolink.
_HTML_START = re.compile(r"(?<!\\)(\\*+)<(?=[A-Za-z/!?])")
# Line starts that open a block: a heading, quote, bullet, thematic break, fence,
# setext underline, table row or link reference definition. The first char is escaped.
_BLOCK_START = re.compile(
    r"""^(?:
        \#{1,6}(?:[ \t]|$)          # ATX heading
      | >                           # block quote
      | [-+*](?:[ \t]|$)            # bullet list item
      | ([-*_])(?:[ \t]*\1)*[ \t]*$  # thematic break or setext underline, also after a `- ` bullet
      | `{3,}[^`]*$                 # backtick code fence (its info has no backtick)
      | ~{3,}                       # tilde code fence
      | =+[ \t]*$                   # setext heading underline
      | \|                          # table row
      | \[[^\]]*\]:                 # link reference definition
    )""",
    re.VERBOSE,
)
_ORDERED_ITEM = re.compile(r"^(\d{1,9})([.)])(?=[ \t]|$)")
_LINK_TEXT_SPECIAL = re.compile(r"[\\\[\]]|<(?=[A-Za-z/!?])")
_CLOSING_HASHES = re.compile(r"(^|[ \t])(#+)$")
_FENCE_LINE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
# The raw HTML blocks CommonMark ends only at a closing string (types 1-5), not a blank
# line: unclosed, one runs to the end of the document, hiding every record after it.
_HTML_BLOCK = re.compile(
    r"^( {0,3})<(?:(?i:(script|pre|style|textarea))(?=[\s>]|$)|(!--)|(\?)|(![A-Za-z])|(!\[CDATA\[))"
)
_HTML_BLOCK_END = {2: re.compile(r"(?i:</(?:script|pre|style|textarea)>)"), 3: re.compile("-->"), 4: re.compile(r"\?>")}
_HTML_BLOCK_END |= {5: re.compile(">"), 6: re.compile(r"\]\]>")}


def fence(code: str, language: str | None = None) -> str:
    """Wrap ``code`` in a backtick fence that nothing inside it can close.

    The fence is one backtick longer than the longest backtick run in the code (at least
    three), so a snippet holding a fence of its own (or ``~~~`` lines) stays inside. The
    result ends with the closing fence and no newline. Parsing it back with any
    CommonMark parser gives ``code`` plus one newline (``code`` is kept byte for byte,
    except that CommonMark reads CR and CRLF as line breaks).
    """
    longest = max((len(run) for run in _BACKTICKS.findall(code)), default=0)
    marks = "`" * max(3, longest + 1)
    info = " ".join((language or "").replace("`", "").split())
    return f"{marks}{info}\n{code}\n{marks}"


def code_span(text: str) -> str:
    """``text`` as an inline code span, with delimiters longer than any backtick run in it."""
    text = " ".join(text.splitlines())
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    marks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ")) else ""
    return f"{marks}{pad}{text}{pad}{marks}"


def inline(text: str) -> str:
    """Make single-line plain text safe to place on a Markdown line of its own.

    Line breaks become spaces and surrounding whitespace goes, so the text stays on one
    line. A start that would open a heading, quote, list, thematic break, fence, table or
    link definition is backslash-escaped (``\\#``, ``\\>``, ``\\-``, ``1\\.``, ...); a ``<``
    that would start raw HTML (``<script>``, ``</div>``, ``<!--``) becomes ``\\<``; a
    trailing ``#`` run that a heading would drop is escaped. Inline Markdown (code spans,
    emphasis) is left alone, and ``<`` inside code spans too. Every escape is a standard
    CommonMark backslash escape, so parsers show the original characters.
    """
    text = _LINE_BREAKS.sub(" ", text).strip()
    if not text:
        return ""
    if "<" in text:  # (without one, no tag to escape)
        text = _outside_code_spans(text, lambda part: _HTML_START.sub(_escape_tag_start, part))
    text = "\\" + text if _BLOCK_START.match(text) else _ORDERED_ITEM.sub(r"\1\\\2", text, count=1)
    return _CLOSING_HASHES.sub(lambda m: f"{m[1]}\\{m[2]}", text, count=1)


def link(title: str, url: str) -> str:
    """A Markdown link ``[title](url)`` whose text and address cannot break out of it."""
    text = _LINE_BREAKS.sub(" ", title).strip()
    text = _outside_code_spans(text, lambda part: _LINK_TEXT_SPECIAL.sub(r"\\\g<0>", part))
    return f"[{text}]({_destination(url)})"


def block(text: str) -> str:
    """A Markdown-valued field, as written, made safe to follow with more blocks.

    Leading blank lines and trailing whitespace are dropped (blocks are separated by
    exactly one blank line), a code fence the text leaves open is closed, and a raw HTML
    block the text opens and never closes (`<!--`, `<pre>`, `<script>`, `<?`, `<!X`,
    `<![CDATA[`) has its `<` escaped, so neither can swallow the rest of the document.
    """
    lines = text.rstrip().split("\n")
    first = next((n for n, line in enumerate(lines) if line.strip()), len(lines))
    lines = lines[first:]
    if "```" not in text and "~~~" not in text and "<" not in text:  # (no fence or HTML block to close)
        return "\n".join(lines)
    opened: str | None = None
    last_end: dict[int, int] = {}
    for number, line in enumerate(lines):
        match = _FENCE_LINE.match(line)
        if not match:
            if opened is None and line[:4].lstrip().startswith("<"):
                lines[number] = _unclosed_html_escaped(lines, number, last_end)
            continue
        marks, rest = match[2], match[3]
        if opened is None:
            if not (marks[0] == "`" and "`" in rest):
                opened = marks
        elif marks[0] == opened[0] and len(marks) >= len(opened) and not rest.strip():
            opened = None
    if opened is not None:
        lines.append(opened)
    return "\n".join(lines)


def _unclosed_html_escaped(lines: list[str], number: int, last_end: dict[int, int]) -> str:
    """Line ``number``, its `<` escaped if it opens a raw HTML block the text never closes.

    ``last_end`` remembers, per kind of block, the last line holding its closing string.
    """
    line = lines[number]
    start = _HTML_BLOCK.match(line)
    if start is None:
        return line
    kind = next(group for group in range(2, 7) if start.group(group))
    end = _HTML_BLOCK_END[kind]
    if kind not in last_end:
        last_end[kind] = next((n for n in range(len(lines) - 1, -1, -1) if end.search(lines[n])), -1)
    if end.search(line, start.end()) or last_end[kind] > number:
        return line
    return f"{start.group(1)}\\{line[len(start.group(1)) :]}"


def diff(
    a: str, b: str, *, from_label: str = "MODEL_RESPONSE", to_label: str = "IDEAL_RESPONSE", context: int = 3
) -> str:
    """A unified diff turning ``a`` into ``b`` (empty when they are equal).

    Every line ends with a newline (a missing final newline is not reported), so the
    result can go straight into ``fence(..., "diff")``. Deterministic: no timestamps.
    """
    if a == b:
        return ""
    old = [line + "\n" for line in a.splitlines()]
    new = [line + "\n" for line in b.splitlines()]
    lines = difflib.unified_diff(old, new, fromfile=from_label, tofile=to_label, n=context, lineterm="\n")
    return "".join(lines).rstrip("\n")


def _outside_code_spans(text: str, escape: Callable[[str], str]) -> str:
    """Apply ``escape`` to the parts of ``text`` that are not inline code spans."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        tick = text.find("`", pos)
        end = len(text) if tick < 0 else tick
        out.append(escape(text[pos:end]))
        if tick < 0:
            break
        if (tick - len(text[:tick].rstrip("\\"))) % 2:  # a backslash-escaped backtick is plain text
            out.append("`")
            pos = tick + 1
            continue
        run = _BACKTICKS.match(text, tick)
        assert run is not None
        closer = _find_closing_run(text, run.end(), len(run[0]))
        stop = closer if closer is not None else run.end()
        out.append(text[tick:stop])
        pos = stop
    return "".join(out)


def _escape_tag_start(match: re.Match[str]) -> str:
    """``<`` -> ``\\<``, unless an odd run of backslashes already escapes it."""
    slashes = match[1]
    return f"{slashes}<" if len(slashes) % 2 else f"{slashes}\\<"


def _find_closing_run(text: str, start: int, length: int) -> int | None:
    """The end of the next backtick run of exactly ``length`` after ``start`` (a code span's end)."""
    for match in _BACKTICKS.finditer(text, start):
        if len(match[0]) == length:
            return match.end()
    return None


def _destination(url: str) -> str:
    """A link destination: parentheses escaped unless balanced, spaces and angle brackets encoded."""
    for char, code in ((" ", "%20"), ("<", "%3C"), (">", "%3E"), ("\\", "%5C")):
        url = url.replace(char, code)
    depth = 0
    for char in url:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        url = url.replace("(", "\\(").replace(")", "\\)")
    return url
