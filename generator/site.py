"""MkDocs hooks that put the knowledge base on the site at build time (``hooks:`` in mkdocs.yml).

The KB is read from the ``KB_PATH`` environment variable (default: ``failures`` beside
mkdocs.yml) on every build, its pages are added as in-memory files (nothing is
written to ``docs/``), and ``mkdocs serve`` watches the KB folder and the templates so
an edited record reloads the page. Records that fail to load are logged as warnings
(so ``mkdocs build --strict`` fails) and listed on the home page; the rest still shows.
HTML blocks of the generated pages (rendered record text, code tabs, long lists) skip
the Markdown pass: ``on_page_content`` puts them back in place of their markers, and
``on_post_page`` those search should not read (diffs, task prompts, the tabs' structure).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files, InclusionLevel

from generator.pages.build import LATE_MARKER, SitePage, build_pages, fill_blocks
from kb.errors import KbError
from kb.render.env import builtin_templates_dir, make_env, project_templates_dir
from kb.store import scan_kb

__all__ = ["KB_ENV", "kb_path", "on_files", "on_page_content", "on_post_page", "on_serve"]

KB_ENV = "KB_PATH"
DEFAULT_KB = "failures"
_HIDDEN_FROM_NAV = ("cases/", "code/")
"""Pages reached from the browse pages and search, never listed in the navigation (it would not scale)."""

log = logging.getLogger("mkdocs.plugins.kb")
_pages: dict[str, SitePage] = {}
"""The generated pages of the current build (with their HTML blocks), by source path."""


def kb_path(config_file: str | None) -> Path:
    """``$KB_PATH`` (relative to the working directory), else ``failures`` beside mkdocs.yml."""
    value = os.environ.get(KB_ENV, "").strip()
    if value:
        return Path(value).expanduser().resolve()
    base = Path(config_file).resolve().parent if config_file else Path.cwd()
    return base / DEFAULT_KB


def on_files(files: Files, /, *, config: Any) -> Files:
    """Load the KB and add every generated page to the build."""
    started = time.perf_counter()
    root = kb_path(config.config_file_path)
    kb = scan_kb(root)
    try:
        site = build_pages(
            kb,
            make_env(project_templates_dir(root)),
            directory_urls=config.use_directory_urls,
            site_name=config.site_name,
            site_url=config.site_url,
        )
    except KbError as exc:
        raise PluginError(f"kb site: {exc}") from None
    for problem in site.problems:
        log.warning(problem)
    _pages.clear()
    for page in site.pages:
        _pages[page.path] = page
        if files.get_file_from_path(page.path) is not None:
            raise PluginError(f"kb site: docs/{page.path} would hide the generated page of the same name; rename it")
        inclusion = InclusionLevel.NOT_IN_NAV if page.path.startswith(_HIDDEN_FROM_NAV) else InclusionLevel.UNDEFINED
        files.append(File.generated(config, page.path, content=page.text, inclusion=inclusion))
    for path, text in site.files:  # the change feed, modified.csv, alias redirects: copied as they are
        if files.get_file_from_path(path) is not None:
            raise PluginError(f"kb site: docs/{path} would hide the generated file of the same name; rename it")
        files.append(File.generated(config, path, content=text))
    log.info(
        "kb: %d page(s) from %d case(s) in %s (%.2f s)",
        len(site.pages),
        len(kb.cases),
        root,
        time.perf_counter() - started,
    )
    return files


def on_page_content(html: str, /, *, page: Any, config: Any, files: Any) -> str:
    """Put a generated page's HTML blocks back in place of their markers (before search reads the page)."""
    generated = _pages.get(page.file.src_uri)
    return fill_blocks(html, generated.blocks) if generated else html


def on_post_page(output: str, /, *, page: Any, config: Any) -> str:
    """Put in the blocks search should not index (diffs repeat the code; prompts are context)."""
    generated = _pages.get(page.file.src_uri)
    return fill_blocks(output, generated.late_blocks, LATE_MARKER) if generated else output


def on_serve(server: Any, /, *, config: Any, builder: Any) -> Any:
    """Rebuild when a record or a template changes."""
    root = kb_path(config.config_file_path)
    watched = [root, builtin_templates_dir()]
    project_templates = project_templates_dir(root)
    if project_templates is not None:
        watched.append(project_templates)
    for path in dict.fromkeys(p.resolve() for p in watched):
        if path.exists():
            server.watch(str(path))
    return server
