"""One decoded document -> a `Case` and its `Failure` records, losing no line of it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from kb.importer.blocks import Document, parse_blocks
from kb.importer.headings import plain, unwrap_bold
from kb.importer.levels import level_hints
from kb.importer.outline import Outline, SectionPart, UnitPart, outline
from kb.importer.stance import document_stance
from kb.importer.summary import parse_summary
from kb.importer.unit import FailureDraft, build_failure
from kb.models import Case, CaseLayout, Failure, Impact, Kind, Section, SectionLayout, Source, Summary, Task
from kb.store import slugify

MAX_PARSE_CHARS = 4_000_000
"""Longer documents are kept whole as text, unparsed (a warning says so)."""


@dataclass
class Assembled:
    """The records made from one document, and what the importer had to warn about."""

    case: Case
    failures: list[Failure]
    warnings: list[tuple[str, str]] = field(default_factory=list)


def assemble_case(
    text: str,
    *,
    case_id: str,
    fallback_title: str,
    source: Source | None,
    task: Task | None,
    categories: frozenset[str],
) -> Assembled:
    """Build the case and failures of one document (never raises on any text)."""
    warnings: list[tuple[str, str]] = []
    if not text.strip():
        warnings.append(("empty", "empty document; imported as a case without failures"))
        case = Case(id=case_id, title=fallback_title, source=source, task=task)
        return Assembled(case, [], warnings)
    if len(text) > MAX_PARSE_CHARS:
        warnings.append(("too-large", f"{len(text):,} characters; kept whole as the case's intro, not parsed"))
        case = Case(id=case_id, title=fallback_title, intro=text.strip("\n"), source=source, task=task)
        return Assembled(case, [], warnings)
    doc = parse_blocks(text)
    shape = outline(doc)
    stance = document_stance(doc)
    hints = level_hints(doc)
    drafts: list[FailureDraft] = []
    extras: list[Section] = []
    summary_styles: Counter[bool] = Counter()
    summary, summary_index = _summary(doc, shape, summary_styles)
    seen_unit = False
    between: list[tuple[int, int]] = []  # (extra, the draft it follows) for sections after a failure
    for index, part in enumerate(shape.parts):
        if isinstance(part, UnitPart):
            if stance is not Kind.failure and part.entry is Kind.failure:
                part = replace(part, entry=stance)
            drafts.append(build_failure(doc, part, categories=categories, hints=hints))
            seen_unit = True
            continue
        if index == summary_index:
            continue
        after = "failures" if seen_unit else "intro"
        if summary_index is not None and index > summary_index:
            after = "summary"
        elif seen_unit:
            between.append((len(extras), len(drafts) - 1))
        extras.append(_section(doc, part, after))
    if not drafts:
        warnings.append(("no-failures", "no failure units recognised; the text is kept in the case's intro and extra"))
    elif stance is not Kind.failure:
        what = "a success report" if stance is Kind.observation else "a list of generic or possible failures"
        warnings.append(("no-failures", f"the document is {what}: {len(drafts)} entries kept as `kind: {stance}`"))
    if _unclosed_fence(doc):
        warnings.append(("unclosed-fence", "a code block runs to the end of the document"))
    title = _title(shape, fallback_title)
    intro = doc.text(shape.intro) if shape.intro else ""
    inline = _inline_labels(drafts, summary_styles if summary is not None else Counter())
    failures = _failures(drafts)
    for extra, follows in between:
        if follows < len(failures) - 1:  # more failures come after it: keep its place among them
            extras[extra] = extras[extra].model_copy(update={"after": f"failure:{failures[follows].id}"})
    case = Case(
        id=case_id,
        title=title,
        intro=intro,
        task=task,
        source=source,
        summary=summary,
        extra=extras,
        layout=CaseLayout(
            inline_labels=inline,
            order=_order(failures),
            numbering=_numbering(failures, [d.number for d in drafts]),
            rules=_rules([d.rule for d in drafts]),
            heading_level=_heading_level(drafts),
            bold_titles=sum(d.bold_title for d in drafts) * 2 > len(drafts),
            colon_inside=sum(d.colons[True] for d in drafts) > sum(d.colons[False] for d in drafts),
            list_labels=sum(d.listed[True] for d in drafts) > sum(d.listed[False] for d in drafts),
            detail_paragraphs=any(d.detail_paragraph for d in drafts),
        ),
    )
    return Assembled(case, failures, warnings)


def _inline_labels(drafts: list[FailureDraft], summary: Counter[bool]) -> bool | list[str]:
    """Which labels the document wrote on the same line as their value (the case's ``inline_labels``).

    Each field (and the summary) follows its own majority; a document that writes every
    label one way gets a plain True or False.
    """
    tally: Counter[str] = Counter()
    for draft in drafts:
        for style, count in draft.label_styles.items():
            tally[style.field] += count if style.inline else -count
    if summary:
        tally["summary"] += summary[True] - summary[False]
    fields = sorted(tally)
    inline = [key for key in fields if tally[key] > 0]
    if len(inline) == len(fields):
        return bool(fields)
    return inline or False


def _heading_level(drafts: list[FailureDraft]) -> int | None:
    """The level most failure headings had, when it is not the report's (3); None for bold lines."""
    levels = Counter(d.heading_level for d in drafts)
    if not levels:
        return None
    level = max(levels, key=lambda found: (levels[found], found == 3))
    return level if 2 <= level <= 6 and level != 3 else None


def _order(failures: list[Failure]) -> Literal["source"] | None:
    """`source` when the document did not list its failures by impact (a report would re-sort them)."""
    ranks = [f.impact.rank if f.impact else len(Impact) for f in failures]
    return "source" if ranks != sorted(ranks) else None


def _numbering(failures: list[Failure], printed: list[str | None]) -> Literal["group"] | None:
    """`group` when the document restarted its numbers under each group heading (e.g. `## High Failures`)."""
    if not failures or not all(number and number.isdigit() for number in printed):
        return None
    running = list(range(1, len(failures) + 1))
    grouped: list[int] = []
    previous: str | None = None
    for failure in failures:
        heading = failure.group or (f"{failure.impact.label} Failures" if failure.impact else "Other Failures")
        grouped.append(1 if heading != previous else grouped[-1] + 1)
        previous = heading
    numbers = [int(number or 0) for number in printed]
    fits = sum(a == b for a, b in zip(numbers, grouped, strict=True))
    return "group" if fits > sum(a == b for a, b in zip(numbers, running, strict=True)) else None


RuleStyle = Literal["each", "between", "none"]
_RULE_STYLES: tuple[tuple[RuleStyle | None, Callable[[int, int], bool]], ...] = (
    (None, lambda index, count: True),  # after each failure: the report's default
    ("between", lambda index, count: index < count - 1),
    ("none", lambda index, count: False),
)


def _rules(closed: list[bool]) -> RuleStyle | None:
    """The report's rule style closest to where the document put `---` after its failures (None: each)."""
    count = len(closed)
    best: RuleStyle | None = None
    misses = count + 1
    for style, rule in _RULE_STYLES:
        wrong = sum(rule(index, count) != has for index, has in enumerate(closed))
        if wrong < misses:
            best, misses = style, wrong
    return best


def _title(shape: Outline, fallback: str) -> str:
    if shape.title is None:
        return fallback
    return unwrap_bold(shape.title.title) or shape.title.title or fallback


def _summary(doc: Document, shape: Outline, styles: Counter[bool]) -> tuple[Summary | None, int | None]:
    """The last `Summary` section after the failures, when it has the seed's shape (``styles``:
    how its labels were written, see ``parse_summary``)."""
    first_unit = next((i for i, p in enumerate(shape.parts) if isinstance(p, UnitPart)), None)
    if first_unit is None:
        return None, None
    for index in range(len(shape.parts) - 1, first_unit, -1):
        part = shape.parts[index]
        if isinstance(part, SectionPart) and part.node.info and plain(part.node.info.raw).lower() == "summary":
            summary = parse_summary(doc, part.blocks, styles)
            return (summary, index) if summary is not None else (None, None)
    return None, None


def _section(doc: Document, part: SectionPart, after: str) -> Section:
    """A non-failure section, verbatim, titled by its heading."""
    title = unwrap_bold(part.node.info.raw) if part.node.info else ""
    level = part.node.level if part.node.heading is not None and part.node.level in (1, 3, 4, 5, 6) else None
    return Section(title=title or "Notes", text=doc.text(part.blocks), after=after, layout=SectionLayout(heading=level))


def _unclosed_fence(doc: Document) -> bool:
    return any(b.kind == "fence" and not b.closed for b in doc.blocks[-1:])


def _failures(drafts: list[FailureDraft]) -> list[Failure]:
    seen: dict[str, int] = {}
    failures = []
    for draft in drafts:
        failure_id = unique_slug(slugify(draft.title) or "failure", seen)
        data = dict(draft.data)
        if draft.extra:
            data["extra"] = draft.extra
        failures.append(Failure(id=failure_id, title=draft.title, **data))
    return failures


def unique_slug(slug: str, seen: dict[str, int]) -> str:
    """`slug`, or `slug-2`, `slug-3`, ... when taken; remembers the result.

    ``seen`` maps each slug given out to the next number to try after it, so a
    thousand failures of one title cost a thousand steps, not half a million.
    """
    candidate, number = slug, seen.get(slug, 2)
    while candidate in seen:
        candidate = f"{slug}-{number}"
        number += 1
    seen[slug] = number
    seen.setdefault(candidate, 2)
    return candidate
