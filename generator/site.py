"""MkDocs hooks that put the knowledge base on the site at build time (``hooks:`` in mkdocs.yml).

The KB is read from the ``KB_PATH`` environment variable (default: ``failures`` beside
mkdocs.yml) on every build, its pages are added as in-memory files (nothing is
written to ``docs/``), and ``mkdocs serve`` watches the KB folder and the templates so
an edited record reloads the page. Records that fail to load are logged as warnings
(so ``mkdocs build --strict`` fails) and listed on the home page; the rest still shows.
HTML blocks of the generated pages (rendered record text, code tabs, long lists) skip
the Markdown pass: ``on_page_content`` puts them back in place of their markers, and
``on_post_page`` those search should not read (diffs, task prompts, the tabs' structure).

Case pages come from a page cache (``generator.pages.cache``) when their records are
unchanged, and every generated page is kept as a Markdown file in kb's cache folder,
rewritten only when it changes, so ``mkdocs serve --dirty`` rebuilds only the pages an
edit touched. After a build, Pagefind (from PyPI, its binary bundled) indexes the cases'
titles, services, errors and root causes (``generator.pages.search``) into a chunked
index under ``pagefind/``.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files, InclusionLevel

from generator.pages.build import ASSETS, LATE_MARKER, RecordLinks, SiteBuild, SitePage, build_pages, fill_blocks
from generator.pages.cache import PageCache, read_entry, site_cache_dir, templates_digest, write_sources
from generator.pages.download import case_json_paths, write_download
from generator.pages.html import squeeze
from generator.pages.render import site_env
from generator.pages.session import Reuse, forget_sessions, session, theme_env
from generator.pages.watch import stop_watching, watch_kb
from kb.errors import KbError
from kb.render.env import builtin_templates_dir, project_templates_dir
from kb.store import scan_kb

__all__ = [
    "KB_ENV",
    "kb_path",
    "on_build_error",
    "on_config",
    "on_files",
    "on_page_content",
    "on_post_build",
    "on_post_page",
    "on_serve",
    "on_shutdown",
    "on_startup",
]

KB_ENV = "KB_PATH"
DEFAULT_KB = "failures"
_HIDDEN_FROM_NAV = ("cases/", "code/")
"""Pages reached from the browse pages and search, never listed in the navigation (it would not scale)."""

log = logging.getLogger("mkdocs.plugins.kb")
_pages: dict[str, SitePage] = {}
"""The generated pages of the current build (with their HTML blocks), by source path."""
_command = {"name": "build"}
"""The MkDocs command running (`build`, `serve`, `gh-deploy`)."""
_search: dict[str, Path] = {}
"""The folder of the pages search indexes (``generator.pages.search``), for ``on_post_build``."""
_download: dict[str, tuple[Path, list[str]]] = {}
"""The sources folder and its case documents, for ``on_post_build`` to gather (``generator.pages.download``)."""
_built: dict[str, tuple[Reuse, set[str]]] = {}
"""``mkdocs serve``: the generated files this build hands MkDocs, recorded in its ``Reuse`` once the build is done."""


class _Unchanged(File):
    """A generated page the previous build of this ``mkdocs serve`` left up to date, whose source this build kept:
    ``--dirty`` skips it without the two stats of each check MkDocs would make (it makes four a page)."""

    def is_modified(self) -> bool:
        return False


def on_startup(*, command: str, dirty: bool) -> None:
    """Remember whether this is ``mkdocs serve`` (Pagefind then indexes once, not after every edit)."""
    _command["name"] = command


def on_config(config: Any) -> Any:
    """Load the site's scripts (the explorer, search) on every page, after Material's own."""
    scripts = config.extra_javascript
    for asset in ASSETS:
        if asset not in [str(s) for s in scripts]:
            scripts.append(asset)
    if _command["name"] == "serve":  # keep the theme's compiled templates from one rebuild to the next
        theme = config.theme
        key, make = _theme_key(theme), theme.get_env
        theme.get_env = lambda: theme_env(key, make)
    return config


def _theme_key(theme: Any) -> str:
    """What the theme's environment depends on: its folders, locale and static templates, and the stat data of each
    file in its ``custom_dir`` (the project's overrides; the theme's own files are an installed package)."""
    stamps = []
    if theme.custom_dir and os.path.isdir(theme.custom_dir):
        for path in sorted(Path(theme.custom_dir).rglob("*")):
            with contextlib.suppress(OSError):
                st = path.stat()
                stamps.append(f"{path}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}")
    return repr((list(theme.dirs), str(theme.locale), sorted(theme.static_templates), stamps))


def _record_links(config: Any) -> RecordLinks | None:
    """ "view record"/"edit" URLs from ``repo_url`` and ``edit_uri`` (`edit/main/docs/` -> `blob/main/`, `edit/main/`)."""
    repo = (config.repo_url or "").rstrip("/")
    edit_uri = (config.edit_uri or "").strip("/")
    if not repo or not edit_uri:
        return None
    docs = Path(config.docs_dir).name
    edit = edit_uri.removesuffix(docs).strip("/")
    view = edit.replace("edit/", "blob/", 1) if edit.startswith("edit/") else edit
    return RecordLinks(view=f"{repo}/{view}/", edit=f"{repo}/{edit}/")


def _sources(docs: Path, site: SiteBuild) -> Iterator[tuple[str, str]]:
    """Every generated file's text for the sources folder; a cached page's only when its file is missing."""
    for page in site.pages:
        if page.cached is None or not (docs / page.path).is_file():
            yield page.path, _source_text(page.load())
    for path, content in site.files.items():
        if isinstance(content, str):
            yield path, content
        elif not (docs / path).is_file():
            entry = read_entry(content)
            if entry is None:
                raise PluginError(f"kb site: {content}: the site's page cache changed during the build; build again")
            yield path, str(entry["json"])


def _source_text(page: SitePage) -> str:
    """A page's Markdown as kept on disk: with a digest of its blocks, so any change to the page changes the file."""
    h = hashlib.blake2b(digest_size=12)
    for block in (*page.blocks, "\0", *page.late_blocks):
        h.update(block.encode() + b"\0")
    return f"{page.text}\n<!--kb-page:{h.hexdigest()}-->\n"


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
    templates = project_templates_dir(root)
    links = _record_links(config)
    folder = site_cache_dir(root)
    digest = templates_digest([templates])
    salt = f"{digest}:{config.use_directory_urls}:{links}"
    indexed = _command["name"] == "serve" and _index_built(config)  # serve indexes once: skip search's pages
    if _command["name"] == "serve":  # rebuilds reload only the edited cases and reuse what did not change
        served = session(root)
        kb = served.load()
        env = served.environment(digest, lambda: site_env(templates))
        reuse: Reuse | None = served.reused(f"{salt}:{config.site_name}:{config.site_url}:{config.site_dir}")
    else:
        kb, env, reuse = scan_kb(root), site_env(templates), None
    gc.freeze()  # the records live until the build ends: the collector need not scan them again and again
    cache = PageCache(folder, salt, reuse.keys if reuse is not None else None)
    try:
        site = build_pages(
            kb,
            env,
            directory_urls=config.use_directory_urls,
            cache=cache,
            record_links=links,
            site_name=config.site_name,
            site_url=config.site_url,
            search=not indexed,
            reuse=reuse,
        )
    except KbError as exc:
        raise PluginError(f"kb site: {exc}") from None
    for problem in site.problems:
        log.warning(problem)
    gc.freeze()  # the same for the pages
    _pages.clear()
    touched: set[str] = set()
    sources = write_sources(
        folder / "docs", _sources(folder / "docs", site), written=reuse.written if reuse else None, touched=touched
    )
    kept = reuse.built - touched if reuse is not None else set()
    """Files already in the site folder as this build would leave them: unchanged pages, and other files MkDocs need
    not even see (a serve rebuild after one edit hands it a few files, not 15,000 JSON documents and redirects)."""
    if not indexed:
        _search["pages"] = write_sources(folder / "search", site.search.items(), prune=True)
        _download["cases"] = sources, case_json_paths(site.files)
    known = files.src_uris  # the generated paths are POSIX already (``get_file_from_path`` parses each one)
    for page in site.pages:
        _pages[page.path] = page
        if page.path in known:
            raise PluginError(f"kb site: docs/{page.path} would hide the generated page of the same name; rename it")
        kind = _Unchanged if page.path in kept else File
        files.append(
            kind(page.path, str(sources), config.site_dir, config.use_directory_urls, inclusion=_inclusion(page.path))
        )
    for path in site.files:
        if path in known:
            raise PluginError(f"kb site: docs/{path} would hide the generated file of the same name; rename it")
        if path not in kept:
            files.append(
                File(path, str(sources), config.site_dir, config.use_directory_urls, inclusion=_inclusion(path))
            )
    if reuse is not None:
        _built["serve"] = reuse, {page.path for page in site.pages} | set(site.files)
    log.info(
        "kb: %d page(s) from %d case(s) in %s (%.2f s; %d case page(s) from the cache)",
        len(site.pages),
        len(kb.cases),
        root,
        time.perf_counter() - started,
        cache.hits,
    )
    return files


