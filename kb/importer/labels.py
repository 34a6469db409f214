"""Labels that open a part of a failure (`**Root Cause**:`, `**Fix:**`, `#### Error`) and the field each fills."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache


class Field(StrEnum):
    """Where a labelled part of a failure goes."""

    description = "description"
    impact = "impact"
    impact_or_details = "impact_or_details"
    """`Impact`: a level when its value is one, otherwise impact details."""
    model = "model_response"
    fix = "ideal_response"
    expected = "expected"
    """`Expected`: the fix, and it makes `Actual` the model's code."""
    actual = "actual"
    """`Actual`: the model's code next to `Expected`, the fix next to a model label."""
    error = "error"
    root_cause = "root_cause"
    docs = "docs"
    impact_details = "impact_details"
    training = "training_value"
    category = "category"
    location = "location"


REPORT_LABELS = {
    "impact": "Impact Level",
    "description": "Issue",
    "location": "Location",
    "model_response": "MODEL_RESPONSE Issue",
    "ideal_response": "IDEAL_RESPONSE Fix",
    "error": "Error",
    "root_cause": "Root Cause",
    "docs": "AWS Documentation Reference",
    "impact_details": "Cost/Security/Performance Impact",
    "training_value": "Training Value",
}
"""The label a report prints for each failure field (the seed's wording)."""


def _table(**groups: list[str]) -> dict[str, Field]:
    return {name: Field[field] for field, names in groups.items() for name in names}


