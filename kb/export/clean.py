"""Clean code and documents before they become training rows, or say why a row must go.

Reviewers annotate the code they quote (`// ❌ RESERVED KEY`, `# WRONG:`, `✅ FIXED`); left
in, the annotations give the answer away. They live in comments, so removing the comment
never changes the program: ``clean_code`` removes annotation comments, and refuses the
snippet (returns a reason) when a marker sits in the code itself. It also refuses
placeholders (`...`, `# ... other configuration ...`), fragments under a minimum of lines
and snippets that a parser at hand (JSON, YAML, Python, HCL when `python-hcl2` is
installed) rejects.

``clean_document`` does the same for a whole Markdown answer (MODEL_RESPONSE.md,
IDEAL_RESPONSE.md): code blocks as above; in prose, marker symbols are dropped and any
section, paragraph or list item that talks about the task's other documents
(MODEL_RESPONSE, IDEAL_RESPONSE, MODEL_FAILURES, QA) is removed, and so is a code block
that copies one of them. ``neutral_names`` instead renames those documents in prose that
explains a failure ("the model's response"), whose quotes that leave code out are fenced
as excerpts. ``elides_code`` is the one test of a placeholder in an exported answer.

Every pattern is linear: no nested quantifiers, each line scanned once.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from dataclasses import dataclass
from typing import Any

import yaml

from kb.names import normalise_language

MARKS = "\u274c\u2705\u2714\u2713\u2717\u2718\u26a0\U0001f6ab\u26d4\U0001f449\U0001f534\U0001f7e2\U0001f7e1\u2757\u274e"
"""Symbols reviewers mark code with: ❌ ✅ ✔ ✓ ✗ ✘ ⚠ 🚫 ⛔ 👉 🔴 🟢 🟡 ❗ ❎."""
_MARK = re.compile(f"[{MARKS}]\ufe0f?")


def has_mark(text: str) -> bool:
    """True when ``text`` holds a marker symbol (never in ASCII text, which `str` knows at no cost)."""
    return not text.isascii() and _MARK.search(text) is not None


_MARK_SPACED = re.compile(f"[{MARKS}]\ufe0f? ?")
_MARK_WORD = re.compile(
    r"\b(?:WRONG|INCORRECT|CORRECT(?:ED|ION)?|FIX(?:ED|ES)?|BAD|GOOD|BUG|ISSUE|PROBLEM|MISSING|BROKEN|"
    r"CHANGED|ADDED|REMOVED|BEFORE|AFTER|INSECURE|VULNERABLE)\b"
)
"""Upper-case verdict words: in a comment, the reviewer speaking."""
_MARK_LEAD = re.compile(
    r"^\W*(?:wrong|incorrect|correct(?:ed)?|fix(?:ed)?|bad|good|bug|issue|problem|missing|before|after|"
    r"changed|added|removed|broken)\b\s*[:\-\u2013\u2014!(]",
    re.IGNORECASE,
)
"""A comment opening with a verdict and a colon or dash (`# Fixed: ...`, `// Wrong - ...`)."""
_VERDICT = re.compile(
    r"\b(?:missing|overly|too (?:permissive|broad|open)|hard-?coded|insecure|incorrect(?:ly)?|wrong(?:ly)?|"
    r"should(?:n't| not)? (?:be|have|use|include)|instead of|vulnerab\w*|the model|model's|ideal|"
    r"(?:now|was|were|is) (?:fixed|corrected|missing|wrong)|not (?:encrypted|restricted|validated|set|defined)|"
    r"inconsistent|lines? \d+(?: ?[-\u2013] ?\d+)?)\b",
    re.IGNORECASE,
)
"""Words of a review, anywhere in a comment (`# Overly permissive`, `// Missing encryption`):
removing such a comment costs at most a comment, never code."""
_REFERENCE = re.compile(r"\b(?:MODEL_RESPONSE|IDEAL_RESPONSE|MODEL_FAILURES?)\b|\bQA\b")
"""Names of the task's other documents (and the QA process behind them)."""
_VERDICT_ASIDE = re.compile(
    r"(?<!\s)\s*+[(\[][^()\[\]\n]{0,80}\b(?i:corrected|fixed|validated|improved|updated|production[- ]ready)\b[^()\[\]\n]{0,80}[)\]]"
)
"""A title's verdict aside: `(CORRECTED)`, `(FIXED & Validated)`, `[Production-Ready]`."""
_COMPARISON = re.compile(
    r"\b(?:over|from|vs\.?|versus|compared (?:to|with)|than) (?:the )?(?:original|previous|initial|model)\b",
    re.IGNORECASE,
)
"""A heading comparing the answer with the model's ("Key Improvements Over Original")."""
_DOCUMENT_NAME = re.compile(r"\b(?:MODEL_RESPONSE|IDEAL_RESPONSE|MODEL_FAILURES?)\b")
_MODEL_NAME = re.compile(r"\b(?:(?:[Tt]he|[Tt]his|[Oo]riginal) {1,3}){0,2}MODEL_RESPONSE(?:\.md)?\b")
_IDEAL_NAME = re.compile(r"\b(?:(?:[Tt]he|[Tt]his) {1,3}){0,2}IDEAL_RESPONSE(?:\.md)?\b")
_TITLE_NAME = re.compile(r"\b(?:MODEL_RESPONSE|IDEAL_RESPONSE|MODEL_FAILURES?)(?:\.md)?\b\s*[-\u2013\u2014:]?\s*")
_FAILURES_NAME = re.compile(r"\b(?:(?:[Tt]he|[Tt]his) {1,3}){0,2}MODEL_FAILURES?(?:\.md)?\b")

