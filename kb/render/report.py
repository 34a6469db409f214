"""MODEL_FAILURES.md reports: one case rendered through ``report/MODEL_FAILURES.md.j2``.

The template owns the wording; this module prepares what is derived (order, group
headings, running numbers, totals, where each ``extra`` section goes, links to the
runnable references) and writes files atomically, only when their content changed.

A native case follows the seed's format exactly. An imported case carries presentation
hints (``Case.layout``: ``order``, ``numbering``, ``rules``, ``inline_labels``, ... and a
failure's ``layout.labels`` and ``layout.field_order``) that ``kb import`` sets so the report gives its source
document back; the helpers here turn them into what the template prints.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args
from urllib.parse import quote

from kb.atomic import write_bytes
from kb.cache import RecordCache, digest
from kb.check import check_scan
from kb.documents import document_problem
from kb.errors import InvalidKbError, KbError, Problem, Severity
from kb.examples import BrokenReferenceError, resolve_reference
from kb.fileindex import RACY_NS
from kb.models import Case, Failure, FailureField, Impact, Reference, Section
from kb.pool import crashed, worker_pool
from kb.progress import NO_PROGRESS, Progress
from kb.render.env import make_env, project_templates_dir, require_templates_dir, template_problem, templates_digest
from kb.render.markdown import inline
from kb.store import TAXONOMY_FILE, CaseFolder, LoadedCase, LoadedFailure, Parsed, Scan, read_file, scan_files
from kb.totals import totals_line

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "CASE_PLACES",
    "FAILURE_SLOTS",
    "REPORT_FILE",
    "REPORT_TEMPLATE",
    "FailureEntry",
    "RenderResult",
    "case_sections",
    "failure_entries",
    "failure_order",
    "group_heading",
    "heading_text",
    "inline_label",
    "label_markup",
    "render_case",
    "render_reports",
    "starts_with_prose",
    "withdrawn_failures",
]

REPORT_TEMPLATE = "report/MODEL_FAILURES.md.j2"
REPORT_FILE = "MODEL_FAILURES.md"

FAILURE_SLOTS: tuple[str, ...] = ("title", *get_args(FailureField), "end")
"""Where a failure's ``extra`` section can go: right after the block of the named field."""
_SLOT_ALIASES = {"impact_label": "impact", "docs_note": "docs"}

CASE_PLACES = ("intro", "failures", "end")
"""Where a case's ``extra`` section can go: after the intro, after the failures, at the end."""
_PLACE_ALIASES = {"title": "intro", "summary": "end"}

DEFAULT_HEADING_LEVEL = 3
"""Failure headings are `### 1. Title`, their group headings one level up."""

OTHER_GROUP = "Other Failures"
"""The group heading of failures without an impact level."""


@dataclass(frozen=True)
class FailureEntry:
    """One failure as the report shows it."""

    number: int
    """The failure's position in the report, from 1 (unique: pages use it for ids)."""
    heading: str | None
    """The `##` group heading to print before this failure; None when it continues the previous group."""
    failure: Failure
    extras: dict[str, list[Section]]
    """The failure's ``extra`` sections by slot (every key of ``FAILURE_SLOTS`` is present)."""
    reference_link: str | None
    """The relative link from the report to ``ideal_response.reference.path``."""
    sections: list[Section] = field(default_factory=list)
    """The case's ``extra`` sections that follow this failure (``after: failure:<id>``)."""
    numbering: str = ""
    """What precedes the title in the `###` heading, with its space: `3. ` (the position, or the
    number within its group with the case's ``numbering`` hint), the source's worded numbering
    (`Issue 3: `), or nothing."""
    slots: tuple[str, ...] = FAILURE_SLOTS
    """The slots with something to print, in order (``FAILURE_SLOTS``, or the failure's ``field_order``)."""
    rule: bool = True
    """Whether a `---` rule closes the failure (the case's ``rules`` hint)."""


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
    if failure.group is not None:
        return failure.group  # empty: listed under no group heading
    return f"{failure.impact.label} Failures" if failure.impact else OTHER_GROUP


