"""Titles as a visitor reads them: Markdown marks stripped, generic document titles replaced by the task.

Records keep their titles as written (a report reproduces them); only the site shows
these display forms. Many documents are titled "Model Response Failures Analysis" or
"MODEL_FAILURES.md": for those the case is named after its task (the prompt's first
line, the platform and the services).
"""

from __future__ import annotations

import re

from generator.pages.browse import PLATFORM_NAMES
from kb.models import Case
from kb.names import normalise_platform

__all__ = ["case_title", "is_generic", "plain_title"]

_LINK = re.compile(r"!?\[([^\[\]\n]*)\]\([^()\n]*\)")
_MARKS = re.compile(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)|`+|~~")
_GENERIC_WORDS = frozenset(
    [
        "model",
        "models",
        "response",
        "responses",
        "failure",
        "failures",
        "failed",
        "analysis",
        "and",
        "or",
        "corrections",
        "correction",
        "fixes",
        "fix",
        "fixed",
        "issues",
        "issue",
        "identified",
        "report",
        "documentation",
        "summary",
        "of",
        "the",
        "vs",
        "ideal",
        "comparison",
        "md",
        "infrastructure",
        "changes",
        "change",
        "from",
        "to",
        "required",
        "achieve",
        "achieved",
        "working",
        "solution",
        "encountered",
        "applied",
        "implementation",
        "differences",
        "difference",
        "limitations",
        "trade",
        "offs",
        "in",
        "a",
        "an",
        "for",
        "with",
        "errors",
        "error",
        "problems",
        "gaps",
        "review",
        "detailed",
        "key",
        "observed",
        "lessons",
        "learned",
        "notes",
        "document",
        "overview",
        "task",
        "mistakes",
        "improvements",
        "common",
        "compared",
        "actual",
        "recommendations",
        "observations",
        "tap",
        "stack",
        "tapstack",
    ]
)
"""Words a document title uses without saying what the case is about."""
_WORD = re.compile(r"[a-z0-9]+")
_ID_LIKE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*-pr\d+$", re.IGNORECASE)
_PROMPT_NOISE = re.compile(r"^[#>*\s-]+|[*_`]+")
TITLE_CHARS = 90
"""A display title made from a prompt is cut here, at a word boundary."""


def plain_title(text: str) -> str:
    """A title without Markdown marks: `**Bold** `code` [x](y)` -> `Bold code x`."""
    text = _LINK.sub(r"\1", " ".join(text.split()))
    return " ".join(_MARKS.sub("", text).split()) or text


def is_generic(title: str) -> bool:
    """True for titles that say nothing about the case ("Model Response Failures Analysis", "MODEL_FAILURES.md")."""
    text = plain_title(title).strip(" .:")
    if _ID_LIKE.match(text):
        return True
    words = _WORD.findall(text.lower().replace("model_failures", "model failures").replace("_", " "))
    return all(w in _GENERIC_WORDS or any(c.isdigit() for c in w) for w in words)  # ids and numbers say nothing


def _cut(text: str, limit: int = TITLE_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,.;:") + "…"


def _prompt_line(prompt: str | None) -> str:
    for line in (prompt or "").splitlines():
        line = " ".join(_PROMPT_NOISE.sub("", line).split())
        if len(line) >= 12:
            return line
    return ""


def case_title(case: Case) -> str:
    """The title the site shows for a case: its own (marks stripped) unless generic, else one made from its task."""
    own = plain_title(case.title)
    if not is_generic(case.title):
        return own
    task = case.task
    if task is None:
        return own
    platform = PLATFORM_NAMES.get(normalise_platform(task.platform), task.platform or "") if task.platform else ""
    services = ", ".join(task.aws_services[:3])
    line = _cut(_prompt_line(task.prompt))
    if line:
        return " · ".join(p for p in (line, ", ".join(x for x in (platform, services) if x)) if p)
    if platform or services:
        name = platform or "AWS"
        return f"{'An' if name[0] in 'AEIOU' else 'A'} {name} task" + (f" on {services}" if services else "")
    return own
