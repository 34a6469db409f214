"""The `kb` command line: parse options, call one library function, print, exit.

This is the only module that prints or exits. Errors from the library are mapped to
messages, flag hints and exit codes in one place (``_fail``): 0 ok, 1 data or user
errors, 2 usage errors. Long work reports through one progress bar (``progress_bar``,
a ``kb.progress.Progress``).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import gc
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from kb.errors import (
    ExistsError,
    InvalidKbError,
    KbError,
    LicenseError,
    RecordError,
    SecretsFoundError,
    UsageError,
)

if TYPE_CHECKING:
    from rich.console import Console

    from kb.scaffold import Added
    from kb.stats import TableView

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="kb",
    help="A knowledge base of model failure analyses for infrastructure-as-code.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
add_app = typer.Typer(help="Scaffold a new case or failure record.", no_args_is_help=True)
app.add_typer(add_app, name="add")

KbOption = Annotated[
    Path,
    typer.Option("--kb", help="The knowledge base folder.", envvar="KB_PATH", show_default=True),
]
DEFAULT_KB = Path("failures")


def err(message: str) -> None:
    typer.echo(message, err=True)


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """The library's warnings (an unusable cache, ...) as one `warning: ...` line, not Python's format."""
    err(f"warning: {message}")


warnings.showwarning = _show_warning


class _Bar:
    """A ``kb.progress.Progress`` drawn as a rich progress bar."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress
        self._task: Any = None

    def start(self, label: str, total: int) -> None:
        self._task = self._progress.add_task(label, total=total)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)


