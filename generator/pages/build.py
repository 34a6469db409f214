"""The knowledge base's pages for the MkDocs site, rendered from the records through Jinja.

``build_pages`` turns a loaded ``KnowledgeBase`` into Markdown pages (home, the explorer
and its data, one page per case, taxonomy, search, runnable references, schema and CLI
reference) and other files (scripts, JSON per case); ``generator.site`` hands them to
MkDocs at build time. Templates live in ``templates/site/`` and are overridable like
every kb template. Counts come from ``kb.stats.compute_stats``, the computation ``kb
stats`` prints. A page family of its own (a change feed, tombstones) is a module under
``generator/pages/`` with a function called from ``build_pages``, like ``_browse_pages``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar, cast
from urllib.parse import quote

import jinja2

from generator.pages import browse
from generator.pages.cache import PageCache
from generator.pages.case import CaseContext, Link, RecordLinks, References, case_page
from generator.pages.charts import Bar, bar_chart
from generator.pages.explorer import explorer_data
from generator.pages.feed import FEED_FILE, MODIFIED_FILE, feed_json, modified_csv
from generator.pages.html import page_url
from generator.pages.reference import CommandDoc, ModelDoc, cli_docs, schema_docs
from generator.pages.render import (
    BLOCK_MARKER,
    EXPLORER,
    LATE_MARKER,
    Pages,
    SiteBuild,
    SitePage,
    add_site_filters,
    fill_blocks,
    front_matter,
)
from generator.pages.search import search_page
from generator.pages.session import Reuse
from generator.pages.titles import case_title
from generator.pages.tombstones import add_tombstone, redirect_files
from kb.aliases import names_of
from kb.lifecycle import live
from kb.names import NONE
from kb.progress import NO_PROGRESS, Progress
from kb.render.env import builtin_templates_dir
from kb.stats import Stats, compute_stats
from kb.store import KnowledgeBase, LoadedCase

__all__ = [
    "ASSETS",
    "BLOCK_MARKER",
    "EXPLORER",
    "LATE_MARKER",
    "RecordLinks",
    "SiteBuild",
    "SitePage",
    "add_site_filters",
    "build_pages",
    "fill_blocks",
    "front_matter",
]

TOP_SERVICES = 15
"""Services shown on the home page's chart and table (the explorer lists all)."""
T = TypeVar("T")
RECHECKED = 16
"""Changed cases up to which a build compares their share of the figures before recounting the whole KB."""


def _groups(kb: KnowledgeBase, stats: Stats) -> dict[str, list[browse.Group]]:
    items = browse.entries(kb)
    return {
        "impact": browse.by_impact(stats, items),
        "category": browse.by_category(kb, stats, items),
        "service": browse.by_service(stats, items),
        "platform": browse.by_platform(stats, items),
    }


def _kept(
    reuse: Reuse | None,
    name: str,
    cases: list[LoadedCase],
    share: Callable[[LoadedCase], object],
    compute: Callable[[], T],
) -> T:
    """A whole-KB value: the previous build's when the KB has the same cases, in order, and each one reloaded
    has the same ``share`` of it as before (the values kept so are sums, unions or sorts of what each case gives)."""
    if reuse is not None and name in reuse.values and [c.id for c in cases] == list(reuse.cases):
        changed = [(case, reuse.cases[case.id]) for case in cases if case is not reuse.cases[case.id]]
        if len(changed) <= RECHECKED and all(share(new) == share(old) for new, old in changed):
            return cast(T, reuse.values[name])
    value = compute()
    if reuse is not None:
        reuse.values[name] = value
    return value


def _figures(kb: KnowledgeBase) -> tuple[Stats, dict[str, list[browse.Group]]]:
    counted = live(kb)
    stats = compute_stats(counted)
    return stats, _groups(counted, stats)


