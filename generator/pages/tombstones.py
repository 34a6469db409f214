"""Pages that keep old addresses working: a tombstone for each withdrawn case, a redirect for each alias.

A withdrawn case keeps its page (`cases/<id>/`): the title, when and why it was
withdrawn, and the case that supersedes it. A case alias gets a small HTML page at
`cases/<alias>/` that sends the browser on to the case (meta refresh, and a script that
keeps the `#failure` part of the address, mapping a failure's former id to its id). A
failure's former id in its own case is an extra anchor on the case page (``case.md.j2``);
a former place `<case>/<failure>` in a case that no longer exists is a redirect page for
that case id. Withdrawn failures of a live case are listed at the end of its page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import escape

from generator.pages.html import relative_url
from kb.aliases import Names, failure_alias_ref
from kb.models import Failure
from kb.store import KnowledgeBase, LoadedCase

CASE_PAGE = "cases/{}.md"


@dataclass(frozen=True)
class Successor:
    """Where a withdrawn record points: a page (and anchor) of the site, and the ref shown."""

    page: str
    anchor: str
    label: str


@dataclass(frozen=True)
class WithdrawnView:
    """A withdrawn failure as its case page lists it."""

    failure: Failure
    successor: Successor | None


def successor_of(names: Names, ref: str | None, *, case: bool = False) -> Successor | None:
    """The page of the record ``ref`` names (a case id when ``case``, else `<case>/<failure>`)."""
    if ref is None:
        return None
    if case:
        target = names.resolve_case(ref)
        return Successor(CASE_PAGE.format(target), "", ref) if target else None
    resolved = names.resolve(ref)
    if resolved is None:
        return None
    case_id, failure_id = resolved.split("/", 1)
    return Successor(CASE_PAGE.format(case_id), failure_id, ref)


def withdrawn_views(case: LoadedCase, names: Names) -> list[WithdrawnView]:
    """The case's withdrawn failures, each with the failure that supersedes it."""
    return [
        WithdrawnView(loaded.failure, successor_of(names, loaded.failure.superseded_by))
        for loaded in case.failures
        if loaded.failure.withdrawn is not None
    ]


def redirect_html(target: str, anchors: dict[str, str]) -> str:
    """A page that sends the browser to ``target`` (relative), mapping `#old` anchors through ``anchors``."""
    script = (
        f"var m={json.dumps(anchors, sort_keys=True)},h=location.hash.slice(1);"
        f"location.replace({json.dumps(target)}+(h?'#'+(m[h]||h):''));"
    )
    href = escape(target)
    script = script.replace("</", "<\\/")  # nothing in it may close the script element
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Redirecting...</title>\n'
        f'<link rel="canonical" href="{href}">\n<meta http-equiv="refresh" content="0; url={href}">\n'
        f'<meta name="robots" content="noindex">\n<script>{script}</script>\n</head>\n'
        f'<body>\n<p>Moved to <a href="{href}">{href}</a>.</p>\n</body>\n</html>\n'
    )


def _output_path(page: str, *, directory_urls: bool) -> str:
    stem = page.removesuffix(".md")
    return f"{stem}/index.html" if directory_urls else f"{stem}.html"


def redirect_files(kb: KnowledgeBase, names: Names, directory_urls: bool) -> list[tuple[str, str]]:
    """(output path, HTML) of a redirect page for every case alias, and for every former case of a
    moved failure that is no longer a case (``names``: the KB's, from ``names_of``). Sorted by path:
    the same KB gives the same files."""
    targets: dict[str, tuple[str, dict[str, str]]] = {}
    for case in kb.cases:
        anchors = {a: f.failure.id for f in case.failures for a in f.failure.aliases if "/" not in a}
        for alias in case.case.aliases:
            if names.resolve_case(alias) == case.id:
                targets.setdefault(alias, (case.id, anchors))
    for case in kb.cases:
        for loaded in case.failures:
            for alias in loaded.failure.aliases:
                old_case, old_id = failure_alias_ref(case.id, alias).split("/", 1)
                if old_case == case.id or names.resolve_case(old_case) is not None:
                    continue
                target, anchors = targets.setdefault(old_case, (case.id, {}))
                if target == case.id:
                    anchors.setdefault(old_id, loaded.failure.id)
    files = []
    for old, (case_id, anchors) in sorted(targets.items()):
        source = CASE_PAGE.format(old)
        link = relative_url(source, CASE_PAGE.format(case_id), directory_urls=directory_urls)
        files.append((_output_path(source, directory_urls=directory_urls), redirect_html(link, anchors)))
    return files


def add_tombstone(render: Callable[..., None], case: LoadedCase, names: Names) -> None:
    """Render the tombstone page of a withdrawn case (``render(template, **context)`` of the page begun)."""
    render(
        "site/tombstone.md.j2",
        case=case.case,
        successor=successor_of(names, case.case.superseded_by, case=True),
        failures=[loaded.failure for loaded in case.failures],
    )
