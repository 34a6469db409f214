"""The knowledge base's pages for the MkDocs site, rendered from the records through Jinja.

``build_pages`` turns a loaded ``KnowledgeBase`` into Markdown pages (home, browse
pages, one page per case, taxonomy, runnable references, schema and CLI reference);
``generator.site`` hands them to MkDocs at build time. Templates live in
``templates/site/`` and are overridable like every kb template. Counts come from
``kb.stats.compute_stats``, the computation ``kb stats`` prints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from generator.pages import browse
from generator.pages.cache import PageCache, read_entry
from generator.pages.charts import Bar, bar_chart
from generator.pages.code import CodeFile, Snippet, load_code_file, snippet
from generator.pages.explorer import explorer_data
from generator.pages.html import Tab, code_html, diff_html, prompt_html, relative_url, tabs_html
from generator.pages.reference import cli_docs, schema_docs
from generator.pages.text import code_language, html_inline, meta_title, plain, render_html, title_html, wrap_block
from generator.pages.titles import case_title, plain_title
from kb.errors import KbError
from kb.facets import facets_of
from kb.models import Failure, Reference, Response
from kb.names import NONE, normalise_language, normalise_platform
from kb.progress import NO_PROGRESS, Progress
from kb.render.env import builtin_templates_dir, template_problem
from kb.render.markdown import diff
from kb.render.report import FailureEntry, case_sections, failure_entries
from kb.stats import Stats, compute_stats
from kb.store import KnowledgeBase, LoadedCase, record_data
from kb.totals import totals_line

__all__ = [
    "BLOCK_MARKER",
    "LATE_MARKER",
    "RecordLinks",
    "SiteBuild",
    "SitePage",
    "add_site_filters",
    "build_pages",
    "fill_blocks",
]

TOP_SERVICES = 15
"""Services shown on the home page's chart and table (the browse page lists all)."""


BLOCK_MARKER = re.compile(r"<!--kb-block:(\d+)-->")
"""Where an HTML block goes back into a rendered page (record text can never produce it: `<` is escaped)."""
LATE_MARKER = re.compile(r"<!--kb-late:(\d+)-->")
"""The same, for blocks put back after search has read the page."""


@dataclass(frozen=True)
class SitePage:
    """One generated page: its path under the docs folder (`cases/pr7060.md`), Markdown and HTML blocks.

    The Markdown holds a marker (``<!--kb-block:N-->``, a line of its own) for each block;
    ``fill_blocks`` puts the blocks back into the HTML MkDocs renders. Big HTML (record
    Markdown rendered by markdown-it, code tabs, lists) so skips Python-Markdown, which
    would only parse it again to pass it through.
    """

    path: str
    text: str
    blocks: tuple[str, ...] = ()
    late_blocks: tuple[str, ...] = ()
    """Blocks put back after search has indexed the page (``fill_blocks(..., LATE_MARKER)``): diffs, prompts, tab labels."""
    cached: Path | None = None
    """A page from the page cache: ``text`` and the blocks are read from this entry when needed (``load``)."""

    def load(self) -> SitePage:
        """The page with its text and blocks (read from the page cache for a cached page)."""
        if self.cached is None:
            return self
        entry = read_entry(self.cached)
        if entry is None:
            raise KbError(f"{self.cached}: the site's page cache changed during the build; build again")
        blocks, late = entry["blocks"], entry["late"]
        assert isinstance(blocks, list) and isinstance(late, list)
        return SitePage(self.path, str(entry["text"]), tuple(blocks), tuple(late))


def fill_blocks(html: str, blocks: Sequence[str], marker: re.Pattern[str] = BLOCK_MARKER) -> str:
    """Replace each block marker by its block (one pass: a block's own text is never rescanned)."""
    return marker.sub(lambda match: blocks[int(match[1])], html) if blocks else html


