"""The rows of each export format, built from a case and one of its failures.

Row builders read every record string through a ``FieldReader``, which scans it for
credentials (and redacts them when asked), so every exported string is scanned by
construction. A builder returns the row's own columns, or the reason it cannot make one.

- ``sft``: chat ``messages`` (system, user, assistant). The user turn holds the task
  (its prompt when the case has one, platform, language) and the faulty MODEL_RESPONSE
  code; the assistant turn names the failure, explains its root cause and gives the fix.
  With the standard style: ``prompt`` / ``completion`` strings.
- ``dpo``: TRL's preference rows ``prompt`` / ``chosen`` / ``rejected``: lists of
  role/content messages, or plain strings with the standard style. ``chosen`` is the
  IDEAL_RESPONSE code, ``rejected`` the MODEL_RESPONSE code; the prompt is the task only,
  never the analysis (no root cause, fix text or lessons).
- ``classify``: ``text`` (the faulty code with its platform and language) and ``label``
  (the impact level): a severity classifier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from pydantic import BaseModel

from kb.models import Failure
from kb.names import normalise_language
from kb.render.markdown import fence
from kb.secrets import find_secrets, redact

Loc = tuple[str | int, ...]
Row = dict[str, Any]


class Style(StrEnum):
    """How chat turns are written: role/content message lists, or plain strings."""

    conversational = "conversational"
    standard = "standard"


# -- reading record strings (every one scanned for credentials) ---------------------------


@dataclass(frozen=True)
class Hit:
    """A credential found in a record: the file, the field (`("model_response", "code")`), where in it."""

    path: Path
    loc: Loc
    kind: str
    start: int


class FieldReader:
    """Hands out a record's strings, scanning each for credentials (and redacting them when asked).

    Row builders read every record string through a reader, so every exported string is
    scanned by construction. ``hits`` collects the credentials of the row being built.
    """

    def __init__(self, path: Path, record: BaseModel, *, redact: bool) -> None:
        self.path = path
        self.record = record
        self.redact = redact
        self.hits: list[Hit] = []
        self._cache: dict[Loc, tuple[str, list[Hit]]] = {}

    def raw(self, *loc: str | int) -> Any:
        value: Any = self.record
        for part in loc:
            if value is None:
                return None
            value = value[part] if isinstance(part, int) else getattr(value, part, None)
        return value

    def _scan(self, loc: Loc, value: str) -> tuple[str, list[Hit]]:
        secrets = find_secrets(value) if value else []
        hits = [Hit(self.path, loc, s.kind, s.start) for s in secrets]
        return (redact(value, secrets) if self.redact and secrets else value), hits

    def clean(self, loc: Loc, value: str) -> str:
        """``value`` (taken from the field at ``loc``) scanned, and redacted when asked."""
        cleaned, hits = self._scan(loc, value)
        self.hits.extend(hits)
        return cleaned

    def text(self, *loc: str | int) -> str:
        """The string at ``loc`` ("" when absent), scanned (once per field)."""
        if loc not in self._cache:
            value = self.raw(*loc)
            self._cache[loc] = self._scan(loc, value if isinstance(value, str) else "")
        cleaned, hits = self._cache[loc]
        self.hits.extend(hits)
        return cleaned

    def texts(self, *loc: str | int) -> list[str]:
        values = self.raw(*loc) or []
        return [self.text(*loc, i) for i in range(len(values))]


# -- rows ------------------------------------------------------------------------------

SYSTEM_REVIEW = (
    "You are an expert reviewer of infrastructure-as-code for AWS. Find what is wrong with the code, "
    "explain the root cause, and give the fix."
)
SYSTEM_WRITE = "You are an expert in infrastructure-as-code for AWS. Write correct, deployable code."
_NOT_CODE = {"text", "txt", "console", "log", "output", "plaintext", "diff", "markdown", "md"}
_MARKDOWN = MarkdownIt("commonmark")


def _fence(code: str, language: str) -> str:
    return fence(code, language or None)


def _normal_language(word: str) -> str:
    return normalise_language(word) if word.strip() else ""


@dataclass
class RowContext:
    """What a row builder reads from: the case's and the failure's readers, and the chat style."""

    case: FieldReader
    failure: FieldReader
    style: Style
    _snippets: dict[str, tuple[str, str]] = field(default_factory=dict)

    def snippet(self, side: str) -> tuple[str, str]:
        """The code of ``model_response`` or ``ideal_response`` and its fence language ("" when none).

        The ``code`` field when set, else the code blocks of the response's Markdown text.
        """
        if side not in self._snippets:
            self._snippets[side] = self._snippet(side)
        return self._snippets[side]

    def _snippet(self, side: str) -> tuple[str, str]:
        code = self.failure.text(side, "code")
        language = self.failure.text(side, "language")
        if not code.strip():
            text = self.failure.raw(side, "text")
            if not isinstance(text, str) or ("`" not in text and "~" not in text):
                return "", ""
            blocks = [t for t in _MARKDOWN.parse(text) if t.type == "fence" and t.content.strip()]
            blocks = [t for t in blocks if (t.info.split() or [""])[0].lower() not in _NOT_CODE]
            if not blocks:
                return "", ""
            code = self.failure.clean((side, "text"), "\n\n".join(t.content.rstrip("\n") for t in blocks))
            language = self.failure.clean((side, "text"), (blocks[0].info.split() or [""])[0])
        code = code.strip("\n")
        return (code, language or self.case.text("task", "language")) if code.strip() else ("", "")

    def metadata(self, failure: Failure) -> Row:
        services = self.failure.texts("services") or self.case.texts("task", "aws_services")
        language = self.case.text("task", "language") or self.snippet("model_response")[1]
        return {
            "impact": failure.impact.value if failure.impact else "",
            "category": failure.category or "",
            "services": services,
            "platform": self.case.text("task", "platform"),
            "language": _normal_language(language),
        }

    def task(self, *, services: bool = False) -> str:
        """The task context: its prompt (when the case has one), platform, language (and AWS services)."""
        prompt = self.case.text("task", "prompt").strip()
        facts = [("Platform", self.case.text("task", "platform")), ("Language", self.case.text("task", "language"))]
        if services:
            facts.append(("AWS services", ", ".join(self.case.texts("task", "aws_services"))))
        line = " · ".join(f"{name}: {value}" for name, value in facts if value)
        return "\n\n".join(p for p in (f"Task:\n\n{prompt}" if prompt else "", line) if p)

    def prompt(self, system: str, user: str) -> Any:
        """A prompt: system and user messages, or one string in the standard style."""
        if self.style is Style.standard:
            return f"{system}\n\n{user}"
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def answer(self, text: str) -> Any:
        """An answer: one assistant message, or the string in the standard style."""
        return text if self.style is Style.standard else [{"role": "assistant", "content": text}]


def _sentence(text: str) -> str:
    """Prose that introduced a code block (`...the stack:`) read without the block."""
    text = text.strip()
    return text[:-1].rstrip() + "." if text.endswith(":") else text


def _explanation(ctx: RowContext, failure: Failure) -> str:
    """The assistant turn of an sft row: the failure, its root cause, the fix, the lessons."""
    f = ctx.failure
    level = f" ({failure.impact.label} impact)" if failure.impact else ""
    parts = [f"**{f.text('title')}**{level}", _sentence(f.text("description") or f.text("model_response", "text"))]
    if error := f.text("error"):
        parts.append("Error seen:\n\n" + _fence(error, "text"))
    if root_cause := f.text("root_cause"):
        parts.append(f"**Root cause:** {root_cause}")
    fix_text, (fix_code, fix_language) = f.text("ideal_response", "text"), ctx.snippet("ideal_response")
    if fix_code:
        parts.append(f"**Fix:** {fix_text}".rstrip() + "\n\n" + _fence(fix_code, fix_language))
    elif fix_text:
        parts.append(f"**Fix:** {_sentence(fix_text)}")
    if lessons := f.texts("training_value", "lessons"):
        parts.append("**Lessons:**\n\n" + "\n".join(f"- {lesson}" for lesson in lessons))
    return "\n\n".join(p.strip() for p in parts if p.strip())


def _sft_row(ctx: RowContext, failure: Failure) -> Row | str:
    code, language = ctx.snippet("model_response")
    if not code:
        return "no model code"
    fix = ctx.failure.text("ideal_response", "text") or ctx.snippet("ideal_response")[0]
    if not (ctx.failure.text("root_cause") or fix):
        return "no root cause or fix"
    steps = (ctx.task(), "The model wrote this code:", _fence(code, language), "What is wrong with it?")
    user, assistant = "\n\n".join(p for p in steps if p), _explanation(ctx, failure)
    if ctx.style is Style.standard:
        return {"prompt": ctx.prompt(SYSTEM_REVIEW, user), "completion": assistant}
    return {"messages": [*ctx.prompt(SYSTEM_REVIEW, user), *ctx.answer(assistant)]}


def _dpo_row(ctx: RowContext, failure: Failure) -> Row | str:
    rejected, rejected_language = ctx.snippet("model_response")
    chosen, chosen_language = ctx.snippet("ideal_response")
    if not rejected and not chosen:
        return "no model code and no fix code"
    if not rejected or not chosen:
        return "no model code" if not rejected else "no fix code"
    if chosen.strip() == rejected.strip():
        return "same code on both sides"
    # The task only: root cause, fix text and lessons would give the answer away.
    user = "\n\n".join(p for p in (ctx.task(services=True), "Write the code for this task.") if p)
    return {
        "prompt": ctx.prompt(SYSTEM_WRITE, user),
        "chosen": ctx.answer(_fence(chosen, chosen_language or rejected_language)),
        "rejected": ctx.answer(_fence(rejected, rejected_language or chosen_language)),
    }


def _classify_row(ctx: RowContext, failure: Failure) -> Row | str:
    if failure.impact is None:
        return "no impact level"
    code, language = ctx.snippet("model_response")
    if not code:
        return "no model code"
    facts = [("Platform", ctx.case.text("task", "platform")), ("Language", _normal_language(language))]
    line = " · ".join(f"{name}: {value}" for name, value in facts if value)
    return {"text": "\n\n".join(p for p in (line, _fence(code, language)) if p), "label": failure.impact.value}


BUILDERS: dict[str, Callable[[RowContext, Failure], Row | str]] = {
    "sft": _sft_row,
    "dpo": _dpo_row,
    "classify": _classify_row,
}