_PLACEHOLDER_LINE = re.compile(r"^\s*(?:(?:#|//|/\*|<!--|--|\*)\s*)?(?:\.\.\.|\u2026)(?:\s.*)?$")
_PLACEHOLDER_INLINE = re.compile(
    r"[\[{(,]\s*(?:\.\.\.|\u2026)\s*[\]}),]|[:=]\s*(?:\.\.\.|\u2026)[,;\s]*$|^\s*(?:\.\.\.|\u2026)\s*[\]}),]"
)
_ELIDED = (
    r"\b(?:rest of (?:the )?(?:code|file|implementation|config\w*|resources|stack|tests?)|"
    r"remains? (?:the )?same|same as (?:before|above)|for brevity|see (?:the )?full file|omitted here|content omitted|"
    r"(?:code|config\w*|implementation) continues)\b"
)
_PLACEHOLDER_COMMENT = re.compile(r"(?<!\w\()(?:\.\.\.|\u2026)[\s\])*/]{0,3}$|" + _ELIDED, re.IGNORECASE)
"""A comment standing for code left out: ending in `...`, or `rest of the code`, `remains the same`...
Not a call's elided arguments (`# policy = LogDataProtectionPolicy(...)`): commented-out code
runs no code, so its elision leaves none out."""

NOT_CODE = frozenset({"", "text", "txt", "console", "log", "output", "plaintext", "diff", "markdown", "md", "none"})
"""Fence languages that hold no program (diagrams, output, prose)."""
_HASH = frozenset(
    {"py", "yaml", "hcl", "bash", "sh", "shell", "ruby", "rb", "toml", "dockerfile", "make", "ini", "conf"}
)
_SLASH = frozenset({"ts", "js", "java", "go", "cs", "kotlin", "scala", "rust", "c", "cpp", "swift", "json", "hcl"})
_DASH = frozenset({"sql", "lua"})
_STRING_QUOTES = "\"'`"


# -- comments -------------------------------------------------------------------------------


