"""The rows of each export format, built from a case (and one of its failures).

Row builders read every record string through a ``FieldReader`` and every task document
through a ``DocumentReader``; both scan what they hand out for credentials (and redact
them when asked), so every exported string is scanned by construction. Code goes through
:mod:`kb.export.clean` (annotations out; placeholders, fragments, code that does not
parse refused). A builder returns the row's own columns, or the reason it cannot make one.

One row per failure:

- ``sft``: conversational prompt-completion: ``prompt`` (system, user: the task and the
  faulty code) and ``completion`` (assistant: the failure, its root cause and the fix), so
  trainers learn the answer only. Standard style: plain strings.
- ``dpo``: TRL preference rows ``prompt`` / ``chosen`` (the IDEAL_RESPONSE code) /
  ``rejected`` (the MODEL_RESPONSE code); the prompt is the task only, never the analysis.
- ``fix``: prompt-completion: the task, the faulty snippet and what is wrong in; the
  corrected snippet out.
- ``classify``: ``text`` (the faulty code with its platform and language) and ``label``.

One row per case (a task folder's documents):

- ``pairs``: ``prompt`` (the task), ``chosen`` (IDEAL_RESPONSE.md), ``rejected``
  (MODEL_RESPONSE.md): the model's whole answer against the corrected one.
- ``critique``: prompt-completion: the task and the model's whole response in, the
  failure analysis out (the rendered report, or its JSON form with ``structured``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from pydantic import BaseModel

from kb.documents import IDEAL_RESPONSE, MODEL_RESPONSE, PROMPT
from kb.export.clean import (
    NOT_CODE,
    CleanedDocument,
    blocks,
    clean_code,
    clean_document,
    neutral_names,
    strip_marks,
    without_comments,
)
from kb.export.memo import NO_MEMO, Memo, dump_secrets, load_secrets
from kb.models import Failure, Status
from kb.names import normalise_language
from kb.render.markdown import fence
from kb.secrets import find_secrets, redact
from kb.store import CASE_FILE, LoadedCase

Loc = tuple[str | int, ...]
Row = dict[str, Any]


class Style(StrEnum):
    """How chat turns are written: role/content message lists, or plain strings."""

    conversational = "conversational"
    standard = "standard"


# -- reading record strings and documents (every one scanned for credentials) ----------------


@dataclass(frozen=True)
class Hit:
    """A credential found: the file, the record field (`("model_response", "code")`; empty for a
    document), and where in the field's or document's text it starts."""

    path: Path
    loc: Loc
    kind: str
    start: int


class FieldReader:
    """Hands out a record's strings, scanning each for credentials (and redacting them when asked).

    ``hits`` collects the credentials of the row being built.
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


class DocumentReader:
    """A case's task documents (and its rendered report), each read once, scanned and, when
    asked, cleaned; scans and cleanings come from ``memo`` when the text is unchanged."""

    def __init__(self, case: LoadedCase, reader: FieldReader, *, redact: bool, memo: Memo = NO_MEMO) -> None:
        self.case = case
        self.fields = reader
        self.redact = redact
        self.memo = memo
        self.hits: list[Hit] = []
        self._cache: dict[str, tuple[str, list[Hit]]] = {}

    def text(self, name: str) -> str:
        """The document's text ("" when the case has none); the prompt falls back to `task.prompt`."""
        if name not in self.case.documents:
            return self.fields.text("task", "prompt") if name == PROMPT else ""
        if name not in self._cache:
            self._cache[name] = self._scan(self.case.path / name, name, self.case.document(name) or "")
        text, hits = self._cache[name]
        self.hits.extend(hits)
        return text

    def scanned(self, path: Path, name: str, text: str) -> str:
        """Any other text of the case (its rendered report, ``name``), scanned and redacted as a document."""
        cleaned, hits = self._scan(path, name, text)
        self.hits.extend(hits)
        return cleaned

    def cleaned(self, name: str, text: str, *, check_code: bool, references: str = "drop") -> CleanedDocument:
        """``clean_document`` of the text ``text`` of ``name`` (a document, or the report)."""
        return self.memo.get(
            "clean",
            f"{self.case.id}/{name}:{check_code}:{references}",
            text,
            lambda t: clean_document(t, check_code=check_code, references=references),
            lambda c: [c.text, c.reason],
            lambda v: CleanedDocument(str(v[0]), None if v[1] is None else str(v[1])),
        )

    def _scan(self, path: Path, name: str, text: str) -> tuple[str, list[Hit]]:
        place = f"{self.case.id}/{name}"
        secrets = self.memo.get("secrets", place, text, find_secrets, dump_secrets, load_secrets) if text else []
        hits = [Hit(path, (), s.kind, s.start) for s in secrets]
        return (redact(text, secrets) if self.redact and secrets else text), hits


