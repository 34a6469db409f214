"""Templates rendered into site pages: the page type, its HTML blocks and the renderer.

A generated page is Markdown for MkDocs plus HTML blocks kept apart (``SitePage``):
big HTML (record Markdown rendered by markdown-it, code tabs) skips Python-Markdown, which
would only parse it again to pass it through. ``Pages`` renders templates into pages,
stashing the blocks and leaving a marker for each in the Markdown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from generator.pages.cache import read_entry
from generator.pages.html import code_html, prompt_html, relative_url
from generator.pages.text import code_language, html_inline, meta_title, plain, render_html, title_html, wrap_block
from generator.pages.titles import plain_title
from kb.errors import KbError
from kb.render.env import make_env, template_problem

__all__ = [
    "BLOCK_MARKER",
    "EXPLORER",
    "LATE_MARKER",
    "Pages",
    "SiteBuild",
    "SitePage",
    "add_site_filters",
    "fill_blocks",
    "front_matter",
    "site_env",
]

EXPLORER = "browse/index.md"
"""The one browse page: filters, sorting and paging over every failure (``explorer.js`` on ``data/*.json``)."""

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
    search: dict[str, str] = field(default_factory=dict)
    """What search indexes (``generator.pages.search``): a small HTML page per case, by its built page's path."""
    files: dict[str, str | Path] = field(default_factory=dict)
    """Files that are not pages (the explorer's data, scripts, JSON per case), by path under the site: their
    text, or the page-cache entry holding it (under ``json``)."""


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


def site_env(templates: Path | None) -> jinja2.Environment:
    """The site's Jinja environment: ``kb.render.env.make_env``'s, sandboxed only when the project has templates.

    kb's own templates are trusted code; the sandbox's check of every attribute access and
    call costs a tenth of a build. A project's templates (data from its repository) keep it.
    """
    env = make_env(templates)
    if templates is not None:
        return env
    trusted = jinja2.Environment(
        loader=env.loader,
        undefined=env.undefined,
        trim_blocks=env.trim_blocks,
        lstrip_blocks=env.lstrip_blocks,
        keep_trailing_newline=env.keep_trailing_newline,
        autoescape=False,  # noqa: S701  Markdown output, as make_env's: the site's filters escape
        auto_reload=env.auto_reload,
    )
    trusted.filters.update(env.filters)
    trusted.tests.update(env.tests)
    return trusted


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


class Pages:
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