def comment_tokens(language: str) -> tuple[str, ...]:
    """The line-comment starters of a language (both `#` and `//` when it is unknown)."""
    family = normalise_language(language) if language.strip() else ""
    tokens = []
    if family in _HASH:
        tokens.append("#")
    if family in _SLASH:
        tokens += ["//", "/*"]
    if family in _DASH:
        tokens.append("--")
    if family in {"html", "xml", "markdown", "md"}:
        tokens.append("<!--")
    return tuple(tokens) or ("#", "//", "/*")


_STRING = r"\"(?:[^\"\\\n]|\\.)*\"?|'(?:[^'\\\n]|\\.)*'?|`(?:[^`\\\n]|\\.)*`?"
_STARTS = {"#": r"#(?=[ \t#!\-=*]|$)", "//": "//", "/*": r"/\*", "--": "--", "<!--": "<!--"}
_SCANNERS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _scanner(tokens: tuple[str, ...]) -> re.Pattern[str]:
    """Strings, and comment starters at the start of a line or after a space (so `http://`,
    `a#b` and `#private` fields stay code)."""
    if tokens not in _SCANNERS:
        starts = "|".join(_STARTS[t] for t in tokens)
        _SCANNERS[tokens] = re.compile(f"(?P<s>{_STRING})|(?:^|(?<=[ \t]))(?P<c>{starts})")
    return _SCANNERS[tokens]


def split_comment(line: str, tokens: tuple[str, ...]) -> tuple[str, str]:
    """``line`` as (code, comment): the comment starts at a token outside quotes."""
    if not any(t[0] in line for t in tokens):
        return line, ""
    for match in _scanner(tokens).finditer(line):
        if match.group("c") is not None:
            return line[: match.start()], line[match.start() :]
    return line, ""


_STRINGS = re.compile(_STRING)


def _in_strings(line: str) -> str:
    """The parts of ``line`` outside quoted strings (a marker inside a string is program text)."""
    return _STRINGS.sub("", line) if any(q in line for q in _STRING_QUOTES) else line


_COMMENT_START = re.compile(r"^[#/*<!\-\s]+")


def is_annotation(comment: str) -> bool:
    """True for a reviewer's comment: a marker symbol, a verdict word, or a document reference."""
    body = _COMMENT_START.sub("", comment)
    return bool(
        has_mark(body)
        or _MARK_WORD.search(body)
        or _MARK_LEAD.match(body)
        or _VERDICT.search(body)
        or _REFERENCE.search(body)
    )


def without_comments(code: str, language: str) -> str:
    """The code with every line comment removed and blank lines dropped (to compare two snippets)."""
    tokens = comment_tokens(language)
    lines = (split_comment(line, tokens)[0].rstrip() for line in code.splitlines())
    return "\n".join(line for line in lines if line.strip())


# -- code -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cleaned:
    """A snippet with its annotations removed, or the reason it cannot be used."""

    code: str
    reason: str | None = None


_DOCUMENT_NEEDLES = ("_RESPONSE", "MODEL_FAILURE")
_ELISION_NEEDLES = ("...", "\u2026")


def _lines_holding(text: str, needles: tuple[str, ...], *, marks: bool = False) -> list[int]:
    """The numbers of the lines of ``text`` (split at newlines) holding one of ``needles`` or
    (``marks``) a marker symbol, in order: what makes a line worth a closer look (most lines of
    code hold none). Each needle is found in the whole text with `str.find`, several times faster
    than one `re` alternation of them."""
    found = set()
    for needle in needles:
        at = text.find(needle)
        while at >= 0:
            found.add(at)
            at = text.find(needle, at + 1)
    if marks and not text.isascii():
        found.update(match.start() for match in _MARK.finditer(text))
    numbers: list[int] = []
    number, counted = 0, 0  # the line of ``counted``
    for at in sorted(found):
        number += text.count("\n", counted, at)
        counted = at
        if not numbers or numbers[-1] != number:
            numbers.append(number)
    return numbers


