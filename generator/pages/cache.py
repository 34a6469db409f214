"""The site's page cache: a case page is rendered again only when what it shows changed.

A rendered case page (its Markdown and HTML blocks) is kept as JSON in kb's cache folder
(``$KB_CACHE_DIR/site-<kb>/``), keyed by the bytes of the case's record files, the site
templates and the settings the page depends on (``salt``). Entries hold data only
(strings), never code; an entry that cannot be read is rendered again.

``write_sources`` also keeps each generated page's Markdown as a file there, rewritten
only when its content changes, so MkDocs' ``--dirty`` rebuild (which compares the
source's and the output's times) rebuilds just the pages an edit touched.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from kb.atomic import write_text
from kb.cache import cache_dir
from kb.render.env import builtin_templates_dir
from kb.store import LoadedCase

__all__ = ["FORMAT", "PageCache", "site_cache_dir", "templates_digest", "write_sources"]

FORMAT = 1
"""Bumped when the entries' shape or the pages' construction changes."""


def site_cache_dir(kb_root: Path) -> Path:
    """The site's cache folder for one knowledge base (by its absolute path)."""
    key = hashlib.blake2b(str(kb_root.resolve()).encode(), digest_size=8).hexdigest()
    return cache_dir() / f"site-{key}"


def templates_digest(folders: Iterable[Path | None]) -> str:
    """A digest of every site template (built-in and the project's), and of the site code that renders them."""
    h = hashlib.blake2b(digest_size=16)
    here = Path(__file__).parent
    for folder in (builtin_templates_dir(), *folders, here):
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".j2", ".py", ".html"):
                h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


class PageCache:
    """Rendered case pages by case id, valid while the key (record bytes + ``salt``) matches."""

    def __init__(self, folder: Path, salt: str) -> None:
        self.folder = folder / "pages"
        self.salt = salt
        self.hits = 0
        self.misses = 0

    def key(self, case: LoadedCase, context: str = "") -> str:
        """The key of a case's page: its record files' bytes, in order, plus ``context`` and the salt."""
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{FORMAT}\0{self.salt}\0{context}\0".encode())
        for path in (case.path / "case.yaml", *(loaded.path for loaded in case.failures)):
            try:
                h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
            except OSError:
                h.update(b"\1unreadable\0")
        return h.hexdigest()

    def get(self, case_id: str, key: str) -> dict[str, object] | None:
        """The cached page of a case (``path``, ``text``, ``blocks``, ``late``, ``problems``), or None."""
        try:
            entry = json.loads((self.folder / f"{case_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            entry = None
        if not isinstance(entry, dict) or entry.get("key") != key:
            self.misses += 1
            return None
        self.hits += 1
        return entry

    def put(self, case_id: str, key: str, entry: dict[str, object]) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_text(self.folder / f"{case_id}.json", json.dumps({"key": key, **entry}, ensure_ascii=False))
        except OSError:
            pass  # a cache that cannot be written only costs time


def write_sources(folder: Path, pages: Iterable[tuple[str, str]]) -> Path:
    """Keep each page's Markdown under ``folder/docs/`` (rewritten only when it changed); return that folder."""
    docs = folder / "docs"
    for path, text in pages:
        target = docs / path
        try:
            if target.read_text(encoding="utf-8") == text:
                continue
        except (OSError, ValueError):
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text(target, text)
    return docs