def _share(kb: KnowledgeBase, case: LoadedCase) -> tuple[Stats, list[tuple[str, str, str, int, list[str]]]]:
    """One case's figures (every knowledge gap) and its place in the browse groups."""
    alone = live(replace(kb, cases=[case], problems=[]))
    stats = compute_stats(alone, top_gaps=sys.maxsize)
    groups = [
        (facet, g.key, g.title, g.count, [e.loaded.failure.id for e in g.entries])
        for facet, found in _groups(alone, stats).items()
        for g in found
    ]
    return stats, groups


def _names(case: LoadedCase) -> tuple[str, list[str], list[tuple[str, list[str]]]]:
    """What a case gives the name table (``kb.aliases.names_of``): its ids and aliases."""
    return case.id, case.case.aliases, [(f.failure.id, f.failure.aliases) for f in case.failures]


def _links(facet: str, groups: Sequence[browse.Group]) -> dict[str, Link]:
    """Each value's name and its view in the explorer (the hash holds the filter)."""
    return {g.key: Link(g.title, f"{facet}={quote(g.key, safe='')}") for g in groups}


ASSETS = ("assets/explorer.js", "assets/search.js")
"""The site's scripts, from the built-in templates (``templates/site/assets/``): no framework, nothing fetched from elsewhere."""


def _browse_pages(pages: Pages, kb: KnowledgeBase, reuse: Reuse | None) -> None:
    """The explorer, its data, and the list of reports without failures."""
    data = explorer_data(kb, reuse.explorer if reuse is not None else None)
    pages.build.files.update(data.files)
    pages.add(EXPLORER, "site/explorer.md.j2", failures=data.failures, cases=data.cases)
    empty = [
        {"case": case.case, "title": case_title(case.case)}
        for case in sorted(kb.cases, key=lambda c: c.id)
        if not any(loaded.failure.is_failure for loaded in case.failures)
    ]
    copies = [
        {"case": case.case, "title": case_title(case.case), "original": case.case.duplicate_of}
        for case in sorted(kb.cases, key=lambda c: c.id)
        if case.case.duplicate_of
    ]
    pages.add("browse/reports.md", "site/reports.md.j2", empty=empty, copies=copies)


def _charts(groups: dict[str, list[browse.Group]]) -> dict[str, str]:
    return {
        "impact": bar_chart([Bar(g.title, g.count, g.kind) for g in groups["impact"]], title="Failures by impact"),
        "category": bar_chart([Bar(g.title, g.count) for g in groups["category"]], title="Failures by category"),
        "service": bar_chart(
            [Bar(g.title, g.count) for g in groups["service"][:TOP_SERVICES]],
            title=f"Failures by AWS service (top {TOP_SERVICES})",
        ),
    }