_EXACT: dict[str, Field] = _table(
    description=[
        "issue",
        "issues",
        "problem",
        "problems",
        "failure",
        "requirement",
        "prompt requirement",
        "description",
        "missing",
        "observation",
        "issue description",
        "problem description",
        "failure description",
        "the issue",
        "what happened",
        "finding",
        "gap",
        "bug",
        "defect",
        "violation",
        "original problem",
        "problem statement",
        "issue details",
        "details of the issue",
        "requirement violated",
        "what was missing",
        "specific problems",
        "failure mode",
        "concern",
        "the problem",
        "specific issue",
        "issue summary",
        "summary of issue",
    ],
    impact=[
        "impact level",
        "severity",
        "severity level",
        "risk level",
        "priority",
        "risk",
        "criticality",
        "impact severity",
        "level",
        "priority level",
        "failure severity",
        "severity rating",
        "impact rating",
    ],
    impact_or_details=["impact", "impacts"],
    model=[
        "model response issue",
        "model response",
        "original code",
        "original issue",
        "before",
        "original",
        "current implementation",
        "model failure",
        "what went wrong",
        "model code",
        "problematic code",
        "evidence",
        "model output",
        "generated code",
        "incorrect code",
        "wrong code",
        "model implementation",
        "model issue",
        "model miss",
        "incorrect",
        "wrong",
        "incorrect implementation",
        "what the model did",
        "model generated",
        "example of violation",
        "model approach",
        "model s approach",
        "model s code",
        "model did",
        "bad",
        "incorrect approach",
        "what model did",
        "model error",
        "model mistake",
        "broken code",
        "faulty code",
        "before fix",
        "code before",
        "model version",
        "original implementation",
        "current code",
        "model wrote",
    ],
    fix=[
        "ideal response fix",
        "fix",
        "fixes",
        "fix applied",
        "fixes applied",
        "resolution",
        "solution",
        "ideal response",
        "recommendation",
        "fixed code",
        "correct implementation",
        "mitigation",
        "after",
        "workaround",
        "corrected code",
        "actual fix",
        "correction",
        "ideal solution",
        "fixed",
        "fix required",
        "fix needed",
        "solution applied",
        "how we fixed it",
        "correct approach",
        "corrected implementation",
        "ideal implementation",
        "ideal",
        "corrected",
        "remediation",
        "recommended fix",
        "required fix",
        "suggested fix",
        "the fix",
        "good",
        "correct",
        "correct code",
        "fixed version",
        "corrected version",
        "how to fix",
        "fix implemented",
        "applied fix",
        "after fix",
        "code after",
        "resolution applied",
        "ideal code",
        "proper implementation",
        "required correction",
        "what should be done",
        "recommended solution",
        "suggested solution",
        "ideal fix",
        "correct configuration",
        "fixed implementation",
        "change",
        "changes",
        "changes made",
        "fix details",
    ],
    expected=["expected", "expected behavior", "expected behaviour", "expected implementation", "expected code"],
    actual=["actual", "actual implementation", "actual behavior", "actual behaviour", "actual code"],
    error=[
        "error",
        "errors",
        "error message",
        "error messages",
        "deployment error",
        "warning",
        "warnings",
        "error encountered",
        "symptom",
        "symptoms",
        "build error",
        "lint error",
        "test error",
        "synth error",
        "validation error",
        "exception",
        "error output",
        "stack trace",
        "failure message",
        "error details",
        "observed error",
        "console output",
        "error log",
        "deployment failure",
        "test failure",
        "failure output",
    ],
    root_cause=[
        "root cause",
        "analysis",
        "reason",
        "root cause analysis",
        "cause",
        "why this fails",
        "why it fails",
        "why it failed",
        "why this failed",
        "why",
        "why this happened",
        "explanation",
        "underlying cause",
        "why this is a failure",
        "why it matters",
        "root causes",
        "reasoning",
        "why this is wrong",
        "why wrong",
    ],
    docs=[
        "aws documentation reference",
        "aws documentation",
        "documentation",
        "reference",
        "references",
        "terraform documentation reference",
        "pulumi documentation reference",
        "docs",
        "documentation reference",
        "aws docs",
        "documentation links",
        "further reading",
        "see also",
        "aws reference",
        "links",
        "cdk documentation reference",
        "cloudformation documentation reference",
        "documentation references",
    ],
    impact_details=[
        "cost security performance impact",
        "cost impact",
        "security impact",
        "deployment impact",
        "performance impact",
        "compliance",
        "operational impact",
        "why this matters",
        "business impact",
        "failure impact",
        "cost performance impact",
        "consequence",
        "consequences",
        "effect",
        "effects",
        "compliance impact",
        "reliability impact",
        "availability impact",
        "security implications",
        "risks",
        "production impact",
        "user impact",
        "cost security impact",
        "security performance impact",
    ],
    training=[
        "training value",
        "lesson",
        "training impact",
        "prevention",
        "learning",
        "lessons learned",
        "key learnings",
        "key lesson",
        "lesson learned",
        "learning opportunity",
        "training note",
        "what the model should learn",
        "takeaway",
        "key takeaway",
        "prevention strategy",
        "learnings",
        "training improvement",
        "model learning",
        "training signal",
        "lessons",
        "key learning",
        "learning point",
        "training insight",
        "training focus",
    ],
    category=[
        "category",
        "type",
        "issue type",
        "failure type",
        "component",
        "failure category",
        "error type",
        "issue category",
        "classification",
        "area",
    ],
    location=[
        "location",
        "file",
        "lines",
        "files modified",
        "affected resources",
        "files",
        "file path",
        "affected file",
        "affected files",
        "affected resource",
        "resource",
        "resources affected",
        "line",
        "found in",
        "where",
        "file location",
        "code location",
        "affected component",
        "affected components",
        "files changed",
        "resource affected",
        "affected code",
    ],
)

_PREFIX_RULES: tuple[tuple[re.Pattern[str], Field], ...] = (
    (re.compile(r"^(model response|model s |problem in model|issue in model|evidence from model)"), Field.model),
    (
        re.compile(r"^(ideal response|ideal |actual fix|correct(ed)? |fix(es|ed)? |solution|resolution|remediation)"),
        Field.fix,
    ),
    (re.compile(r"^root cause|^why (this|it|the)"), Field.root_cause),
    (re.compile(r"(documentation|docs)( references?| links?)?$"), Field.docs),
    (re.compile(r"^(lessons?|training|learning|key (lesson|learning|takeaway)|takeaway|prevention)"), Field.training),
    (re.compile(r"^(\w+ )?(errors?|exception)( messages?| output)?$"), Field.error),
    (re.compile(r"^impact level|^severity"), Field.impact),
    (re.compile(r"\bimpacts?$|^impact on "), Field.impact_details),
)