def strip_annotations(code: str, language: str, *, keep_marks: bool = False) -> Cleaned:
    """Remove annotation comments; refuse the code when a marker or a document name is in the code itself.

    ``keep_marks`` lets marker symbols outside comments stand: in a whole program (not a
    reviewer's excerpt) they are the program's own text (`<span>✅ Running</span>` in a heredoc).
    """
    tokens = comment_tokens(language)
    lines = code.split("\n")
    suspects = _lines_holding(code, (*tokens, *_DOCUMENT_NEEDLES), marks=True)
    if not suspects:
        return Cleaned(code.strip("\n"))
    marks = has_mark(code)
    annotations: set[int] = set()  # whole-line annotations
    for number in suspects:
        body, comment = split_comment(lines[number], tokens)
        if comment and is_annotation(comment):
            if body.strip():
                lines[number] = body.rstrip()
            else:
                annotations.add(number)
        if not keep_marks and marks and has_mark(_in_strings(body)):
            return Cleaned(code, "annotation in the code itself")
        if _DOCUMENT_NAME.search(body):
            return Cleaned(code, "names MODEL_RESPONSE/IDEAL_RESPONSE in code")
    return Cleaned("\n".join(line for n, line in enumerate(lines) if n not in annotations).strip("\n"))


def has_placeholder(code: str, language: str) -> bool:
    """True when the code elides part of itself (`...`, `# ... other configuration ...`, `{...}`)."""
    tokens = comment_tokens(language)
    lines = code.split("\n")
    for number in _lines_holding(code, (*_ELISION_NEEDLES, *tokens)):
        line = lines[number]
        dots = "..." in line or "\u2026" in line
        if dots and _PLACEHOLDER_LINE.match(line):
            return True
        body, comment = split_comment(line, tokens)
        if dots and _PLACEHOLDER_INLINE.search(_in_strings(body)):
            return True
        if comment and _PLACEHOLDER_COMMENT.search(comment):
            return True
    return False


def _hcl_parser() -> Any:
    try:
        import hcl2  # type: ignore[import-not-found]  # optional: `pip install python-hcl2`
    except ImportError:
        return None
    return hcl2


def parse_problem(code: str, language: str) -> str | None:
    """The parser that rejects the code (`json`, `yaml`, `python`, `hcl`), or None when it parses or no parser applies."""
    family = normalise_language(language) if language.strip() else ""
    try:
        if family == "json":
            json.loads(code)
        elif family == "yaml":
            for _ in yaml.parse(code, Loader=yaml.CSafeLoader):  # syntax only: events, no objects built
                pass
        elif family == "py":
            ast.parse(textwrap.dedent(code))
        elif family == "hcl" and (hcl2 := _hcl_parser()) is not None:
            hcl2.loads(code)
        else:
            return None
    except (ValueError, yaml.YAMLError, SyntaxError, RecursionError, MemoryError):
        return {"py": "python"}.get(family, family)
    except Exception:
        return family
    return None


def clean_code(code: str, language: str, *, min_lines: int = 1) -> Cleaned:
    """``strip_annotations``, then refuse placeholders, fragments under ``min_lines`` and code that does not parse."""
    cleaned = strip_annotations(code, language)
    if cleaned.reason:
        return cleaned
    if has_placeholder(cleaned.code, language):
        return Cleaned(cleaned.code, "placeholder in code")
    if sum(1 for line in cleaned.code.splitlines() if line.strip()) < min_lines:
        return Cleaned(cleaned.code, "fragment under the minimum lines")
    if parser := parse_problem(cleaned.code, language):
        return Cleaned(cleaned.code, f"does not parse ({parser})")
    return cleaned


# -- prose ----------------------------------------------------------------------------------


def strip_marks(text: str) -> str:
    """Prose without marker symbols (`- ✅ Encrypted` -> `- Encrypted`)."""
    if not has_mark(text):
        return text
    return "\n".join(_MARK_SPACED.sub("", line).rstrip() for line in text.split("\n"))