def build_pages(
    kb: KnowledgeBase,
    env: jinja2.Environment,
    *,
    project_root: Path | None = None,
    directory_urls: bool = True,
    progress: Progress = NO_PROGRESS,
    cache: PageCache | None = None,
    record_links: RecordLinks | None = None,
    site_name: str = "kb",
    site_url: str | None = None,
    search: bool = True,
    reuse: Reuse | None = None,
) -> SiteBuild:
    """Every generated page of the site, for a loaded (possibly partly invalid) knowledge base.

    ``env`` comes from ``kb.render.env.make_env``; the site's filters are added to it.
    ``project_root`` (default: the KB folder's parent) is where reference paths start;
    ``directory_urls`` is MkDocs' ``use_directory_urls`` (links in HTML blocks follow it).
    The KB's own problems are listed on the home page and returned in ``problems``.
    ``cache`` keeps rendered case pages between builds; ``record_links`` adds "view"/"edit" links.
    Withdrawn cases get a tombstone page and count nowhere; ``site_name`` and ``site_url``
    title and anchor the change feed (see ``generator.pages.feed`` and ``.tombstones``).
    ``search`` makes the pages search indexes (off while ``mkdocs serve`` keeps the index it built first).
    ``reuse`` holds what the previous build of ``mkdocs serve`` computed; this build updates it.
    """
    if reuse is not None and reuse.taxonomy is not kb.taxonomy:
        reuse.values.clear()
    everything, kb = kb, live(kb)
    add_site_filters(env)
    pages = Pages(env, directory_urls=directory_urls)
    pages.build.problems.extend(str(p) for p in kb.problems)
    cases = everything.cases
    stats, groups = _kept(reuse, "figures", cases, lambda c: _share(everything, c), lambda: _figures(everything))
    maps = {what: _links(what, found) for what, found in groups.items()}
    _browse_pages(pages, kb, reuse)
    _overview_pages(pages, kb, stats, groups, maps)
    for asset in ASSETS:
        pages.build.files[asset] = (builtin_templates_dir() / "site" / asset).read_text(encoding="utf-8")
    refs = References(project_root or kb.root.resolve().parent, pages.build.problems)
    names = _kept(reuse, "names", cases, _names, lambda: names_of(everything))
    context = CaseContext(kb, maps, refs, record_links, cache, names, reuse.prompts if reuse is not None else None)
    progress.start("site", len(everything.cases))
    for case in everything.cases:
        if case.case.withdrawn:
            pages.begin(f"cases/{case.id}.md")
            add_tombstone(pages.render, case, names)
        else:
            case_page(pages, case, context)
            if search:
                url = page_url(f"cases/{case.id}.md", directory_urls=directory_urls, file=True)
                pages.build.search[url] = search_page(case)
        progress.advance(1)
    redirects = _kept(reuse, "redirects", cases, _names, lambda: redirect_files(everything, names, directory_urls))
    pages.build.files.update(redirects)
    feed = feed_json(everything, title=site_name, site_url=site_url, directory_urls=directory_urls)
    pages.build.files[FEED_FILE] = feed
    pages.build.files[MODIFIED_FILE] = _kept(
        reuse,
        "modified",
        cases,
        lambda c: modified_csv(replace(everything, cases=[c])),
        lambda: modified_csv(everything),
    )
    if cache is not None:
        cache.prune()
    if reuse is not None:
        reuse.cases, reuse.taxonomy = {case.id: case for case in cases}, everything.taxonomy
        reuse.explorer.retain(kb.cases)
        reuse.keys.retain(everything.cases)
        reuse.prompts.retain(everything.cases)
    for path, code in sorted(refs.files.items()):
        if code is not None:
            pages.add(code.page, "site/code.md.j2", code=code, users=refs.users[path], up="../" * code.page.count("/"))
    return pages.build


def _overview_pages(
    pages: Pages,
    kb: KnowledgeBase,
    stats: Stats,
    groups: dict[str, list[browse.Group]],
    maps: dict[str, dict[str, Link]],
) -> None:
    """Home, taxonomy, search and the references: pages whose size does not grow with the KB."""
    pages.add(
        "index.md",
        "site/home.md.j2",
        stats=stats,
        charts=_charts(groups),
        top=TOP_SERVICES,
        problems=[str(p) for p in kb.problems],
        **groups,
    )
    categories = kb.taxonomy.categories if kb.taxonomy else []
    pages.add(
        "taxonomy.md",
        "site/taxonomy.md.j2",
        categories=categories,
        builtin=kb.taxonomy_builtin,
        counts={key: count.count for key, count in stats.by_category.items()},
        anchors={key: link.anchor for key, link in maps["category"].items()},
        unknown=[g for g in groups["category"] if g.key not in {c.id for c in categories} and g.key != NONE],
    )
    pages.add("search.md", "site/search.md.j2")
    models, commands = _references()
    pages.add("reference/schema.md", "site/schema.md.j2", models=models)
    pages.add("reference/cli.md", "site/cli.md.j2", commands=commands)


_REFERENCE: list[tuple[list[ModelDoc], list[CommandDoc]]] = []


def _references() -> tuple[list[ModelDoc], list[CommandDoc]]:
    """The schema and CLI references: made from kb's models and commands as this process imported them, so once a
    process (each rebuild of ``mkdocs serve`` would make them again: a few tenths of a second)."""
    if not _REFERENCE:
        _REFERENCE.append((schema_docs(), cli_docs()))
    return _REFERENCE[0]