# -- options and context ----------------------------------------------------------------------

SYSTEM_REVIEW = (
    "You are an expert reviewer of infrastructure-as-code for AWS. Find what is wrong with the code, "
    "explain the root cause, and give the fix."
)
SYSTEM_WRITE = "You are an expert in infrastructure-as-code for AWS. Write correct, deployable code."
SYSTEM_FIX = "You are an expert in infrastructure-as-code for AWS. Correct the code so it does what the task needs."
SYSTEM_CRITIQUE = (
    "You are an expert reviewer of infrastructure-as-code for AWS. Review the model's response to the task: "
    "list each failure with its impact, the faulty code, the root cause and the fix."
)
_MARKDOWN = MarkdownIt("commonmark")
MIN_ANSWER_WORDS = 20
"""A whole answer with fewer words once cleaned is no answer (a title, a note)."""


@dataclass(frozen=True)
class RowOptions:
    """What the user asked of the rows: minimum snippet lines, rows without a task, JSON critiques."""

    min_lines: int = 3
    allow_no_task: bool = False
    structured: bool = False


def _normal_language(word: str) -> str:
    return normalise_language(word) if word.strip() else ""


@dataclass
class RowContext:
    """What a row builder reads from: the case's (and failure's) readers, documents, style and options."""

    case: FieldReader
    failure: FieldReader
    documents: DocumentReader
    style: Style
    options: RowOptions
    render: Callable[[LoadedCase], str] | None = None
    """The case's failure report as Markdown (for ``critique``)."""
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
            blocks = [t for t in blocks if (t.info.split() or [""])[0].lower() not in NOT_CODE]
            if not blocks:
                return "", ""
            code = self.failure.clean((side, "text"), "\n\n".join(t.content.rstrip("\n") for t in blocks))
            language = self.failure.clean((side, "text"), (blocks[0].info.split() or [""])[0])
        code = code.strip("\n")
        return (code, language or self.case.text("task", "language")) if code.strip() else ("", "")

    def metadata(self, failure: Failure | None) -> Row:
        services = (self.failure.texts("services") if failure else []) or self.case.texts("task", "aws_services")
        language = self.case.text("task", "language") or (self.snippet("model_response")[1] if failure else "")
        return {
            "impact": failure.impact.value if failure and failure.impact else "",
            "category": (failure.category or "") if failure else "",
            "services": services,
            "platform": self.case.text("task", "platform"),
            "language": _normal_language(language),
        }

    def task(self, *, services: bool = False) -> str | None:
        """The task: its prompt, platform, language (and AWS services); None when the case has no
        prompt and rows without a task were not asked for."""
        prompt = self.documents.text(PROMPT).strip()
        if not prompt and not self.options.allow_no_task:
            return None
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

    def completion_row(self, system: str, user: str, answer: str) -> Row:
        return {"prompt": self.prompt(system, user), "completion": self.answer(answer)}


def _fence(code: str, language: str) -> str:
    return fence(code, language or None)


def _sentence(text: str) -> str:
    """Prose that introduced a code block (`...the stack:`) read without the block."""
    text = text.strip()
    return text[:-1].rstrip() + "." if text.endswith(":") else text


def _prose(text: str) -> str:
    """Reviewer prose fit for an answer: marker symbols out, the task's documents named plainly."""
    return neutral_names(strip_marks(text))


@dataclass(frozen=True)
class Code:
    """A cleaned snippet and its language."""

    code: str
    language: str


def _clean_side(ctx: RowContext, side: str, *, min_lines: int) -> Code | str:
    code, language = ctx.snippet(side)
    if not code:
        return "no model code" if side == "model_response" else "no fix code"
    cleaned = clean_code(code, language, min_lines=min_lines)
    return cleaned.reason or Code(cleaned.code, language)


def _code_pair(ctx: RowContext) -> tuple[Code, Code] | str:
    """The faulty and the fixed snippet, both clean, different once comments are removed, in one language."""
    rejected, chosen = ctx.snippet("model_response"), ctx.snippet("ideal_response")
    if not rejected[0] and not chosen[0]:
        return "no model code and no fix code"
    bad = _clean_side(ctx, "model_response", min_lines=ctx.options.min_lines)
    if isinstance(bad, str):
        return bad
    good = _clean_side(ctx, "ideal_response", min_lines=ctx.options.min_lines)
    if isinstance(good, str):
        return good
    bad_language, good_language = _normal_language(bad.language), _normal_language(good.language)
    if bad_language and good_language and bad_language != good_language:
        return "two languages"
    bad = Code(bad.code, bad.language or good.language)
    good = Code(good.code, good.language or bad.language)
    if without_comments(bad.code, bad.language) == without_comments(good.code, good.language):
        return "same code once comments are removed"
    return bad, good