@dataclass
class SiteBuild:
    """The generated pages, and what could not be shown (one line each, for the build log)."""

    pages: list[SitePage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    files: dict[str, str | Path] = field(default_factory=dict)
    """Files that are not pages (the explorer's data, scripts, JSON per case), by path under the site: their
    text, or the page-cache entry holding it (under ``json``)."""


@dataclass(frozen=True)
class Link:
    """A name shown on a case page and its anchor on a browse page."""

    title: str
    anchor: str


@dataclass(frozen=True)
class RecordLinks:
    """Where a record can be viewed and edited (from MkDocs' ``repo_url`` and ``edit_uri``), by its path in the repository."""

    view: str
    edit: str

    def of(self, path: str) -> dict[str, str]:
        return {"view": self.view + path, "edit": self.edit + path}


@dataclass(frozen=True)
class FailureView:
    """What a case page shows for one failure, beyond the record itself."""

    entry: FailureEntry
    category: Link | None
    services: list[Link]
    services_from: str
    """`record`, `inferred` (from the failure's text and code) or `task` (inherited from the task's services)."""
    links: dict[str, str]
    """`view` and `edit` URLs of the record, when the site has a ``repo_url``."""
    tabs: str
    """MODEL_RESPONSE, IDEAL_RESPONSE and Diff as content tabs (an HTML block), or empty."""
    reference: Reference | None
    code: CodeFile | None
    snippet: Snippet | None


def _yaml_string(text: str) -> str:
    """A YAML double-quoted scalar of ``text``: JSON's ASCII form, which YAML reads back unchanged.

    Characters beyond the Basic Multilingual Plane would become JSON surrogate pairs, which
    YAML does not join; they are written as HTML character references instead (the value
    is HTML already).
    """
    return json.dumps("".join(c if ord(c) <= 0xFFFF else f"&#{ord(c)};" for c in text))


def front_matter(title: str, *, search_exclude: bool = False, template: str | None = None, wide: bool = False) -> str:
    """A page's YAML front matter. The title is HTML-escaped: themes print it unescaped. ``wide`` hides the sidebars."""
    lines = ["---", f"title: {_yaml_string(meta_title(title))}"]
    if wide:
        lines += ["hide:", "  - navigation", "  - toc"]
    if template:
        lines.append(f"template: {_yaml_string(template)}")
    if search_exclude:
        lines += ["search:", "  exclude: true"]
    return "\n".join([*lines, "---", ""])


def _response_html(response: Response | None, markdown: Callable[[str | None], str]) -> str:
    if response is None:
        return ""
    parts = [markdown(response.text)]
    if response.code and response.code.strip():
        parts.append(code_html(response.code, code_language(response.language)))
    return "".join(parts).strip()


def _tabs(failure: Failure, number: int, pages: _Pages) -> str:
    """The model's and the ideal response side by side in tabs, with the diff of their code."""
    tabs = [
        Tab(label, html)
        for label, html in (
            ("MODEL_RESPONSE", _response_html(failure.model_response, pages.markdown)),
            ("IDEAL_RESPONSE", _response_html(failure.ideal_response, pages.markdown)),
        )
        if html
    ]
    model = failure.model_response.code if failure.model_response else None
    ideal = failure.ideal_response.code if failure.ideal_response else None
    if model and ideal and model.strip() and ideal.strip():
        changes = diff(model, ideal)
        tabs.append(
            Tab("Diff", pages.stash_late(diff_html(changes)) if changes else "<p>The two snippets are the same.</p>")
        )
    return tabs_html(tabs, number, pages.stash_late)


def add_site_filters(env: jinja2.Environment) -> jinja2.Environment:
    """Register the site's escaping filters on an environment from ``kb.render.env.make_env``."""
    env.filters.update(
        plain=plain,
        md_inline=html_inline,
        text_html=title_html,
        code=lambda code, language="": code_html(code, code_language(language)),
        prompt=prompt_html,
        lang=code_language,
        plain_title=plain_title,
    )
    env.globals["front_matter"] = front_matter
    return env


class _Pages:
    """Renders templates into pages, turning template errors into one-line problems.

    While a page renders, HTML blocks are stashed (``stash``: back in place before search
    indexes the page; ``stash_late``: after, for what search should not read) and the
    Markdown keeps a marker for each.
    """

    def __init__(self, env: jinja2.Environment, *, directory_urls: bool) -> None:
        self.env = env
        self.build = SiteBuild()
        self.blocks: list[str] = []
        self.late: list[str] = []
        self.path = ""
        self.directory_urls = directory_urls
        env.filters["md"] = lambda text: self.stash(wrap_block(self.markdown(text)))
        env.filters["md_html"] = self.markdown
        env.filters["raw"] = self.stash
        env.filters["late"] = self.stash_late
        env.globals["url"] = self.url

    def markdown(self, text: str | None) -> str:
        """A Markdown field as safe HTML."""
        return render_html(text)

    def stash(self, html: str) -> str:
        """Keep an HTML block for the page being rendered; its marker goes in the Markdown."""
        html = html.strip()
        if not html:
            return ""
        self.blocks.append(html)
        return f"<!--kb-block:{len(self.blocks) - 1}-->"

    def stash_late(self, html: str) -> str:
        """Keep an HTML block that goes in after search has indexed the page (diffs, prompts)."""
        html = html.strip()
        if not html:
            return ""
        self.late.append(html)
        return f"<!--kb-late:{len(self.late) - 1}-->"

    def url(self, page: str, anchor: str = "") -> str:
        """A link from the page being rendered to another generated page (for HTML blocks)."""
        return relative_url(self.path, page, anchor, directory_urls=self.directory_urls)

    def begin(self, path: str) -> None:
        """Start a page: blocks stashed from now on belong to it."""
        self.blocks, self.late, self.path = [], [], path

    def render(self, template: str, **context: Any) -> None:
        """Render the page begun last."""
        try:
            text = self.env.get_template(template).render(**context)
        except jinja2.TemplateError as exc:
            raise template_problem(exc, template=template, context=f"page {self.path}") from None
        page = SitePage(self.path, text.rstrip("\n") + "\n", tuple(self.blocks), tuple(self.late))
        self.build.pages.append(page)

    def add(self, path: str, template: str, **context: Any) -> None:
        self.begin(path)
        self.render(template, **context)


def _groups(kb: KnowledgeBase, stats: Stats) -> dict[str, list[browse.Group]]:
    items = browse.entries(kb)
    return {
        "impact": browse.by_impact(stats, items),
        "category": browse.by_category(kb, stats, items),
        "service": browse.by_service(stats, items),
        "platform": browse.by_platform(stats, items),
    }


def _links(facet: str, groups: Sequence[browse.Group]) -> dict[str, Link]:
    """Each value's name and its view in the explorer (the hash holds the filter)."""
    return {g.key: Link(g.title, f"{facet}={quote(g.key, safe='')}") for g in groups}


EXPLORER = "browse/index.md"
"""The one browse page: filters, sorting and paging over every failure (``explorer.js`` on ``data/*.json``)."""
ASSETS = ("assets/explorer.js", "assets/search.js")
"""The site's scripts, from the built-in templates (``templates/site/assets/``): no framework, nothing fetched from elsewhere."""


def _browse_pages(pages: _Pages, kb: KnowledgeBase) -> None:
    """The explorer, its data, and the list of reports without failures."""
    data = explorer_data(kb)
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


class _References:
    """Each referenced example file, read once; problems collected for the build log."""

    def __init__(self, project_root: Path, problems: list[str]) -> None:
        self.root = project_root
        self.problems = problems
        self.files: dict[str, CodeFile | None] = {}
        self.users: dict[str, list[dict[str, Any]]] = {}

    def get(self, reference: Reference, entry: browse.Entry) -> CodeFile | None:
        if reference.path not in self.files:
            loaded = load_code_file(self.root, reference.path)
            if isinstance(loaded, str):
                self.problems.append(f"{entry.loaded.path}: {loaded}")
            self.files[reference.path] = loaded if isinstance(loaded, CodeFile) else None
        code = self.files[reference.path]
        if code is not None:
            self.users.setdefault(code.path, []).append({"entry": entry, "symbol": reference.symbol})
        return code


class _Context:
    """What every case page of a build shares: the facet links, references, record links and the page cache."""

    def __init__(
        self,
        kb: KnowledgeBase,
        maps: dict[str, dict[str, Link]],
        refs: _References,
        record_links: RecordLinks | None,
        cache: PageCache | None,
    ) -> None:
        self.maps = maps
        self.refs = refs
        self.record_links = record_links
        self.cache = cache
        self.titles = {case.id: case_title(case.case) for case in kb.cases}
        root = kb.root.resolve()
        try:
            self.kb_in_repo: str | None = root.relative_to(refs.root.resolve()).as_posix()
        except ValueError:
            self.kb_in_repo = None

    def links(self, path: Path) -> dict[str, str]:
        if self.record_links is None or self.kb_in_repo is None:
            return {}
        return self.record_links.of(f"{self.kb_in_repo}/{path.parent.name}/{path.name}")


def _failure_views(case: LoadedCase, context: _Context, pages: _Pages) -> list[FailureView]:
    refs, maps = context.refs, context.maps
    by_id = {loaded.failure.id: loaded for loaded in case.failures}
    views = []
    for entry in failure_entries(case, report_dir=refs.root / "reports" / case.id, project_root=refs.root):
        failure = entry.failure
        reference = failure.ideal_response.reference if failure.ideal_response else None
        code = refs.get(reference, browse.Entry(case, by_id[failure.id])) if reference else None
        facets = facets_of(failure, case.case)
        views.append(
            FailureView(
                entry=entry,
                category=maps["category"].get(failure.category) if failure.category else None,
                services=[maps["service"].get(s) or Link(s, f"service={quote(s, safe='')}") for s in facets.services],
                services_from=facets.services_from,
                links=context.links(by_id[failure.id].path),
                tabs=_tabs(failure, entry.number, pages),
                reference=reference,
                code=code,
                snippet=snippet(code, reference) if code and reference else None,
            )
        )
    return views


def _case_page(pages: _Pages, case: LoadedCase, context: _Context) -> None:
    task = case.case.task
    platform = normalise_platform(task.platform if task else None)
    language = normalise_language(task.language if task else None)
    path = f"cases/{case.id}.md"
    data = f"cases/{case.id}.json"
    original = case.case.duplicate_of
    referenced = any(f.failure.ideal_response and f.failure.ideal_response.reference for f in case.failures)
    cache = context.cache if not referenced else None  # reference pages list their users: render those every time
    key = cache.key(case, f"{original}\0{context.titles.get(original or '', '')}") if cache else ""
    entry = cache.hit(key) if cache else None
    if entry is not None:
        pages.build.pages.append(SitePage(path, "", cached=entry))
        pages.build.files[data] = entry
        return
    pages.begin(path)
    pages.render(
        "site/case.md.j2",
        case=case.case,
        title=context.titles[case.id],
        totals=totals_line(f.failure for f in case.failures),
        platform=context.maps["platform"].get(platform),
        language=None if language == NONE else language,
        failures=_failure_views(case, context, pages),
        sections=case_sections(case),
        original={"id": original, "title": context.titles.get(original)} if original else None,
        links=context.links(case.path / "case.yaml"),
        json_url=pages.url(data),
        explorer=EXPLORER,
    )
    pages.build.files[data] = _case_json(case)
    if cache is not None:
        page = pages.build.pages[-1]
        cache.put(
            key, {"text": page.text, "blocks": page.blocks, "late": page.late_blocks, "json": pages.build.files[data]}
        )


def _case_json(case: LoadedCase) -> str:
    """A case and its failures as one JSON document (``cases/<id>.json``): the records as stored."""
    data = {
        "case": _without_layout(record_data(case.case)),
        "failures": [
            {"file": loaded.path.name, **_without_layout(record_data(loaded.failure))} for loaded in case.failures
        ],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _without_layout(data: dict[str, Any]) -> dict[str, Any]:
    """A record's data without the import's presentation hints (``layout``): what a reader of the JSON wants."""
    data.pop("layout", None)
    for section in data.get("extra", []) or []:
        if isinstance(section, dict):
            section.pop("layout", None)
    return data


def build_pages(
    kb: KnowledgeBase,
    env: jinja2.Environment,
    *,
    project_root: Path | None = None,
    directory_urls: bool = True,
    progress: Progress = NO_PROGRESS,
    cache: PageCache | None = None,
    record_links: RecordLinks | None = None,
) -> SiteBuild:
    """Every generated page of the site, for a loaded (possibly partly invalid) knowledge base.

    ``env`` comes from ``kb.render.env.make_env``; the site's filters are added to it.
    ``project_root`` (default: the KB folder's parent) is where reference paths start;
    ``directory_urls`` is MkDocs' ``use_directory_urls`` (links in HTML blocks follow it).
    The KB's own problems are listed on the home page and returned in ``problems``.
    ``cache`` keeps rendered case pages between builds; ``record_links`` adds "view"/"edit" links.
    """
    add_site_filters(env)
    pages = _Pages(env, directory_urls=directory_urls)
    problems = pages.build.problems
    problems.extend(str(p) for p in kb.problems)
    stats = compute_stats(kb)
    groups = _groups(kb, stats)
    maps = {what: _links(what, found) for what, found in groups.items()}
    _browse_pages(pages, kb)
    for asset in ASSETS:
        pages.build.files[asset] = (builtin_templates_dir() / "site" / asset).read_text(encoding="utf-8")
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
    pages.add("reference/schema.md", "site/schema.md.j2", models=schema_docs())
    pages.add("reference/cli.md", "site/cli.md.j2", commands=cli_docs())
    refs = _References(project_root or kb.root.resolve().parent, problems)
    context = _Context(kb, maps, refs, record_links, cache)
    progress.start("site", len(kb.cases))
    for case in kb.cases:
        _case_page(pages, case, context)
        progress.advance(1)
    if cache is not None:
        cache.prune()
    for path, code in sorted(refs.files.items()):
        if code is not None:
            pages.add(code.page, "site/code.md.j2", code=code, users=refs.users[path], up="../" * code.page.count("/"))
    return pages.build
