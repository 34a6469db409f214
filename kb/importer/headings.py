"""What a heading says: its numbering, its title, and what kind of section it opens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from kb.importer.folded import Folded
from kb.importer.impact import word_level
from kb.models import Impact, Kind


class SectionKind(StrEnum):
    severity = "severity"
    """A group of failures of one level: `Critical Failures`, `High Severity Issues`, `Category A`."""
    failures = "failures"
    """A group of failures without a level: `Issues Found`, `Security Vulnerabilities`."""
    success = "success"
    """Things the model got right: `Strengths`, `What Was Done Correctly`."""
    summary = "summary"
    """Summaries, conclusions, recommendations, statistics: never failures themselves."""
    other = "other"


_DECORATION = r"[^\w\s*_\[(`#]*\s*"
_BOLD_WRAP = re.compile(r"^(\*\*|__)(?P<inner>.+?)\1(?P<tail>[\s:.]*)$", re.DOTALL)
_NUMBERINGS = (
    # 1.2 Title | 1. Title | 1) Title | 1: Title | 1.2. Title | 1\. Title | 1 - Title
    re.compile(r"^(?P<n>\d{1,3}(?:\.\d{1,3})+)\.?\s+(?=\S)"),
    re.compile(r"^(?P<n>\d{1,3})\\?(?:[.):]|\s*[-–—])\s*(?=\S)"),
    # Issue 1: Title | Failure #2 - Title | FAILURE 3 | Error 4 — Title
    re.compile(
        r"^(?P<w>issues?|failures?|errors?|fix(?:es)?|problems?|bugs?|gaps?|findings?|defects?|mistakes?|items?|"
        r"concerns?|violations?|flaws?|observations?|deficienc(?:y|ies)|vulnerabilit(?:y|ies)|model failures?)"
        r"\s*(?:no\.?\s*)?#?\s*(?P<n>\d{1,3}[a-z]?)\b\s*(?:[:.)\-–—]\s*|$)",
        re.IGNORECASE,
    ),
    # Issue: Title | Failure - Title (a worded marker without a number)
    re.compile(
        r"^(?P<n>)(?:issue|failure|problem|bug|error|gap|finding|defect|mistake|model failure)\s*[:\-–—]\s*(?=\S)",
        re.IGNORECASE,
    ),
    # #1 Title | #1: Title
    re.compile(r"^#(?P<n>\d{1,3})\s*[:.\-–—]?\s+(?=\S)"),
    # a. Title | B) Title
    re.compile(r"^(?P<n>[A-Za-z])[.)]\s+(?=\S)"),
    # C1: Title | MF001 - Title | H-2. Title
    re.compile(r"^(?P<n>[A-Z]{1,4}-?\d{1,4})\s*[:.\-–—]\s*(?=\S)"),
)

_SUMMARY = Folded(
    r"^(executive |overall |final |brief |quick )?(summary|conclusions?|overview|recap|introduction|tl;?dr)\b"
    r"|\bsummary\b|lessons? learn|key (learnings?|lessons|takeaways|insights)|^recommend|recommendations?\b"
    r"|next steps|training (quality|value|data|improvement|recommend)|quality (score|assessment|gates?)|assessment\b"
    r"|statistics|metrics|appendix|^references?$|table of contents|verification|validation (results|steps)"
    r"|testing (results|strategy|verification)|test results|prevention|^score\b|deployment (summary|results|status)"
    r"|^notes?$|^context$|^background$|^methodology|^scope$|comparison|^conclusion|best practices to|^how to"
    r"|breakdown|distribution|by severity|by category|^total",
)
_SUCCESS = Folded(
    r"strengths?\b|done (correctly|well|right)|got right|went (well|right)|what worked|\bpositive|correctly implemented"
    r"|\bsuccess|not (failures?|issues?)|\bnon[- ]issues?|working as (expected|intended)|well[- ]implemented"
    r"|\bcorrect (implementation|aspects)|what (the )?model did (well|right)|passed checks|compliant aspects",
)
_FAILURE_NOUN = Folded(
    r"fail|issue|problem|\bbugs?\b|error|\bfix|finding|defect|\bgaps?\b|violation|blocker|concern|weakness|flaw"
    r"|mistake|observation|improvement|deficienc|vulnerabilit|\bmiss|incorrect|\bwrong|discrepanc|shortcoming"
    r"|anti-?pattern|\brisks?\b|corrections?|omissions?",
)
_SEVERITY_WORD = Folded(
    r"\b(critical|high|medium|low|major|minor|moderate|severe|blocker|blocking|p[0-3]|important|significant"
    r"|trivial|cosmetic)\b(?!\s*(availability|performance|level design|throughput))",
)
_CATEGORY_LETTER = Folded(r"^(category|tier|class|priority|group)\s+([abc])\b")
_PRIORITY_NUMBER = Folded(r"\b(priority|p)\s*([0-3])\b")
_LEVEL_NOUN = Folded("priority|severity|impact")


_ENTRY_KINDS: tuple[tuple[Kind, Folded], ...] = tuple(
    (kind, Folded(pattern))
    for kind, pattern in (
        # What the entries under a heading are when they are not failures of this model.
        (
            Kind.success,
            r"pitfalls? (avoided|prevented)|avoided (pitfalls?|issues)|\bhighlights?\b|done (correctly|well|right)"
            r"|got right|went (well|right)|what worked|\bstrengths?\b|correctly implemented|best practices (added|applied|followed)",
        ),
        (
            Kind.potential,
            r"\bpotential\b|\bpossible\b|hypothetical|\bcommon (\w+ )?(failures?|mistakes?|pitfalls?|issues?|errors?"
            r"|problems?|anti-?patterns?|failure (modes?|patterns?|scenarios?))|anti-?patterns?|\btypical\b|failure (modes|scenarios)"
            r"|(what|things) to avoid|to avoid\b|could (go wrong|fail)|\bmay fail",
        ),
        (Kind.limitation, r"\blimitations?\b|\bcaveats?\b|known issues"),
        (
            Kind.testing_gap,
            r"\btest(ing)? (coverage )?(gaps?|observations?|inadequac\w*)|^testing issues (fixed|resolved)",
        ),
        (
            Kind.checklist,
            r"checklist|\bverification\b|validation (results|performed|steps)|acceptance criteria"
            r"|success criteria|quality gates",
        ),
        (
            Kind.recommendation,
            r"recommend|next steps|\bfuture\b|required fixes|remediation|\bprevention"
            r"|lessons?|learnings?|takeaways?|mitigation|debugging|suggest|areas for",
        ),
        (
            Kind.observation,
            r"\blocalstack\b|\badaptations?\b|\badjustments?\b|(operational|functional|business) impact"
            r"|impact (assessment|analysis|on)|root cause analysis|(lint|validation)\b.*\b(fixed|resolved) in (the )?ideal|why (the )?model failed|\bsuperior\b|\bobservations?\b"
            r"|\bconsiderations?\b|(deployment|operational|business) risks?|(not|non)[- ](failures?|issues?)|\bnon-?critical\b",
        ),
    )
)


_ANY_ENTRY_KIND = Folded("|".join(f"(?:{pattern.pattern})" for _, pattern in _ENTRY_KINDS))


def entry_kind(words: str) -> Kind | None:
    """What the entries under a heading report when it names a section of non-failures
    (`Known Limitations` -> limitation, `Common Pitfalls Avoided` -> success), else None."""
    if not _ANY_ENTRY_KIND.search(words):
        return None  # most headings: one pass instead of one per kind
    for kind, pattern in _ENTRY_KINDS:
        if pattern.search(words):
            return kind
    return None


@dataclass(frozen=True)
class HeadingInfo:
    """A heading's text analysed."""

    raw: str
    """The heading text as written."""
    prefix: str
    """The numbering as written (`Issue 2:`, `3.`), empty when unnumbered."""
    title: str
    """The title without its number and without bold wrapping."""
    number: str | None
    """The printed number or id (`3`, `2.1`, `a`, `MF001`), when there is one."""
    kind: SectionKind
    severity: Impact | None
    """The level a group heading names (`## Critical Failures` -> critical)."""
    entry: Kind | None = None
    """What the entries under it are, when the heading names a section of non-failures."""

    @property
    def numbered(self) -> bool:
        return self.number is not None