@contextlib.contextmanager
def progress_bar() -> Iterator[_Bar]:
    """A rich progress bar on stderr (hidden when stderr is not a terminal), for any library function."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        yield _Bar(progress)


def _fail(exc: KbError) -> NoReturn:
    """Map a library error to its message, the flag that fixes it, and its exit code: the one place that does."""
    if isinstance(exc, InvalidKbError):
        for problem in exc.problems:
            err(str(problem))
        err(f"{len(exc.problems)} problem(s); run `kb check` for details.")
    elif isinstance(exc, SecretsFoundError):
        for problem in exc.problems:
            err(str(problem))
        places = len(exc.problems)
        err(f"refused: credentials in {places} place(s) of the records; nothing written. Remove them or use --redact.")
    elif isinstance(exc, LicenseError):
        err(
            f"error: {exc}; choose one with --license L"
            + (", or --force to export anyway" if "unknown" in str(exc) else "")
        )
    elif isinstance(exc, ExistsError):
        err(f"{exc}; use --force to replace it" if exc.replaceable else str(exc))
    elif isinstance(exc, RecordError):
        err(str(exc))
    else:
        err(f"error: {exc}")
    raise typer.Exit(2 if isinstance(exc, UsageError) else 1)


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn kb's own errors, and the system's refusals to read or write, into messages and exit codes;
    anything else is a bug."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except KbError as exc:
            _fail(exc)
        except OSError as exc:  # the system refused (read-only, permissions, disk full): one line, no traceback
            where = f"{exc.filename}: " if exc.filename else ""
            err(f"error: {where}{exc.strerror or exc}")
            raise typer.Exit(1) from None

    return wrapper


# -- check -------------------------------------------------------------------------


@app.command()
@reports_errors
def check(
    kb: KbOption = DEFAULT_KB,
    strict: Annotated[bool, typer.Option(help="Treat drafts as errors.")] = False,
    fix_dates: Annotated[
        bool,
        typer.Option(
            "--fix-dates",
            help="First set `modified` (and `published` on new records) to today on records whose content "
            "changed since git's HEAD; prints each file dated.",
        ),
    ] = False,
) -> None:
    """Validate every record; print each problem as `path:line:col: message`.

    Exits 1 when there are errors, 0 otherwise (warnings alone pass). Never modifies a file
    unless `--fix-dates` is given.
    """
    from kb.check import check_kb

    if fix_dates:
        from kb.dates import fix_dates as date_records

        dated, unreadable = date_records(kb)
        for path in dated:
            typer.echo(f"dated {path}")
        for problem in unreadable:
            err(f"{problem} (not dated)")
    report = check_kb(kb, strict=strict)
    for problem in report.problems:
        err(str(problem))
    if report.outdated:
        err(
            f"note: {report.outdated} record(s) in an older format; kb reads them, `kb upgrade --kb {kb}` rewrites them"
        )
    summary = f"{report.cases} case(s), {report.failures} failure(s)"
    if report.ok:
        warned = f", {len(report.warnings)} warning(s)" if report.warnings else ""
        typer.echo(f"ok: {summary}{warned}")
        return
    err(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) in {summary}")
    raise typer.Exit(1)


# -- upgrade -----------------------------------------------------------------------


@app.command()
@reports_errors
def upgrade(
    kb: KbOption = DEFAULT_KB,
    check_only: Annotated[
        bool, typer.Option("--check", help="Write nothing; list the records that need upgrading and exit 1 if any.")
    ] = False,
) -> None:
    """Rewrite records written in an older format as the current one (atomically, file by file).

    Adding `schema_version` edits one line, keeping comments; a record still using keys of an
    older layout is written again in full (its values kept, its comments not).
    """
    from kb.models import SCHEMA_VERSION
    from kb.upgrade import upgrade_kb

    result = upgrade_kb(kb, check=check_only)
    for problem in result.problems:
        err(str(problem))
    verb = "would upgrade" if check_only else "upgraded"
    for path in result.edited:
        typer.echo(f"{verb} {path}")
    for path in result.rewritten:
        typer.echo(f"{verb} {path} (written again in full: it used keys of an older layout)")
    done = len(result.edited) + len(result.rewritten)
    typer.echo(f"{verb} {done} record(s) to schema version {SCHEMA_VERSION}; {result.current} already current")
    if result.problems or (check_only and done):
        raise typer.Exit(1)


# -- schema ------------------------------------------------------------------------


@app.command()
@reports_errors
def schema(
    out: Annotated[Path, typer.Option(help="Where to write the JSON Schemas.")] = Path("schemas"),
    check_only: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if a schema file is stale.")
    ] = False,
) -> None:
    """Write the JSON Schemas of the records (for editors and docs)."""
    from kb.schema import stale_schemas, write_schemas

    if check_only:
        stale = stale_schemas(out)
        for path in stale:
            err(f"{path}: stale; run `kb schema --out {out}`")
        raise typer.Exit(1 if stale else 0)
    for path in write_schemas(out):
        typer.echo(f"wrote {path}")


# -- render ------------------------------------------------------------------------


@app.command()
@reports_errors
def render(
    cases: Annotated[
        list[str] | None, typer.Argument(help="Case ids to render (default: every case).", show_default=False)
    ] = None,
    kb: KbOption = DEFAULT_KB,
    out: Annotated[Path, typer.Option("--out", help="Where reports go: OUT/<case-id>/MODEL_FAILURES.md.")] = Path(
        "reports"
    ),
    templates: Annotated[
        Path | None,
        typer.Option("--templates", help="Templates overriding the built-in ones (default: the project's templates/)."),
    ] = None,
    check_only: Annotated[
        bool, typer.Option("--check", help="Write nothing; list each report that is stale or missing and exit 1.")
    ] = False,
) -> None:
    """Render each case into OUT/<case-id>/MODEL_FAILURES.md (written only when it changed)."""
    from kb.render.report import render_reports

    with progress_bar() as progress:
        result = render_reports(kb, out, cases or None, templates, check=check_only, progress=progress)
    done = len(result.changed) + len(result.unchanged)
    if check_only:
        for path in result.created:
            err(f"{path}: missing; run `kb render`")
        for path in result.updated:
            err(f"{path}: out of date; run `kb render`")
        if result.changed:
            err(f"{len(result.changed)} of {done} report(s) would change")
            raise typer.Exit(1)
        typer.echo(f"ok: {done} report(s) up to date")
        return
    for path in result.changed:
        typer.echo(f"wrote {path}")
    typer.echo(f"rendered {done} case(s): {len(result.changed)} written, {len(result.unchanged)} unchanged")


# -- add ---------------------------------------------------------------------------

NoInputOption = Annotated[bool, typer.Option("--no-input", help="Never prompt; use only the options given.")]
EditOption = Annotated[bool, typer.Option("--edit", help="Open the new file in $VISUAL or $EDITOR.")]
TemplatesOption = Annotated[
    Path | None,
    typer.Option(
        help="Templates that override the built-in ones (default: the project's templates/).", show_default=False
    ),
]


@add_app.command("case")
@reports_errors
def add_case_command(
    case_id: Annotated[str, typer.Argument(metavar="ID", help="The case id: lowercase letters, digits, hyphens.")],
    title: Annotated[str | None, typer.Option(help="The case's title.", show_default=False)] = None,
    kb: KbOption = DEFAULT_KB,
    from_task: Annotated[
        Path | None,
        typer.Option("--from-task", help="A task folder: fill `task` from its metadata.json and PROMPT.md."),
    ] = None,
    templates: TemplatesOption = None,
    no_input: NoInputOption = False,
    edit: EditOption = False,
) -> None:
    """Create `<kb>/<ID>/case.yaml` from the scaffold template and print its path. Never overwrites."""
    from kb.scaffold import DEFAULT_CASE_TITLE, add_case

    editor = _editor() if edit else None
    if title is None and not no_input:
        title = typer.prompt("Title", default=DEFAULT_CASE_TITLE)
    _added(add_case(kb, case_id, title=title, from_task=from_task, templates=templates), editor)


@add_app.command("failure")
@reports_errors
def add_failure_command(
    case: Annotated[str, typer.Option("--case", help="The case to add the failure to.", show_default=False)],
    title: Annotated[str | None, typer.Option(help="A one-line summary of the failure.", show_default=False)] = None,
    impact: Annotated[
        str | None, typer.Option(help="critical, high, medium or low (left out when unknown).", show_default=False)
    ] = None,
    category: Annotated[str | None, typer.Option(help="A category key of taxonomy.yaml.", show_default=False)] = None,
    service: Annotated[
        list[str] | None, typer.Option(help="An AWS service involved; repeatable.", show_default=False)
    ] = None,
    kb: KbOption = DEFAULT_KB,
    templates: TemplatesOption = None,
    no_input: NoInputOption = False,
    edit: EditOption = False,
) -> None:
    """Create `<kb>/<case>/<NN>-<slug>.yaml`, a draft with the next free NN, and print its path.

    Never overwrites; safe when many add at once. Without `--no-input`, asks for what is missing.
    """
    from kb.models import Impact
    from kb.scaffold import add_failure, category_choices

    editor = _editor() if edit else None
    if not no_input:
        if title is None:
            title = typer.prompt("Title")
        if impact is None:
            impact = _choose("Impact", [level.value for level in Impact])
        if category is None:
            category = _choose("Category", category_choices(kb))
    if title is None:
        raise UsageError("--title is required with --no-input")
    added = add_failure(
        kb, case, title=title, impact=impact, category=category, services=service or (), templates=templates
    )
    _added(added, editor)
    cli_recurring.print_seen_before(kb, case, " ".join([title, *(service or ())]))


def _choose(label: str, choices: list[str]) -> str | None:
    """Ask for one of ``choices``; an empty answer leaves the field out (None)."""
    if not choices:
        return None
    while True:
        prompt = f"{label} ({', '.join(choices)}; empty: leave out)"
        answer = str(typer.prompt(prompt, default="", show_default=False)).strip().lower()
        if not answer:
            return None
        if answer in choices:
            return answer
        err(f"`{answer}` is not one of: {', '.join(choices)}")


def _editor() -> list[str]:
    import os
    import shlex

    command = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not command:
        raise UsageError("--edit needs $VISUAL or $EDITOR set to your editor's command")
    return shlex.split(command)


def _added(added: Added, editor: list[str] | None) -> None:
    """Print the warnings and the path written; then open the editor and recheck the record."""
    import subprocess

    from kb.scaffold import recheck

    for warning in added.warnings:
        err(f"warning: {warning}")
    typer.echo(str(added.path))
    if editor is None:
        return
    subprocess.run([*editor, str(added.path)], check=False)
    problems = recheck(added.path)
    for problem in problems:
        err(str(problem))
    if problems:
        raise typer.Exit(1)


# -- import ------------------------------------------------------------------------


@app.command("import")
@reports_errors
def import_command(
    paths: Annotated[
        list[Path],
        typer.Argument(help="MODEL_FAILURES.md files, task folders, or trees holding many.", show_default=False),
    ],
    into: Annotated[Path, typer.Option("--into", help="The knowledge base folder to create the cases in.")],
    force: Annotated[bool, typer.Option("--force", help="Replace existing case folders of the same id.")] = False,
    redact: Annotated[
        bool, typer.Option("--redact", help="Replace credentials in documents, prompts and metadata with placeholders.")
    ] = False,
    output: Annotated[
        str, typer.Option("--format", help="`text`, or `json` for the summary as one JSON object.")
    ] = "text",
) -> None:
    """Import MODEL_FAILURES.md documents as cases: one case folder per document, nothing lost.

    Never replaces an existing case without --force (that document is skipped and reported).
    Exits 1 when any document could not be imported, 0 otherwise (warnings alone pass).
    """
    import json

    from kb.importer import ImportOptions, plan_import, run_import

    if output not in ("text", "json"):
        raise UsageError(f"--format must be `text` or `json`, not {output!r}")
    plan = plan_import(paths)
    with progress_bar() as progress:
        progress.start("import", len(plan.jobs))
        options = ImportOptions(force=force, redact=redact)
        result = run_import(plan, into, options=options, on_progress=progress.advance)
    if output == "json":
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        for line in result.recovered:
            err(line)
        for problem in result.warnings:
            err(str(problem))
        for problem in result.errors:
            err(str(problem))
        kinds = ", ".join(f"{kind}: {count}" for kind, count in result.warnings_by_kind.items())
        of = f" of {len(result.documents)}" if result.cases != len(result.documents) else ""
        typer.echo(
            f"imported {result.cases}{of} document(s) -> {result.cases} case(s), "
            f"{result.failures} failure(s) into {into}"
        )
        typer.echo(f"warnings: {sum(result.warnings_by_kind.values())}" + (f" ({kinds})" if kinds else ""))
        if result.errors:
            err(f"{len(result.errors)} error(s): those documents were not imported")
        if any(d.exists for d in result.documents):
            err("use --force to replace the existing cases")
    if not result.ok:
        raise typer.Exit(1)


# -- export ------------------------------------------------------------------------


@app.command()
@reports_errors
def export(
    fmt: Annotated[
        str,
        typer.Argument(
            metavar="FORMAT",
            help="sft, dpo, classify (one row per failure), pairs, critique (one per task) or fix (per failure).",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="The dataset folder: the splits and README.md, written as a whole.")
    ],
    kb: KbOption = DEFAULT_KB,
    license_id: Annotated[
        str | None, typer.Option("--license", help="The dataset's license (required; `unknown` only with --force).")
    ] = None,
    file_format: Annotated[
        str, typer.Option("--format", help="jsonl (train/validation/test.jsonl) or parquet (zstd shards in data/).")
    ] = "jsonl",
    redact: Annotated[
        bool, typer.Option("--redact", help="Replace credentials with [REDACTED:<kind>] instead of refusing.")
    ] = False,
    impact: Annotated[
        list[str] | None, typer.Option("--impact", help="Only these impact levels (repeatable).", show_default=False)
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option("--category", help="Only these categories (repeatable).", show_default=False)
    ] = None,
    service: Annotated[
        list[str] | None, typer.Option("--service", help="Only failures involving these AWS services (repeatable).")
    ] = None,
    platform: Annotated[
        list[str] | None, typer.Option("--platform", help="Only cases on these platforms (repeatable).")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="Train/validation/test percentages, by case.")] = "80/10/10",
    style: Annotated[
        str, typer.Option("--style", help="conversational (role/content messages) or standard (plain strings).")
    ] = "conversational",
    min_lines: Annotated[
        int, typer.Option("--min-lines", help="Drop snippets with fewer non-blank lines than this.")
    ] = 3,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", help="Drop rows over this many (estimated) tokens.")
    ] = None,
    allow_no_task: Annotated[
        bool, typer.Option("--allow-no-task", help="Keep rows of cases without a task prompt.")
    ] = False,
    structured: Annotated[
        bool, typer.Option("--structured", help="critique: the analysis as JSON instead of the rendered report.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace files in OUT that an earlier `kb export` did not write; allow --license unknown."
        ),
    ] = False,
) -> None:
    """Export the published failures as training data that loads in Hugging Face datasets and TRL.

    Refuses, writing nothing, when a record holds a credential (each printed as path:line:col).
    """
    from kb.export import export_dataset
    from kb.filters import Filters

    filters = Filters(impact=impact or (), category=category or (), service=service or (), platform=platform or ())
    with progress_bar() as progress:
        result = export_dataset(
            kb,
            fmt,
            out,
            license=license_id,
            redact=redact,
            filters=filters,
            split=split,
            style=style,
            file_format=file_format,
            min_lines=min_lines,
            max_tokens=max_tokens,
            allow_no_task=allow_no_task,
            structured=structured,
            force=force,
            progress=progress,
        )
    per_split = ", ".join(f"{name} {count}" for name, count in result.splits.items())
    typer.echo(f"exported {result.rows} {result.format} row(s) to {result.out}: {per_split}")
    if result.skipped:
        reasons = ", ".join(f"{count} {reason}" for reason, count in result.skipped.items())
        typer.echo(f"left out {sum(result.skipped.values())}: {reasons}")
    if result.redacted:
        typer.echo(f"redacted {result.redacted} credential(s)")


# -- stats -------------------------------------------------------------------------


@app.command()
@reports_errors
def stats(
    kb: KbOption = DEFAULT_KB,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="Count failures by impact, category, service, platform, language or case; twice for a cross-table.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with stable keys.")] = False,
    details: Annotated[bool, typer.Option("--details", help="List the records behind the integrity figures.")] = False,
    impact: Annotated[
        list[str] | None, typer.Option(help="Only this impact (`none`: no level). Repeatable.", show_default=False)
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Only this category key (`none`). Repeatable.", show_default=False)
    ] = None,
    service: Annotated[
        list[str] | None, typer.Option(help="Only failures involving this AWS service. Repeatable.", show_default=False)
    ] = None,
    platform: Annotated[
        list[str] | None, typer.Option(help="Only cases on this platform (`cdk`, `tf`, ...).", show_default=False)
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Only failures changed on or after DATE (YYYY-MM-DD; their `modified`, else `published`, "
            "else their case's).",
            show_default=False,
        ),
    ] = None,
    top: Annotated[int, typer.Option(min=0, help="Rows per table, and knowledge gaps listed.")] = 10,
    with_patterns: Annotated[
        bool, typer.Option("--patterns", help="Also the top recurring failures (see `kb patterns`).")
    ] = False,
) -> None:
    """Show the knowledge base at a glance: failures by impact, category, service, platform, language;
    recurring knowledge gaps; records that disagree or lack a fix, root cause or docs.
    """
    import json

    from rich.console import Console

    from kb.filters import Filters
    from kb.stats import stats_report

    filters = Filters(
        impact=impact or (),
        category=category or (),
        service=service or (),
        platform=platform or (),
        since=_date(since, "--since") if since else None,
    )
    console = Console(highlight=False, soft_wrap=False)
    fit = None if as_json else max(2, (console.width - 24) // 9)
    report = stats_report(kb, by=by or (), filters=filters, top=top, details=details, max_cols=fit)
    if with_patterns and not by:
        patterns, view = cli_recurring.top_patterns(kb, top)
        report.data["patterns"] = patterns
        report.tables.append(view)
    if as_json:
        typer.echo(json.dumps(report.data, sort_keys=True, indent=2, ensure_ascii=False))
        return
    _print_tables(console, report.tables)
    for line in report.lines:
        typer.echo(line)


def _date(text: str, option: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option} {text!r}: give a date as YYYY-MM-DD") from None


def _print_tables(console: Console, views: list[TableView]) -> None:
    """Rich tables; record text goes in as plain `Text`, so it can never be read as markup."""
    from rich.table import Table
    from rich.text import Text

    for view in views:
        caption = f"... and {view.more} more (--top N shows more, --json shows all)" if view.more else None
        table = Table(title=view.title, title_justify="left", caption=caption, caption_justify="left")
        for header, align in zip(view.headers, view.align, strict=True):
            table.add_column(header, justify="right" if align == "r" else "left", overflow="fold")
        for row in view.rows:
            table.add_row(*(Text(cell) for cell in row))
        console.print(table)


from kb import cli_recurring as cli_recurring  # noqa: E402  (registers similar, patterns, categorise)


def main() -> None:
    # A run of kb is short and holds many long-lived records: collect cycles rarely
    # (the default, every 700 allocations, rescans the loaded records and costs a third of a warm run).
    gc.set_threshold(100_000, 50, 100)
    from kb.cli import (
        app as commands,  # under `python -m kb.cli` this module is __main__; the commands are on kb.cli's app
    )

    commands(prog_name="kb")


if __name__ == "__main__":  # pragma: no cover
    main()
