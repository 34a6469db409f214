"""Code a failure's prose shows, put where it belongs: the model's snippet and the fix.

Documents show the faulty and the corrected code in many ways besides the labels the
importer maps: two blocks under one label, `Before`/`After` or `Wrong`/`Correct`
lead-ins, `// ❌` and `// ✅` comments, both halves in one block. Each block's role is
read from the line that leads into it and from its own first comment; a block whose
halves are marked is split in two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Role = Literal["model", "fix"]

_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
_LANGUAGE = re.compile(r"^[\w+#.-]{1,30}$")
_MODEL = re.compile(
    r"\b(wrong|incorrect|before|original|model(_response)?|model's|problem(atic)?|bad|current(ly)?|broken"
    r"|fail(s|ed|ing)?|invalid|deprecated|vulnerable|insecure|anti-?pattern|generated|issue|buggy|avoid)\b|❌|🔴|✗",
    re.IGNORECASE,
)
_FIX = re.compile(
    r"\b(correct(ed|ly)?|fix(ed)?|after|ideal(_response)?|solution|good|should|proper(ly)?|updated|resolved"
    r"|recommended|instead|right|better|secure|working|required|change[sd]? to|replace[sd]? with)\b|✅|✔|🟢",
    re.IGNORECASE,
)
_COMMENT = re.compile(r"^\s*(//|#|--|/\*|<!--|;)\s?")


@dataclass(frozen=True)
class Snippet:
    """A fenced block inside a field's Markdown."""

    start: int
    end: int
    """Line range of the whole fence in the text (end exclusive)."""
    language: str | None
    code: str
    role: Role | None


def snippets(text: str, heading: str = "") -> list[Snippet]:
    """The closed, top-level fenced blocks of a Markdown text, each with the role it plays
    (`heading`: the label the text was found under, the lead-in of a block that opens it)."""
    lines = text.split("\n")
    found: list[Snippet] = []
    index = 0
    while index < len(lines):
        opening = _OPEN.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening["fence"]
        close = next(
            (
                j
                for j in range(index + 1, len(lines))
                if lines[j].strip().startswith(fence[0] * len(fence)) and not lines[j].strip().strip(fence[0])
            ),
            None,
        )
        if close is None:
            break
        info = opening["info"].strip()
        language = info.split()[0] if info and _LANGUAGE.match(info.split()[0]) else None
        code = "\n".join(line[len(opening["indent"]) :] for line in lines[index + 1 : close])
        found.append(Snippet(index, close + 1, language, code, _role(_lead(lines, index) or heading, code)))
        index = close + 1
    return found


_INLINE = re.compile(r"(?<!`)`([^`\n]{5,200})`(?!`)")
_BARE_NAME = re.compile(r"^[\w.$/@*-]+$")
_EXPRESSION = re.compile(r"[(={\[<>\"']|:\s|\s")  # `sqs:SendMessage` is a name, `Type: AWS::S3::Bucket` a key-value


def inline_snippet(text: str) -> str | None:
    """The first inline code span of a text that is a real expression, statement or
    key-value (`DependsOn: IgwAttachment`, `RestApiOrigin(api)`), not a bare name or path."""
    for match in _INLINE.finditer(text):
        span = match[1].strip()
        if not _BARE_NAME.match(span) and _EXPRESSION.search(span) and re.search(r"[A-Za-z]", span):
            return span
    return None


def _lead(lines: list[str], start: int) -> str:
    """The non-blank line just above a block (its lead-in, e.g. `**Before (wrong):**`)."""
    for line in reversed(lines[max(0, start - 3) : start]):
        if line.strip():
            return line if len(line) <= 160 else ""
    return ""


def _marks(text: str) -> Role | None:
    model, fix = _MODEL.search(text), _FIX.search(text)
    if model and fix:
        return "model" if model.start() < fix.start() else "fix"
    return "model" if model else "fix" if fix else None


def _role(lead: str, code: str) -> Role | None:
    """A block's role from its lead-in, else from its first comment line."""
    role = _marks(lead)
    if role is not None:
        return role
    first = next((line for line in code.split("\n") if line.strip()), "")
    return _marks(first) if _COMMENT.match(first) else None


def split_halves(code: str) -> tuple[str, str] | None:
    """A block holding the model's code then the fix, each under a marking comment
    (`// Before` ... `// After`, `# ❌ Wrong` ... `# ✅ Correct`) -> the two halves."""
    lines = code.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not _COMMENT.match(lines[first]) or _marks(lines[first]) != "model":
        return None
    for index in range(first + 1, len(lines)):
        line = lines[index]
        if _COMMENT.match(line) and _marks(line) == "fix" and not _MODEL.search(line):
            model, fix = "\n".join(lines[:index]).strip("\n"), "\n".join(lines[index:]).strip("\n")
            if _has_code(model) and _has_code(fix):
                return model, fix
    return None


def _has_code(code: str) -> bool:
    """True when a block holds more than comments."""
    return any(line.strip() and not _COMMENT.match(line) for line in code.split("\n"))


def remove(text: str, snippet: Snippet) -> str:
    """The text without one block (and without the blank lines it leaves doubled)."""
    lines = text.split("\n")
    kept = lines[: snippet.start] + lines[snippet.end :]
    out = "\n".join(kept)
    return re.sub(r"\n{3,}", "\n\n", out).strip("\n")


def usable(snippet: Snippet) -> bool:
    """A block worth a code field: it holds code, not only comments."""
    return _has_code(snippet.code)
