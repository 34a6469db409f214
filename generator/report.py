"""MODEL_FAILURES.md reports: one case rendered through ``report/MODEL_FAILURES.md.j2``.

The template owns the wording; this module prepares what is derived (order, group
headings, running numbers, totals, where each ``extra`` section goes, links to the
runnable references) and writes files atomically, only when their content changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import jinja2

from generator.env import make_env, project_templates_dir, template_problem
from kb.atomic import write_text
from kb.errors import KbError
from kb.examples import BrokenReferenceError, resolve_reference
from kb.models import Failure, Impact, Reference, Section
from kb.store import LoadedCase, load_kb
from kb.totals import totals_line

__all__ = [
    "CASE_PLACES",
    "FAILURE_SLOTS",
    "REPORT_FILE",
    "REPORT_TEMPLATE",
    "FailureEntry",
    "RenderResult",
    "failure_entries",
    "group_heading",
    "render_case",
    "render_reports",
]

REPORT_TEMPLATE = "report/MODEL_FAILURES.md.j2"
REPORT_FILE = "MODEL_FAILURES.md"

FAILURE_SLOTS = (
    "title",
    "impact",
    "description",
    "location",
    "model_response",
    "ideal_response",
    "error",
    "root_cause",
    "docs",
    "impact_details",
    "training_value",
    "end",
)
"""Where a failure's ``extra`` section can go: right after the block of the named field."""
_SLOT_ALIASES = {"impact_label": "impact", "docs_note": "docs"}

CASE_PLACES = ("intro", "failures", "end")
"""Where a case's ``extra`` section can go: after the intro, after the failures, at the end."""
_PLACE_ALIASES = {"title": "intro", "summary": "end"}

OTHER_GROUP = "Other Failures"
"""The group heading of failures without an impact level."""


@dataclass(frozen=True)
class FailureEntry:
    """One failure as the report shows it."""

    number: int
    """The running number across the whole report (`### 3.`)."""
    heading: str | None
    """The `##` group heading to print before this failure; None when it continues the previous group."""
    failure: Failure
    extras: dict[str, list[Section]]
    """The failure's ``extra`` sections by slot (every key of ``FAILURE_SLOTS`` is present)."""
    reference_link: str | None
    """The relative link from the report to ``ideal_response.reference.path``."""


@dataclass
class RenderResult:
    """What ``render_reports`` wrote (or, with ``check``, would write)."""

    checked: bool
    """True when nothing was written (``check=True``)."""
    created: list[Path] = field(default_factory=list)
    """Reports that did not exist."""
    updated: list[Path] = field(default_factory=list)
    """Reports whose content changed."""
    unchanged: list[Path] = field(default_factory=list)

    @property
    def changed(self) -> list[Path]:
        """Every report that was (or would be) written, sorted."""
        return sorted(self.created + self.updated)


def group_heading(failure: Failure) -> str:
    """The `##` heading a failure is listed under (`Critical Failures`, or its own ``group``)."""
    if failure.group:
        return failure.group
    return f"{failure.impact.label} Failures" if failure.impact else OTHER_GROUP


def failure_entries(case: LoadedCase, *, report_dir: Path, project_root: Path) -> list[FailureEntry]:
    """The failures in report order: by impact (no level last), NN order within a level."""
    ordered = sorted(case.failures, key=lambda f: f.failure.impact.rank if f.failure.impact else len(Impact))
    entries: list[FailureEntry] = []
    previous: str | None = None
    for number, loaded in enumerate(ordered, start=1):
        failure = loaded.failure
        heading = group_heading(failure)
        reference = failure.ideal_response.reference if failure.ideal_response else None
        entries.append(
            FailureEntry(
                number=number,
                heading=heading if heading != previous else None,
                failure=failure,
                extras=_placed(failure.extra, FAILURE_SLOTS, _SLOT_ALIASES),
                reference_link=_reference_link(reference, report_dir, project_root) if reference else None,
            )
        )
        previous = heading
    return entries


def render_case(
    case: LoadedCase,
    env: jinja2.Environment,
    *,
    report_dir: Path | None = None,
    project_root: Path | None = None,
) -> str:
    """The MODEL_FAILURES.md text of one case (ends with exactly one newline).

    ``project_root`` is the folder reference paths are relative to (default: the KB
    folder's parent); ``report_dir`` is where the report will live (default:
    ``<project_root>/reports/<case-id>``), so reference links resolve from there.
    """
    root = project_root if project_root is not None else case.path.resolve().parent.parent
    where = report_dir if report_dir is not None else root / "reports" / case.id
    try:
        template = env.get_template(REPORT_TEMPLATE)
        text = template.render(
            case=case.case,
            failures=failure_entries(case, report_dir=where, project_root=root),
            sections=_placed(case.case.extra, CASE_PLACES, _PLACE_ALIASES),
            totals=totals_line(f.failure for f in case.failures),
        )
    except jinja2.TemplateError as exc:
        raise template_problem(exc, template=REPORT_TEMPLATE, context=f"case {case.id}") from None
    return text.rstrip("\n") + "\n"


def render_reports(
    kb_root: Path | str,
    out: Path | str,
    cases: Sequence[str] | None = None,
    templates: Path | None = None,
    check: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> RenderResult:
    """Render ``OUT/<case-id>/MODEL_FAILURES.md`` for each case (all when ``cases`` is None).

    Loads the KB with ``load_kb`` (an invalid KB raises ``InvalidKbError``); templates come
    from ``templates``, else the project's ``templates/`` beside the KB, then the built-in
    ones. A report is written (atomically) only when its content changed; with ``check``
    nothing is written and the result lists what would change.
    """
    kb_root, out = Path(kb_root), Path(out)
    kb = load_kb(kb_root, cases=list(cases) if cases is not None else None)
    env = make_env(templates if templates is not None else project_templates_dir(kb_root))
    project_root = kb_root.resolve().parent
    result = RenderResult(checked=check)
    for case in kb.cases:
        report_dir = out / case.id
        path = report_dir / REPORT_FILE
        text = render_case(case, env, report_dir=report_dir.resolve(), project_root=project_root)
        current = _read(path)
        if current == text.encode("utf-8"):
            result.unchanged.append(path)
        else:
            (result.created if current is None else result.updated).append(path)
            if not check:
                _write(path, text)
        if on_progress is not None:
            on_progress(1)
    return result


def _placed(sections: list[Section], places: tuple[str, ...], aliases: dict[str, str]) -> dict[str, list[Section]]:
    """Sections by the place they go; an unknown or missing ``after`` means the end."""
    placed: dict[str, list[Section]] = {place: [] for place in places}
    for section in sections:
        place = aliases.get(section.after or "", section.after or "end")
        placed[place if place in placed else "end"].append(section)
    return placed


def _reference_link(reference: Reference, report_dir: Path, project_root: Path) -> str:
    """The path from the report's folder to the reference file, URL-quoted, with `/` separators,
    anchored at the symbol's line (`#L42`) when the symbol can be found."""
    relative = os.path.relpath(project_root / reference.path, report_dir)
    link = quote(Path(relative).as_posix(), safe="/-._~")
    try:
        return f"{link}#L{resolve_reference(project_root, reference).line}"
    except BrokenReferenceError:  # `kb check` reports it; the report still links the file
        return link


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KbError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _write(path: Path, text: str) -> None:
    try:
        write_text(path, text)
    except OSError as exc:
        raise KbError(f"{path}: cannot write: {exc.strerror or exc}") from None