def unwrap_bold(text: str) -> str:
    """`**Title**` -> `Title` (only when the emphasis wraps the whole text)."""
    match = _BOLD_WRAP.match(text.strip())
    if match and "**" not in match["inner"] and "__" not in match["inner"]:
        return match["inner"].strip()
    return text.strip()


def plain(text: str) -> str:
    """Text for matching: no emphasis markers, no leading decoration, single spaces."""
    text = re.sub(r"[*_`]+", "", text)
    text = re.sub(r"^[^\w(]+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def split_number(text: str) -> tuple[str | None, str]:
    """Split a printed number or id off a title: `1. Title` -> (`1`, `Title`)."""
    number, _, title = split_numbering(text)
    return number, title


def split_numbering(text: str) -> tuple[str | None, str, str]:
    """(number, prefix as written, title): `Issue 2: Title` -> (`2`, `Issue 2:`, `Title`)."""
    stripped = unwrap_bold(text)
    decoration = re.match(_DECORATION, stripped)
    body = stripped[decoration.end() :] if decoration else stripped
    body = unwrap_bold(body) if body.startswith(("**", "__")) else body
    for pattern in _NUMBERINGS:
        match = pattern.match(body)
        if match:
            rest = unwrap_bold(body[match.end() :].strip())
            return match["n"], match.group(0).strip(), rest
    return None, "", stripped


@lru_cache(maxsize=8192)
def analyse_heading(text: str) -> HeadingInfo:
    """Number, title, kind and group level of a heading."""
    number, prefix, title = split_numbering(text)
    words = plain(title)
    kind, severity = classify_section(words)
    entry = entry_kind(words) or (Kind.success if kind is SectionKind.success else None)
    return HeadingInfo(text, prefix, title or text.strip(), number, kind, severity, entry)


@lru_cache(maxsize=8192)
def classify_section(words: str) -> tuple[SectionKind, Impact | None]:
    """What kind of section a heading (without its number) opens, and the level it names."""
    if _SUCCESS.search(words) and not _SEVERITY_WORD.search(words):
        return SectionKind.success, None
    if _SUMMARY.search(words):
        return SectionKind.summary, None
    letter = _CATEGORY_LETTER.match(words)
    if letter:
        inner = _SEVERITY_WORD.search(words[letter.end() :])
        level = word_level(inner[1]) if inner else None
        return SectionKind.severity, level or {"a": Impact.high, "b": Impact.medium, "c": Impact.low}[letter[2].lower()]
    severity = _SEVERITY_WORD.search(words)
    leading = (
        severity is not None and severity.start() == 0 and len(words.split()) <= 6
    )  # `Critical Security Enhancements`
    if severity and (leading or _FAILURE_NOUN.search(words) or _LEVEL_NOUN.search(words)):
        word = severity[1].lower()
        level = word_level(word)
        if level is None:
            priority = _PRIORITY_NUMBER.search(words)
            level = word_level(f"p{priority[2]}") if priority else None
        return SectionKind.severity, level
    if _FAILURE_NOUN.search(words):
        return SectionKind.failures, None
    return SectionKind.other, None
