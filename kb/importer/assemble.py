"""One decoded document -> a `Case` and its `Failure` records, losing no line of it."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from kb.importer.blocks import Document, parse_blocks
from kb.importer.headings import plain, unwrap_bold
from kb.importer.outline import Outline, SectionPart, UnitPart, outline
from kb.importer.summary import parse_summary
from kb.importer.unit import FailureDraft, build_failure
from kb.models import Case, Failure, Section, Source, Summary, Task

MAX_PARSE_CHARS = 4_000_000
"""Longer documents are kept whole as text, unparsed (a warning says so)."""
FAILURE_ID_LENGTH = 60


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
    drafts: list[FailureDraft] = []
    extras: list[Section] = []
    summary, summary_index = _summary(doc, shape)
    seen_unit = False
    for index, part in enumerate(shape.parts):
        if isinstance(part, UnitPart):
            drafts.append(build_failure(doc, part, categories=categories))
            seen_unit = True
            continue
        if index == summary_index:
            continue
        after = "failures" if seen_unit else "intro"
        if summary_index is not None and index > summary_index:
            after = "summary"
        extras.append(_section(doc, part, after))
    if not drafts:
        warnings.append(("no-failures", "no failure units recognised; the text is kept in the case's intro and extra"))
    if _unclosed_fence(doc):
        warnings.append(("unclosed-fence", "a code block runs to the end of the document"))
    title = _title(shape, fallback_title)
    intro = doc.text(shape.intro) if shape.intro else ""
    inline = sum(d.inline_labels for d in drafts) > sum(d.own_line_labels for d in drafts)
    case = Case(
        id=case_id,
        title=title,
        intro=intro,
        task=task,
        source=source,
        summary=summary,
        extra=extras,
        inline_labels=inline,
    )
    return Assembled(case, _failures(drafts), warnings)


def _title(shape: Outline, fallback: str) -> str:
    if shape.title is None:
        return fallback
    return unwrap_bold(shape.title.title) or shape.title.title or fallback


def _summary(doc: Document, shape: Outline) -> tuple[Summary | None, int | None]:
    """The last `Summary` section after the failures, when it has the seed's shape."""
    first_unit = next((i for i, p in enumerate(shape.parts) if isinstance(p, UnitPart)), None)
    if first_unit is None:
        return None, None
    for index in range(len(shape.parts) - 1, first_unit, -1):
        part = shape.parts[index]
        if isinstance(part, SectionPart) and part.node.info and plain(part.node.info.raw).lower() == "summary":
            summary = parse_summary(doc, part.blocks)
            return (summary, index) if summary is not None else (None, None)
    return None, None


def _section(doc: Document, part: SectionPart, after: str) -> Section:
    """A non-failure section, verbatim, titled by its heading."""
    title = unwrap_bold(part.node.info.raw) if part.node.info else ""
    return Section(title=title or "Notes", text=doc.text(part.blocks), after=after)


def _unclosed_fence(doc: Document) -> bool:
    return any(b.kind == "fence" and not b.closed for b in doc.blocks[-1:])


def _failures(drafts: list[FailureDraft]) -> list[Failure]:
    seen: set[str] = set()
    failures = []
    for draft in drafts:
        failure_id = unique_slug(slugify(draft.title, FAILURE_ID_LENGTH) or "failure", seen)
        data = dict(draft.data)
        if draft.extra:
            data["extra"] = draft.extra
        failures.append(Failure(id=failure_id, title=draft.title, **data))
    return failures


def slugify(text: str, max_length: int = FAILURE_ID_LENGTH) -> str:
    """`Missing IAM Permission (DLQ)` -> `missing-iam-permission-dlq`, cut at a word boundary."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        cut = slug[: max_length + 1].rfind("-")
        slug = slug[: cut if cut > max_length // 2 else max_length].strip("-")
    return slug


def unique_slug(slug: str, seen: set[str]) -> str:
    """`slug`, or `slug-2`, `slug-3`, ... when taken; remembers the result."""
    candidate, number = slug, 2
    while candidate in seen:
        candidate = f"{slug}-{number}"
        number += 1
    seen.add(candidate)
    return candidate