def _capital(match: re.Match[str], name: str) -> str:
    """``name`` capitalised where the match opens a sentence (or was `The ...`)."""
    before = match.string[: match.start()].rstrip(" \t*_`")
    opens = not before or before.endswith((".", "!", "?", ":", "\n", "#", "-"))
    return name[0].upper() + name[1:] if opens or match.group(0)[:1] in "TO" else name


def neutral_names(text: str) -> str:
    """Prose naming the task's documents made plain: MODEL_RESPONSE -> "the model's response", ..."""
    if not _DOCUMENT_NAME.search(text):
        return text
    text = _MODEL_NAME.sub(lambda m: _capital(m, "the model's response"), text)
    text = _IDEAL_NAME.sub(lambda m: _capital(m, "the corrected response"), text)
    return _FAILURES_NAME.sub(lambda m: _capital(m, "the failure analysis"), text)


def has_reference(text: str) -> bool:
    return bool(_REFERENCE.search(text))


# -- documents ------------------------------------------------------------------------------

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s")


@dataclass(frozen=True)
class Block:
    """A part of a Markdown document: a fenced code block, a heading, or a prose paragraph."""

    kind: str
    """`code`, `heading` or `prose`."""
    text: str
    """The whole block; for code, the code between the fences."""
    language: str = ""
    level: int = 0
    fences: tuple[str, str] = ("", "")
    """A code block's opening and closing fence lines (the closing one made up when missing)."""


def _closing(text: str, marker: str, start: int) -> int:
    """Where the first line from ``start`` (a line's start) whose stripped text opens with the fence
    ``marker`` starts, or -1: the marker found with `str.find` (lines of code hold it rarely)."""
    at = text.find(marker, start)
    while at >= 0:
        newline = text.rfind("\n", start, at)
        line = start if newline < 0 else newline + 1
        if not text[line:at].strip():
            return line
        at = text.find(marker, at + 1)
    return -1


def blocks(text: str) -> list[Block]:
    """A Markdown document cut into code blocks, headings and paragraphs (blank lines separate them)."""
    out: list[Block] = []
    lines = text.split("\n")
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append(Block("prose", "\n".join(paragraph)))
            paragraph.clear()

    i, at = 0, 0  # the line and where it starts in ``text``
    while i < len(lines):
        line = lines[i]
        first = line.lstrip(" \t")[:1]
        fence = _FENCE.match(line) if first in ("`", "~") else None
        if fence:
            flush()
            marker = fence.group(1)
            body = at + len(line) + 1
            found = _closing(text, marker, body)
            end = i + 1 + text.count("\n", body, found) if found >= 0 else len(lines)
            closing = lines[end] if end < len(lines) else line[: fence.start(1)] + marker
            code = text[body : found - 1] if found >= 0 else text[body:]  # the lines between the fences
            out.append(Block("code", code, fence.group(2), fences=(line, closing)))
            if found < 0:
                break
            at = found + len(closing) + 1
            i = end + 1
            continue
        heading = _HEADING.match(line) if first == "#" else None
        if heading:
            flush()
            out.append(Block("heading", line, level=len(heading.group(1))))
        elif line.strip():
            paragraph.append(line)
        else:
            flush()
        at += len(line) + 1
        i += 1
    flush()
    return out


@dataclass(frozen=True)
class CleanedDocument:
    text: str
    reason: str | None = None


_COPY_HEADER = re.compile(
    r"^[ \t]*(?:#|//|/\*|<!--|--)[^\n]*\b(?:PROMPT|MODEL_RESPONSE|IDEAL_RESPONSE|MODEL_FAILURES?)\.md\b"
)
"""A code block's first line naming one of the task's documents (`# lib/MODEL_RESPONSE.md (excerpt)`):
the block is a copy of that document, not part of the answer."""