def _inclusion(path: str) -> InclusionLevel:
    """What MkDocs' ``not_in_nav`` setting gives a generated file, set here: matching 20,000 paths costs a second."""
    return InclusionLevel.NOT_IN_NAV if path.startswith(_HIDDEN_FROM_NAV) else InclusionLevel.UNDEFINED


def on_page_content(html: str, /, *, page: Any, config: Any, files: Any) -> str:
    """Put a generated page's HTML blocks back in place of their markers (before search reads the page)."""
    generated = _pages.get(page.file.src_uri)
    if generated is None:
        return html
    try:
        generated = generated.load()
    except KbError as exc:
        raise PluginError(f"kb site: {exc}") from None
    _pages[page.file.src_uri] = replace(generated, text="", blocks=())  # used once: free them for the rest of the build
    return fill_blocks(html, generated.blocks)


def on_post_page(output: str, /, *, page: Any, config: Any) -> str:
    """Squeeze a generated page's indentation and put in the blocks search should not index (diffs, prompts)."""
    generated = _pages.get(page.file.src_uri)
    return fill_blocks(squeeze(output), generated.late_blocks, LATE_MARKER) if generated else output


def on_post_build(*, config: Any) -> None:
    """Index what search reads with Pagefind and gather the whole-KB download, into the built site
    (once per ``mkdocs serve``, as its first build)."""
    gc.unfreeze()
    if "serve" in _built:  # the build is done: its files are in the site folder
        reuse, built = _built.pop("serve")
        reuse.built = built
    site = Path(config.site_dir)
    pages = _search.get("pages")
    if pages is None or (_command["name"] == "serve" and _index_built(config)):
        return
    if "cases" in _download:
        write_download(*_download.pop("cases"), site)
    try:
        import pagefind_bin  # noqa: F401  (the binary Pagefind ships on PyPI)
    except ImportError:
        log.warning("kb site: search is off: install Pagefind (`pip install 'pagefind[bin]'`, in kb's docs extra)")
        return
    started = time.perf_counter()
    output = site / "pagefind"
    command = [sys.executable, "-m", "pagefind_bin", "--site", str(pages), "--output-path", str(output)]
    command += ["--force-language", "en", "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        log.warning("kb site: Pagefind failed (%s): %s", done.returncode, (done.stderr or done.stdout).strip()[-500:])
        return
    log.info("kb: search index built by Pagefind (%.2f s)", time.perf_counter() - started)


def on_build_error(*, error: Exception) -> None:
    """Let the collector see the failed build's objects again (``on_files`` froze them); serve starts afresh."""
    gc.unfreeze()
    _built.clear()
    forget_sessions()


def _index_built(config: Any) -> bool:
    return (Path(config.site_dir) / "pagefind" / "pagefind.js").exists()


def on_serve(server: Any, /, *, config: Any, builder: Any) -> Any:
    """Rebuild when a record or a template changes (the KB folder through notifications, not polled)."""
    root = kb_path(config.config_file_path)
    watched = [builtin_templates_dir()]
    project_templates = project_templates_dir(root)
    if project_templates is not None:
        watched.append(project_templates)
    for path in dict.fromkeys(p.resolve() for p in watched):
        if path.exists():
            server.watch(str(path))
    if root.exists():
        watch_kb(server, root.resolve(), site_cache_dir(root) / "watch")
    return server


def on_shutdown() -> None:
    stop_watching()