_EMPHASIS_LABEL = re.compile(
    r"^(?:\*\*(?P<l1>[^*\n]{1,80}?)(?P<c1>:?)\s*\*\*|__(?P<l2>[^\n]{1,80}?)(?P<c2>:?)\s*__"
    r"|\*(?P<l3>[^*\n]{1,80}?)(?P<c3>:?)\s*\*)(?P<qual>\s*\([^)\n]{0,80}\))?\s*(?P<c4>:?)(?:\s+|$)(?P<rest>.*)$"
)
_PLAIN_LABEL = re.compile(
    r"^(?P<label>[A-Za-z][A-Za-z_ /&'’-]{0,40}?)(?P<qual>\s*\([^)\n]{0,60}\))?:(?:\s+|$)(?P<rest>.*)$"
)
_LIST_MARKER = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+")


@dataclass(frozen=True)
class Label:
    """A label found at the start of a line."""

    text: str
    """The label as written, without emphasis markers or colon (`Root Cause`, `Fix (IDEAL_RESPONSE)`)."""
    field: Field | None
    """The field it fills; None for a label kb has no field for (kept in `extra`)."""
    rest: str
    """What follows the label on its line."""
    colon_inside: bool | None = None
    """True for `**Label:**`, False for `**Label**:`, None for a label without emphasis or colon."""


def normalise(label: str) -> str:
    """`IDEAL_RESPONSE Fix:` -> `ideal response fix` (for looking labels up)."""
    text = re.sub(r"\([^)]*\)", " ", label.lower())
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return text.strip()


@lru_cache(maxsize=4096)
def field_for(label: str) -> Field | None:
    """The field a label fills, or None when kb has no field for it."""
    key = normalise(label)
    if not key:
        return None
    found = _EXACT.get(key)
    if found is not None:
        return found
    bare = normalise(re.sub(r"\(.*?\)", "", label))
    if bare != key and bare in _EXACT:
        return _EXACT[bare]
    for pattern, field in _PREFIX_RULES:
        if pattern.search(key):
            return field
    return None


def match_label(line: str, *, allow_unknown: bool = True, allow_plain: bool = True) -> Label | None:
    """The label a line starts with, if any (`**Root Cause**:`, `**Fix:**`, `*Error*:`, `Fix:`)."""
    match = _EMPHASIS_LABEL.match(line)
    if match:
        label = (match["l1"] or match["l2"] or match["l3"] or "").strip()
        qualifier = (match["qual"] or "").strip()
        text = f"{label} {qualifier}".strip() if qualifier else label
        field = field_for(label) or (field_for(text) if qualifier else None)
        inside = bool(match["c1"] or match["c2"] or match["c3"])
        has_colon = inside or bool(match["c4"])
        if not has_colon and (field is None or match["rest"].strip()):
            return None
        if field is None and (not allow_unknown or not has_colon or len(label.split()) > 6 or label[:1].isdigit()):
            return None
        return Label(text, field, match["rest"], inside if has_colon else None)
    match = _PLAIN_LABEL.match(line) if allow_plain else None
    if match:
        label = match["label"].strip()
        qualifier = (match["qual"] or "").strip()
        field = field_for(label)
        if field is not None and len(label.split()) <= 5:
            return Label(f"{label} {qualifier}".strip(), field, match["rest"])
    return None


@lru_cache(maxsize=4096)
def heading_label(title: str) -> Label | None:
    """A sub-heading used as a label (`#### Root Cause`, `### IDEAL_RESPONSE Fix`)."""
    text = re.sub(r"[*_]{2}", "", title).strip().rstrip(":").strip()
    text = re.sub(r"^[^\w(]+", "", text)
    if len(text.split()) > 6 or re.match(r"^(\d|[a-z]\.\s|[A-Z]\.\s|#\d)", text):
        return None
    field = field_for(text)
    return Label(text, field, "") if field is not None else None


def strip_list_marker(line: str) -> tuple[str, str]:
    """(`- `, `**Fix**: x`) for a list item's first line."""
    match = _LIST_MARKER.match(line)
    if not match:
        return "", line
    return match.group(0), line[match.end() :]