def failure_order(case: Case, failures: Sequence[Failure]) -> list[int]:
    """The indexes of ``failures`` (given in NN order) in report order.

    By impact (no level last), NN order within a level; in NN order when the case's
    ``order`` hint is `source` (an imported document that did not list by impact).
    """
    indexes = list(range(len(failures)))
    if case.layout.order == "source":
        return indexes
    return sorted(indexes, key=lambda i: _rank(failures[i]))


def failure_entries(case: LoadedCase, *, report_dir: Path, project_root: Path) -> list[FailureEntry]:
    """The failures in report order (see ``failure_order``), numbered, grouped, with their rules.
    Withdrawn failures are left out (see ``withdrawn_failures``).

    The case's presentation hints (set by `kb import` to match a source document) pick the
    order, the numbering and the rules; without them a report follows the seed's format.
    """
    failures = [loaded.failure for loaded in case.failures if loaded.failure.withdrawn is None]
    ordered = [failures[i] for i in failure_order(case.case, failures)]
    rules = case.case.layout.rules or "each"
    entries: list[FailureEntry] = []
    previous: str | None = None
    shown = 0
    for index, failure in enumerate(ordered):
        heading = group_heading(failure)
        shown = 1 if case.case.layout.numbering == "group" and heading != previous else shown + 1
        reference = failure.ideal_response.reference if failure.ideal_response else None
        extras = _placed(failure.extra, FAILURE_SLOTS, _SLOT_ALIASES)
        entries.append(
            FailureEntry(
                number=index + 1,
                heading=heading if heading != previous else None,
                failure=failure,
                extras=extras,
                sections=[s for s in case.case.extra if s.after == f"failure:{failure.id}"],
                reference_link=_reference_link(reference, report_dir, project_root) if reference else None,
                numbering=_numbering(failure, shown),
                slots=_slots(failure, extras),
                rule=rules == "each" or (rules == "between" and index < len(ordered) - 1),
            )
        )
        previous = heading
    return entries


def withdrawn_failures(case: LoadedCase) -> list[Failure]:
    """The case's withdrawn failures, in NN order: reports and the site list them apart, under
    `Withdrawn`, with the reason, and count them nowhere."""
    return [loaded.failure for loaded in case.failures if loaded.failure.withdrawn is not None]


def _slots(failure: Failure, extras: dict[str, list[Section]]) -> tuple[str, ...]:
    """The slots that print something, in order: ``FAILURE_SLOTS``, with the fields of the
    failure's ``field_order`` hint first, in that order."""
    order: tuple[str, ...] = FAILURE_SLOTS
    if failure.layout.field_order:
        first = [name for name in dict.fromkeys(failure.layout.field_order) if name in FAILURE_SLOTS]
        order = ("title", *first, *(name for name in FAILURE_SLOTS[1:-1] if name not in first), "end")
    return tuple(name for name in order if extras[name] or _filled(failure, name))


def _filled(failure: Failure, slot: str) -> bool:
    """Whether a failure has a value for a slot (the template decides how, and whether, it shows)."""
    if slot == "impact":
        return bool(failure.impact or failure.impact_label)
    if slot == "docs":
        return bool(failure.docs or failure.docs_note or failure.references)
    return slot not in ("title", "end") and bool(getattr(failure, slot))


def _rank(failure: Failure) -> int:
    return failure.impact.rank if failure.impact else len(Impact)


_DIGITS = re.compile(r"\d+")


def _numbering(failure: Failure, number: int) -> str:
    """`3. `; the source's worded numbering with the number in it (`Issue 2:` -> `Issue 3: `); or
    nothing for a source whose heading had no number (an empty ``title`` label)."""
    worded = failure.layout.labels.get("title")
    if worded is None:
        return f"{number}. "
    if not worded.strip():
        return ""
    return _DIGITS.sub(str(number), inline(worded), count=1) + " "