# -- one row per failure ----------------------------------------------------------------------


def _explanation(ctx: RowContext, failure: Failure, fix: Code | None) -> str:
    """The answer of an sft row: the failure, its root cause, the fix, the lessons."""
    f = ctx.failure
    level = f" ({failure.impact.label} impact)" if failure.impact else ""
    parts = [f"**{f.text('title')}**{level}", _sentence(f.text("description") or f.text("model_response", "text"))]
    if error := f.text("error"):
        parts.append("Error seen:\n\n" + _fence(error, "text"))
    if root_cause := f.text("root_cause"):
        parts.append(f"**Root cause:** {root_cause}")
    fix_text = f.text("ideal_response", "text")
    if fix is not None:
        parts.append(f"**Fix:** {fix_text}".rstrip() + "\n\n" + _fence(fix.code, fix.language))
    elif fix_text:
        parts.append(f"**Fix:** {_sentence(fix_text)}")
    if lessons := f.texts("training_value", "lessons"):
        parts.append("**Lessons:**\n\n" + "\n".join(f"- {lesson}" for lesson in lessons))
    return "\n\n".join(_prose(p.strip()) for p in parts if p.strip())


def _sft_row(ctx: RowContext, failure: Failure) -> Row | str:
    bad = _clean_side(ctx, "model_response", min_lines=ctx.options.min_lines)
    if isinstance(bad, str):
        return bad
    fix: Code | None = None
    if ctx.snippet("ideal_response")[0]:
        cleaned = _clean_side(ctx, "ideal_response", min_lines=1)
        if isinstance(cleaned, str):
            return cleaned
        fix = cleaned
    if not (ctx.failure.text("root_cause") or ctx.failure.text("ideal_response", "text") or fix):
        return "no root cause or fix"
    task = ctx.task()
    if task is None:
        return "no task"
    steps = (task, "The model wrote this code:", _fence(bad.code, bad.language), "What is wrong with it?")
    return ctx.completion_row(SYSTEM_REVIEW, "\n\n".join(p for p in steps if p), _explanation(ctx, failure, fix))


def _dpo_row(ctx: RowContext, failure: Failure) -> Row | str:
    pair = _code_pair(ctx)
    if isinstance(pair, str):
        return pair
    task = ctx.task(services=True)
    if task is None:
        return "no task"
    bad, good = pair
    # The task only: root cause, fix text and lessons would give the answer away.
    user = "\n\n".join(p for p in (task, "Write the code for this part of the task.") if p)
    return {
        "prompt": ctx.prompt(SYSTEM_WRITE, user),
        "chosen": ctx.answer(_fence(good.code, good.language)),
        "rejected": ctx.answer(_fence(bad.code, bad.language)),
    }


def _fix_row(ctx: RowContext, failure: Failure) -> Row | str:
    pair = _code_pair(ctx)
    if isinstance(pair, str):
        return pair
    task = ctx.task()
    if task is None:
        return "no task"
    bad, good = pair
    f = ctx.failure
    said = " ".join(b.text for b in blocks(f.text("model_response", "text")) if b.kind == "prose")  # no code twice
    parts = (f"**{f.text('title')}**", _sentence(said), f.text("error"), f.text("root_cause"))
    wrong = "\n\n".join(p for p in parts if p.strip())
    steps = (
        task,
        "This code is wrong:",
        _fence(bad.code, bad.language),
        f"What is wrong:\n\n{_prose(wrong)}",
        "Write the corrected code.",
    )
    return ctx.completion_row(SYSTEM_FIX, "\n\n".join(p for p in steps if p), _fence(good.code, good.language))


def _classify_row(ctx: RowContext, failure: Failure) -> Row | str:
    if failure.impact is None:
        return "no impact level"
    bad = _clean_side(ctx, "model_response", min_lines=ctx.options.min_lines)
    if isinstance(bad, str):
        return bad
    facts = [("Platform", ctx.case.text("task", "platform")), ("Language", _normal_language(bad.language))]
    line = " · ".join(f"{name}: {value}" for name, value in facts if value)
    return {"text": "\n\n".join(p for p in (line, _fence(bad.code, bad.language)) if p), "label": failure.impact.value}


# -- one row per case ----------------------------------------------------------------------------


