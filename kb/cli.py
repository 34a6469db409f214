"""The `kb` command line: parse options, call one library function, print, exit.

This is the only module that prints or exits. Errors from the library are mapped to
messages and exit codes in one place (``_fail``): 0 ok, 1 data or user errors,
2 usage errors.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, NoReturn, ParamSpec, TypeVar

import typer

from kb.errors import ExistsError, InvalidKbError, KbError, RecordError, UsageError

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


@contextlib.contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr (hidden when stderr is not a terminal); yields `advance(n)`."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(label, total=total)

        def advance(n: int = 1) -> None:
            progress.advance(task, n)

        yield advance


def _fail(exc: KbError) -> NoReturn:
    """Map a library error to its message and exit code: the one place that does."""
    if isinstance(exc, InvalidKbError):
        for problem in exc.problems:
            err(str(problem))
        err(f"{len(exc.problems)} problem(s); run `kb check` for details.")
    elif isinstance(exc, RecordError | ExistsError):
        err(str(exc))
    else:
        err(f"error: {exc}")
    raise typer.Exit(2 if isinstance(exc, UsageError) else 1)


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn kb's own errors into messages and exit codes; anything else is a bug."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except KbError as exc:
            _fail(exc)

    return wrapper


# -- check -------------------------------------------------------------------------


@app.command()
@reports_errors
def check(
    kb: KbOption = DEFAULT_KB,
    strict: Annotated[bool, typer.Option(help="Treat drafts as errors.")] = False,
) -> None:
    """Validate every record; print each problem as `path:line:col: message`.

    Exits 1 when there are errors, 0 otherwise (warnings alone pass). Never modifies a file.
    """
    from kb.check import check_kb

    report = check_kb(kb, strict=strict)
    for problem in report.problems:
        err(str(problem))
    summary = f"{report.cases} case(s), {report.failures} failure(s)"
    if report.ok:
        warned = f", {len(report.warnings)} warning(s)" if report.warnings else ""
        typer.echo(f"ok: {summary}{warned}")
        return
    err(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) in {summary}")
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

# -- add ---------------------------------------------------------------------------

# -- import ------------------------------------------------------------------------

# -- export ------------------------------------------------------------------------

# -- stats -------------------------------------------------------------------------


def main() -> None:
    app(prog_name="kb")


if __name__ == "__main__":  # pragma: no cover
    main()