_FIRST_LINE = re.compile(r"(?:[ \t]*\n)*([^\n]*\S[^\n]*)")
_QUALIFIED = re.compile(r"^(?P<label>.*?\S)\s*(?P<qualifier>\([^()]*\))$")
_NOT_PROSE = re.compile(
    r"""^(?:
        \s                          # indented code or a lazy continuation
      | \#{1,6}(?:[ \t]|$)          # heading
      | [>|<]                       # quote, table row, HTML
      | [-+*](?:[ \t]|$)            # bullet
      | \d{1,9}[.)](?:[ \t]|$)      # ordered item
      | `{3,} | ~{3,}               # fence
      | ([-*_=])(?:[ \t]*\1){2,}[ \t]*$  # rule or setext underline
    )""",
    re.VERBOSE,
)


def label_markup(label: str, key: str = "", *, colon_inside: bool = False, listed: bool = False) -> str:
    """A label in bold with its colon, safe inline: `**Root Cause**:`, a trailing qualifier outside
    the bold (`**Fix** (Line 3):`). The case's hints may put the colon inside (`**Root Cause:**`)
    and make a failure's label (any ``key`` but `summary`) open a list item (`- **Root Cause**:`)."""
    label = inline(label)
    bullet = "- " if listed and key != "summary" else ""
    if colon_inside:
        return f"{bullet}**{label}:**"
    match = _QUALIFIED.match(label)
    if match and match["label"] != label:
        return f"{bullet}**{match['label']}** {match['qualifier']}:"
    return f"{bullet}**{label}**:"


_ESCAPED_NUMBER = re.compile(r"^(\d{1,9})\\([.)])")


def heading_text(text: str) -> str:
    """``inline`` for the text of a heading: a leading number needs no escape there (`## 2. Notes`)."""
    return _ESCAPED_NUMBER.sub(r"\1\2", inline(text), count=1)


def inline_label(case: Case, key: str, text: str) -> bool:
    """Whether a value goes on its label's line: the case's ``inline_labels`` hint covers ``key``
    (a field name, `extra` or `summary`) and the value opens with prose."""
    hint = case.layout.inline_labels
    covered = key in hint if isinstance(hint, list) else hint
    return covered and starts_with_prose(text)