def _pairs_row(ctx: RowContext) -> Row | str:
    task = ctx.task(services=True)
    if task is None:
        return "no task"
    model, ideal = ctx.documents.text(MODEL_RESPONSE), ctx.documents.text(IDEAL_RESPONSE)
    if not model.strip() or not ideal.strip():
        return "no MODEL_RESPONSE.md" if not model.strip() else "no IDEAL_RESPONSE.md"
    chosen = ctx.documents.cleaned(IDEAL_RESPONSE, ideal, check_code=True)
    if chosen.reason:
        return chosen.reason
    rejected = ctx.documents.cleaned(MODEL_RESPONSE, model, check_code=False)
    if rejected.reason:
        return rejected.reason
    if len(chosen.text.split()) < MIN_ANSWER_WORDS or len(rejected.text.split()) < MIN_ANSWER_WORDS:
        return "answer nearly empty once cleaned"
    if chosen.text == rejected.text:
        return "same answer on both sides"
    return {
        "prompt": ctx.prompt(SYSTEM_WRITE, task),
        "chosen": ctx.answer(chosen.text.rstrip("\n")),
        "rejected": ctx.answer(rejected.text.rstrip("\n")),
    }


def _structured(ctx: RowContext, case: LoadedCase) -> str:
    """The failure analysis as JSON: one object per exported failure, every string scanned."""
    failures = []
    for loaded in case.failures:
        if not _exported(loaded.failure):
            continue
        f = FieldReader(loaded.path, loaded.failure, redact=ctx.case.redact)
        code = clean_code(f.text("model_response", "code"), f.text("model_response", "language")).code
        fix = clean_code(f.text("ideal_response", "code"), f.text("ideal_response", "language")).code
        failures.append(
            {
                "title": f.text("title"),
                "impact": loaded.failure.impact.value if loaded.failure.impact else None,
                "category": loaded.failure.category,
                "services": f.texts("services"),
                "what_went_wrong": _prose(f.text("model_response", "text")),
                "model_code": code or None,
                "error": f.text("error") or None,
                "root_cause": _prose(f.text("root_cause")) or None,
                "fix": _prose(f.text("ideal_response", "text")) or None,
                "fix_code": fix or None,
                "lessons": [_prose(lesson) for lesson in f.texts("training_value", "lessons")],
            }
        )
        ctx.failure.hits.extend(f.hits)
    return json.dumps({"failures": failures}, ensure_ascii=False, indent=2)


def _exported(failure: Failure) -> bool:
    return failure.is_failure and failure.status is not Status.draft


def _critique_row(ctx: RowContext) -> Row | str:
    case = ctx.documents.case
    task = ctx.task()
    if task is None:
        return "no task"
    model = ctx.documents.text(MODEL_RESPONSE)
    if not model.strip():
        return "no MODEL_RESPONSE.md"
    if not any(_exported(f.failure) for f in case.failures):
        return "no failure to report"
    response = ctx.documents.cleaned(MODEL_RESPONSE, model, check_code=False)
    if response.reason:
        return response.reason
    if ctx.options.structured:
        analysis = _structured(ctx, case)
    else:
        assert ctx.render is not None
        report = ctx.documents.scanned(case.path / CASE_FILE, "report", ctx.render(case))
        cleaned = ctx.documents.cleaned("report", report, check_code=False, references="rename")
        if cleaned.reason:
            return cleaned.reason
        analysis = cleaned.text.rstrip("\n")
    steps = (task, "The model's response:", response.text.rstrip("\n"), "Review the response: what is wrong with it?")
    return ctx.completion_row(SYSTEM_CRITIQUE, "\n\n".join(steps), analysis)


FAILURE_BUILDERS: dict[str, Callable[[RowContext, Failure], Row | str]] = {
    "sft": _sft_row,
    "dpo": _dpo_row,
    "fix": _fix_row,
    "classify": _classify_row,
}
CASE_BUILDERS: dict[str, Callable[[RowContext], Row | str]] = {
    "pairs": _pairs_row,
    "critique": _critique_row,
}
FORMATS = ("sft", "dpo", "classify", "pairs", "critique", "fix")
"""Every format, in the order the CLI lists them."""
ANSWER_COLUMNS = {"sft": "completion", "dpo": "chosen", "fix": "completion", "classify": "text"}
ANSWER_COLUMNS |= {"pairs": "chosen", "critique": "completion"}
"""The column holding what a row teaches (two eval rows with the same one are the same lesson)."""
NEAR_COLUMNS = {"sft": ("completion",), "dpo": ("chosen", "rejected"), "fix": ("completion",), "classify": ("text",)}
NEAR_COLUMNS |= {"pairs": ("chosen", "rejected"), "critique": ("completion",)}
"""The columns compared for near-duplicate rows: what tells two rows apart (a case's rows share its prompt)."""