EXCERPT = "excerpt"
"""The fence word that marks a code block of an analysis as a quoted excerpt (```` ```ts excerpt ````)."""


def is_copy(block: Block) -> bool:
    """True for a code block that opens by naming another of the task's documents (a copy of it)."""
    first = next((line for line in block.text.split("\n") if line.strip()), "")
    return bool(_COPY_HEADER.match(first))


def is_excerpt(block: Block) -> bool:
    return EXCERPT in block.fences[0].split()[1:]


def elides_code(text: str) -> bool:
    """True when a code block of a Markdown answer leaves code out (``has_placeholder``) and is not
    marked as an excerpt: what an exported answer must not hold (the exporter's and the quality
    benchmark's one test; an elision in prose or in output is no code left out)."""
    return any(
        b.kind == "code"
        and b.language.lower() not in NOT_CODE
        and not is_excerpt(b)
        and has_placeholder(b.text, b.language)
        for b in blocks(text)
    )


def clean_document(text: str, *, check_code: bool, references: str = "drop") -> CleanedDocument:
    """A Markdown answer cleaned: annotation comments out of its code, marks out of its prose,
    sections and paragraphs that name the other documents removed (``references="drop"``) or
    the names made plain (``"rename"``: for an analysis, which is about those documents, and
    whose code blocks are quotes: one that leaves code out is marked ``EXCERPT`` on its fence).
    An answer's code block that opens by naming another task document is a copy of it: removed.

    Marker symbols in a program's own strings and heredocs stay (they are its output).
    ``check_code`` also refuses the document when a code block holds a placeholder or does
    not parse (for the preferred answer, which must be complete and valid).
    """
    kept: list[str] = []
    skip_level = 0
    for block in blocks(text):
        if references == "rename" and block.kind in ("heading", "prose"):
            kept.append(neutral_names(strip_marks(block.text)))
        elif block.kind == "heading":
            if skip_level and block.level > skip_level:
                continue
            skip_level = 0
            heading = _VERDICT_ASIDE.sub("", block.text)
            if block.level == 1:  # the document's title: `# IDEAL_RESPONSE - VPC stack` -> `# VPC stack`
                title = _TITLE_NAME.sub("", heading)
                if title.strip("# \t"):
                    kept.append(strip_marks(title))
            elif has_reference(heading) or _COMPARISON.search(heading) or _MARK_WORD.search(heading):
                skip_level = block.level  # about the other documents ("Changes from MODEL_RESPONSE"), or a verdict
            else:
                kept.append(strip_marks(heading))
        elif skip_level:
            continue
        elif block.kind == "prose":
            if not has_reference(block.text):
                kept.append(strip_marks(block.text))
        elif references == "drop" and is_copy(block):
            continue  # the task's prompt or another response, pasted in: not the answer
        elif block.language.lower() in NOT_CODE:  # a diagram or output: its lines are prose
            lines = (strip_marks(line) for line in block.text.split("\n") if not has_reference(line))
            kept.append("\n".join((block.fences[0], *lines, block.fences[1])))
        else:
            cleaned = strip_annotations(block.text, block.language, keep_marks=True)
            if cleaned.reason:
                return CleanedDocument(text, cleaned.reason)
            if check_code and has_placeholder(cleaned.code, block.language):
                return CleanedDocument(text, "placeholder in code")
            if check_code and (parser := parse_problem(cleaned.code, block.language)):
                return CleanedDocument(text, f"does not parse ({parser})")
            opening = block.fences[0]
            if references == "rename" and not is_excerpt(block) and has_placeholder(cleaned.code, block.language):
                opening = f"{opening.rstrip()} {EXCERPT}"  # a reviewer's quote that leaves code out says so
            kept.append("\n".join((opening, cleaned.code, block.fences[1])))
    return CleanedDocument("\n\n".join(part for part in kept if part.strip()).strip() + "\n")