def starts_with_prose(text: str) -> bool:
    """Whether a Markdown value opens with a line of prose, so it can follow its label on the same line."""
    first = _FIRST_LINE.match(text)
    return first is not None and not _NOT_PROSE.match(first[1])


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
    import jinja2  # (no cost: ``env`` was made with it)

    root = project_root if project_root is not None else case.path.resolve().parent.parent
    where = report_dir if report_dir is not None else root / "reports" / case.id
    layout = case.case.layout
    try:
        template = env.get_template(REPORT_TEMPLATE)
        text = template.render(
            case=case.case,
            failures=failure_entries(case, report_dir=where, project_root=root),
            sections=case_sections(case),
            withdrawn=withdrawn_failures(case),
            totals=totals_line(f.failure for f in case.failures),
            label=partial(label_markup, colon_inside=layout.colon_inside, listed=layout.list_labels),
            heading_marks="#" * (layout.heading_level or DEFAULT_HEADING_LEVEL),
            nest="  " if layout.list_labels else "",
            heading=heading_text,
            inline=partial(inline_label, case.case),
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
    progress: Progress = NO_PROGRESS,
) -> RenderResult:
    """Render ``OUT/<case-id>/MODEL_FAILURES.md`` for each case (all when ``cases`` is None).

    A knowledge base with `kb check` errors (in the cases rendered, or in no case) raises
    ``InvalidKbError`` and nothing is written; templates come from ``templates``, else the
    project's ``templates/`` beside the KB, then the built-in ones.
    A report is written (atomically) only when its content changed; with ``check``
    nothing is written and the result lists what would change.

    Incremental, as make: a case is rendered again only when its records, the templates,
    the taxonomy, an example it links or its report file changed since the report was
    last written or found up to date (kb's cache remembers what each was made from); so
    with nothing changed no record is loaded and nothing is written.
    """
    kb_root, out = Path(kb_root), Path(out)
    wanted = set(cases) if cases is not None else None
    result = RenderResult(checked=check)
    templates_dir = templates if templates is not None else project_templates_dir(kb_root)
    project_root = kb_root.resolve().parent
    with RecordCache.open(kb_root) as record_cache:
        scan = scan_files(kb_root, record_cache, cases=list(cases) if cases is not None else None, parse=False)
        texts = _render_unread(scan, templates_dir, out, project_root)  # cases not read yet, in parallel
        scan.parse_pending()
        whole = scan if cases is None else scan_files(kb_root, record_cache, slim=True)
        refused = [p for p in check_scan(whole).errors if _concerns(p, kb_root, wanted)]  # before any write
        if refused:
            raise InvalidKbError(refused)
        unreadable = [p for p in scan.problems if p.severity is Severity.error]  # e.g. no such case
        if unreadable:
            raise InvalidKbError(unreadable)
        require_templates_dir(templates_dir)
        inputs = _inputs_key(scan, templates_dir, out.resolve(), project_root)
        made = record_cache.results("render:")
        folders = [f for f in scan.layout.cases if scan.entries[f.record_keys()[0]].valid]
        progress.start("render", len(folders))
        fresh: dict[str, Path] = {}
        for folder in folders:
            path = out / str(scan.entries[folder.record_keys()[0]].ident) / REPORT_FILE
            key = _case_key(inputs, scan.digests(folder))
            if folder.path.name not in texts and _up_to_date(
                made.get(f"render:{folder.path.name}"), key, path, project_root
            ):
                fresh[folder.path.name] = path
        stale = [f for f in folders if f.path.name not in fresh and f.path.name not in texts]
        if stale:
            env = make_env(templates_dir)
            for case in scan.load(stale).cases:
                report_dir = out / case.id
                text = render_case(case, env, report_dir=report_dir.resolve(), project_root=project_root)
                texts[case.path.name] = (report_dir / REPORT_FILE, text.encode("utf-8"), _references(case))
        done: dict[str, Any] = {}
        for folder in folders:
            name = folder.path.name
            if name in fresh:
                result.unchanged.append(fresh[name])
                progress.advance(1)
                continue
            path, report, refs = texts[name]
            current = _read(path)
            if current == report:
                result.unchanged.append(path)
            else:
                (result.created if current is None else result.updated).append(path)
                if not check:
                    _write(path, report)
            if current == report or not check:
                key = _case_key(inputs, scan.digests(folder))
                done[f"render:{name}"] = _made(key, refs, path, report, project_root)
            progress.advance(1)
        record_cache.put_results({k: v for k, v in done.items() if v is not None})
    return result


# -- rendering cases not read yet, in parallel -------------------------------------------------

POOL_MIN_CASES = 100
"""Below this many cases to read and render, a process pool costs more than it saves."""

Rendered = tuple[Path, bytes, list[str]]
"""A case's report: where it goes, its bytes, the example files it links."""


