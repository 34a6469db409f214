"""The `kb similar`, `kb patterns`, `kb categorise` and `kb infer` commands (registered on `kb.cli.app`).

Thin like ``kb.cli``: parse, call one library function, print.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kb.cli import DEFAULT_KB, KbOption, app, reports_errors
from kb.errors import UsageError

if TYPE_CHECKING:
    from kb.stats import TableView

FormatOption = Annotated[str, typer.Option("--format", help="`text`, or `json` for machine output.")]


def _format(value: str) -> str:
    if value not in ("text", "json"):
        raise UsageError(f"--format must be `text` or `json`, not {value!r}")
    return value


@app.command()
@reports_errors
def similar(
    ref: Annotated[
        str | None, typer.Argument(metavar="[CASE/FAILURE]", help="The failure to match.", show_default=False)
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", help="Match a description instead of a failure.", show_default=False)
    ] = None,
    kb: KbOption = DEFAULT_KB,
    n: Annotated[int, typer.Option("-n", help="How many failures to list.")] = 10,
    output: FormatOption = "text",
) -> None:
    """List the failures most like a failure, or like a description, best first.

    Failures of the same case and of near-copies of its document are left out (near-copies are listed apart).
    """
    from kb.recurring.similar import find_similar

    _format(output)
    found = find_similar(kb, ref, text=text, n=n)
    if output == "json":
        typer.echo(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
        return
    if not found.results:
        typer.echo("no similar failure found")
    for match in found.results:
        _print_match(match)
    if found.near_copies:
        typer.echo("in near-copies of its document:")
        for match in found.near_copies:
            _print_match(match)


def _print_match(match: object) -> None:
    from kb.recurring.similar import Match

    assert isinstance(match, Match)
    where = ", ".join(x for x in (match.impact, match.platform) if x)
    typer.echo(f"{match.score:.3f}  {match.id}" + (f"  ({where})" if where else ""))
    typer.echo(f"       {match.title}")
    if match.shared:
        typer.echo(f"       shared: {', '.join(match.shared)}")


@app.command()
@reports_errors
def patterns(
    kb: KbOption = DEFAULT_KB,
    min_cases: Annotated[int, typer.Option("--min-cases", help="Only patterns seen in at least this many cases.")] = 2,
    top: Annotated[int, typer.Option("--top", min=0, help="Patterns listed (0: all).")] = 20,
    output: FormatOption = "text",
) -> None:
    """Group recurring failures into patterns across cases, the most widespread first."""
    from kb.recurring.patterns import find_patterns

    _format(output)
    found = find_patterns(kb, min_cases=min_cases)
    if output == "json":
        typer.echo(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
        return
    share = f"{found.covered / found.failures:.0%}" if found.failures else "0%"
    typer.echo(
        f"{len(found.patterns)} pattern(s) of {min_cases}+ cases cover {found.covered} of {found.failures} failure(s) ({share})"
    )
    for number, pattern in enumerate(found.patterns[: top or None], 1):
        impacts = ", ".join(f"{k} {v}" for k, v in pattern.impacts.items())
        platforms = ", ".join(f"{k} {v}" for k, v in pattern.platforms.items())
        typer.echo(f"{number:>3}. {pattern.name}  [{pattern.cases} cases, {pattern.failures} failures]")
        typer.echo(f"     impact: {impacts}; platforms: {platforms}")
        if pattern.services:
            typer.echo(f"     services: {', '.join(list(pattern.services)[:6])}")
        typer.echo(f"     example: {pattern.example}")
    if top and len(found.patterns) > top:
        typer.echo(f"... and {len(found.patterns) - top} more (--top 0 lists all)")


@app.command()
@reports_errors
def categorise(
    kb: KbOption = DEFAULT_KB,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would change; write nothing.")] = False,
) -> None:
    """File each published failure without a category under the taxonomy's best one, marked as inferred.

    A stated category (an author's or the imported document's) is never changed.
    """
    from kb.recurring.categorise import categorise_kb

    result = categorise_kb(kb, dry_run=dry_run)
    verb = "would categorise" if dry_run else "categorised"
    for path in result.changed if dry_run else []:
        typer.echo(str(path))
    mix = ", ".join(f"{category} {count}" for category, count in result.by_category.items())
    typer.echo(f"{verb} {len(result.changed)} failure(s)" + (f": {mix}" if mix else "") + f"; {result.already} had one")


@app.command()
@reports_errors
def infer(
    kb: KbOption = DEFAULT_KB,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would change; write nothing.")] = False,
) -> None:
    """Fill the facets records leave empty, marked as inferred: each failure's services, each case's platform and language.

    Services come from the failure's own code and text; platform and language from its case's code. `kb import` does the same; a stated value is never changed.
    """
    from kb.facets import infer_kb

    result = infer_kb(kb, dry_run=dry_run)
    for path in [*result.failures, *result.cases] if dry_run else []:
        typer.echo(str(path))
    for path in result.skipped:
        typer.echo(f"{path}: hand-edited and already holds the keys; left as it is", err=True)
    verb = "would infer" if dry_run else "inferred"
    top = ", ".join(f"{name} {count}" for name, count in list(result.by_service.items())[:8])
    typer.echo(
        f"{verb} services for {len(result.failures)} failure(s)"
        + (f" ({top})" if top else "")
        + f", platform or language for {len(result.cases)} case(s)"
    )


def print_seen_before(kb: Path, case: str, text: str) -> None:
    """After `kb add failure`: on stderr, the failures of other cases most like the new one."""
    from kb.recurring.similar import seen_before

    found = seen_before(kb, text, case=case)
    if not found.cases:
        return
    typer.echo(f"seen before: {found.cases} case(s), e.g.:", err=True)
    for match in found.examples:
        typer.echo(f"  {match.id}  {match.title}  ({match.score:.2f})", err=True)
    typer.echo("link the same mistake with `related: [<case>/<failure>]` (see `kb similar`)", err=True)


def top_patterns(kb: Path, top: int) -> tuple[list[dict[str, object]], TableView]:
    """`kb stats --patterns`: the top patterns as JSON and as a table."""
    from kb.recurring.patterns import find_patterns, patterns_table

    found = find_patterns(kb)
    return [p.to_json() for p in found.patterns[:top]], patterns_table(found, top=top)