def _render_unread(scan: Scan, templates_dir: Path | None, out: Path, project_root: Path) -> dict[str, Rendered]:
    """Read and render, in worker processes, the cases with files the cache does not know (a
    cold build): records never travel between processes, only reports and cache entries."""
    pending = set(scan.pending)
    unread = [f for f in scan.layout.cases if not pending.isdisjoint(f.record_keys())]
    workers = min(os.cpu_count() or 1, 8)
    if len(unread) < POOL_MIN_CASES or workers < 2:
        return {}
    size = max(10, len(unread) // (workers * 8))
    jobs = [
        (
            scan.root,
            templates_dir,
            out,
            project_root,
            [(f.path.name, f.names, f.documents) for f in unread[i : i + size]],
        )
        for i in range(0, len(unread), size)
    ]
    _warm_env(templates_dir)
    texts: dict[str, Rendered] = {}
    finished = [0]
    with crashed("rendering reports", finished, len(unread)), worker_pool(workers) as pool:
        for chunk in pool.map(_render_chunk, jobs):
            finished[0] += len(chunk)
            scan.adopt([file for _, files, _, _ in chunk for file in files])
            texts.update((name, rendered) for name, _, rendered, _ in chunk if rendered is not None)
            scan.documents.update(checked for _, _, _, documents in chunk for checked in documents)
    return texts


def _render_chunk(
    job: tuple[Path, Path | None, Path, Path, list[tuple[str, list[tuple[int, str]], tuple[str, ...]]]],
) -> list[tuple[str, list[tuple[str, Parsed]], Rendered | None, list[tuple[Path, Problem | None]]]]:
    """Read the files of each case folder, render the case when they are all valid and check its
    task documents for `kb check` (in a worker)."""
    root, templates_dir, out, project_root, folders = job
    env = _worker_env(templates_dir)
    done = []
    for name, names, documents in folders:
        folder = CaseFolder(root / name, names, documents)
        keys = folder.record_keys()
        parsed = [(key, read_file(root / key, Case if i == 0 else Failure)) for i, key in enumerate(keys)]
        rendered = None
        if all(entry.valid for _, (_, entry, _) in parsed):
            case_record = parsed[0][1][1].record
            failures = [
                LoadedFailure(path, number, entry.record)
                for (number, path), (_, (_, entry, _)) in zip(folder.failures, parsed[1:], strict=True)
            ]
            case = LoadedCase(folder.path, case_record, failures)
            report_dir = out / case.id
            with contextlib.suppress(KbError):  # a broken template: said after `kb check`'s errors, by the parent
                text = render_case(case, env, report_dir=report_dir.resolve(), project_root=project_root)
                rendered = (report_dir / REPORT_FILE, text.encode("utf-8"), _references(case))
        files = [(key, (stat, entry._replace(record=None), payloads)) for key, (stat, entry, payloads) in parsed]
        checked = [(folder.path / document, document_problem(folder.path / document)) for document in documents]
        done.append((name, files, rendered, checked))
    return done


@functools.cache
def _worker_env(templates_dir: Path | None) -> jinja2.Environment:
    return make_env(templates_dir)


def _warm_env(templates_dir: Path | None) -> None:
    """Import Jinja and compile the report template once, here, for every forked worker to inherit
    (each compiled it on its own before). A failure is left for the workers to meet as before."""
    import multiprocessing

    if multiprocessing.get_start_method() != "fork":  # (what the pool would pick anyway)
        return
    with contextlib.suppress(Exception):
        _worker_env(templates_dir).get_template(REPORT_TEMPLATE)


def _references(case: LoadedCase) -> list[str]:
    """The example files the case's fixes link to."""
    ideals = (f.failure.ideal_response for f in case.failures)
    return sorted({ideal.reference.path for ideal in ideals if ideal is not None and ideal.reference is not None})


# -- knowing that a report is up to date ---------------------------------------------------


def _inputs_key(scan: Scan, templates_dir: Path | None, out: Path, project_root: Path) -> str:
    """What every report depends on beside its case: the templates, the taxonomy and where things are."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{out}\0{project_root}\0".encode())
    taxonomy = scan.entries.get(TAXONOMY_FILE)
    h.update(taxonomy.digest if taxonomy else b"-")
    h.update(templates_digest(templates_dir).encode())
    return h.hexdigest()


def _case_key(inputs: str, digests: list[tuple[str, str]]) -> str:
    return hashlib.blake2b(f"{inputs}\0{digests}".encode(), digest_size=16).hexdigest()


def _file_digest(path: Path) -> str | None:
    try:
        return digest(path.read_bytes()).hex()
    except OSError:
        return None


def _made(key: str, refs: list[str], path: Path, text: bytes, project_root: Path) -> dict[str, Any] | None:
    """What the report at ``path`` (holding ``text``) was made from, for ``_up_to_date``."""
    try:
        st = path.stat()
    except OSError:
        return None
    examples = {ref: _file_digest(project_root / ref) for ref in refs}
    stat = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
    return {"key": key, "examples": examples, "out": stat, "digest": digest(text).hex(), "seen": time.time_ns()}


def _up_to_date(made: Any, key: str, path: Path, project_root: Path) -> bool:
    """True when the report at ``path`` is what rendering its case now would give: made from the
    same inputs, its examples unchanged, and the file as it was written (by stat; by its bytes
    when the stat changed or was taken in the same clock tick as the file was written)."""
    try:
        if made["key"] != key:
            return False
        if any(_file_digest(project_root / ref) != was for ref, was in made["examples"].items()):
            return False
        st = path.stat()
        stat = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        if stat == made["out"] and st.st_mtime_ns < made["seen"] - RACY_NS:
            return True
        return bool(_file_digest(path) == made["digest"])
    except (OSError, KeyError, TypeError, AttributeError):
        return False


def _placed(
    sections: list[Section], places: tuple[str, ...], aliases: dict[str, str], skip: frozenset[str] = frozenset()
) -> dict[str, list[Section]]:
    """Sections by the place they go; an unknown or missing ``after`` means the end (``skip``: placed elsewhere)."""
    placed: dict[str, list[Section]] = {place: [] for place in places}
    for section in sections:
        if section.after in skip:
            continue
        place = aliases.get(section.after or "", section.after or "end")
        placed[place if place in placed else "end"].append(section)
    return placed


def case_sections(case: LoadedCase) -> dict[str, list[Section]]:
    """The case's ``extra`` sections by place (``CASE_PLACES``), except those placed right after
    one of its failures (``after: failure:<id>``: ``FailureEntry.sections``). Reports and the site
    both place sections through this and ``failure_entries``."""
    return _placed(case.case.extra, CASE_PLACES, _PLACE_ALIASES, _failure_places(case))


def _failure_places(case: LoadedCase) -> frozenset[str]:
    """The ``after`` values that put a case section right after one of its failures."""
    return frozenset(f"failure:{loaded.failure.id}" for loaded in case.failures if loaded.failure.withdrawn is None)


def _reference_link(reference: Reference, report_dir: Path, project_root: Path) -> str:
    """The path from the report's folder to the reference file, URL-quoted, with `/` separators,
    anchored at the symbol's line (`#L42`) when the symbol can be found."""
    relative = os.path.relpath(project_root / reference.path, report_dir)
    link = quote(Path(relative).as_posix(), safe="/-._~")
    try:
        return f"{link}#L{resolve_reference(project_root, reference).line}"
    except BrokenReferenceError:  # `kb check` reports it; the report still links the file
        return link


def _concerns(problem: Problem, kb_root: Path, cases: set[str] | None) -> bool:
    """Whether a problem stops rendering ``cases`` (all when None): it is in one of them, or in no case."""
    if cases is None:
        return True
    try:
        relative = Path(problem.path).resolve().relative_to(kb_root.resolve())
    except ValueError:
        return True
    return len(relative.parts) < 2 or relative.parts[0] in cases


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KbError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _write(path: Path, data: bytes) -> None:
    """Write a report atomically; not fsync'ed: a report is derived, and one a crash left
    stale or empty differs from its cache entry, so the next render writes it again."""
    try:
        write_bytes(path, data, durable=False)
    except OSError as exc:
        raise KbError(f"{path}: cannot write: {exc.strerror or exc}") from None
