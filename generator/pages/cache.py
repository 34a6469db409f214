"""The site's page cache: a case page is rendered again only when what it shows changed.

A rendered case page (its Markdown, HTML blocks and its records as JSON) is kept in kb's
cache folder (``$KB_CACHE_DIR/site-<kb>/pages/<key>.json``), named by its key: the bytes
of the case's record files, the site templates and the settings the page depends on
(``salt``). A hit costs one ``stat``; the entry is read only when MkDocs renders the
page (``SitePage.load``), so an unchanged site is never read back whole, and never held
in memory whole. Entries hold data only (strings), never code; one that cannot be read
is rendered again, one no case uses any more is removed (``prune``).

``write_sources`` keeps each generated page's Markdown (and each case's JSON) as a file
there too, rewritten only when its content changes, so MkDocs' ``--dirty`` rebuild
(which compares the source's and the output's times) rebuilds just what an edit touched.
These are caches, not records: they are written with a rename (never half a file) but
without the fsync a record gets.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from generator.pages.session import PerCase
from kb.cache import cache_dir
from kb.render.env import builtin_templates_dir
from kb.store import LoadedCase

__all__ = ["FORMAT", "PageCache", "read_entry", "site_cache_dir", "templates_digest", "write_cached", "write_sources"]

FORMAT = 2
"""Bumped when the entries' shape or the pages' construction changes."""


def site_cache_dir(kb_root: Path) -> Path:
    """The site's cache folder for one knowledge base (by its absolute path)."""
    key = hashlib.blake2b(str(kb_root.resolve()).encode(), digest_size=8).hexdigest()
    return cache_dir() / f"site-{key}"


def templates_digest(folders: Iterable[Path | None]) -> str:
    """A digest of every site template (built-in and the project's), and of the site code that renders them."""
    h = hashlib.blake2b(digest_size=16)
    here = Path(__file__).parent
    for folder in (builtin_templates_dir(), *folders, here, here.parent.parent / "kb"):
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".j2", ".py", ".html"):
                h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def write_cached(path: Path, text: str, folders: set[Path] | None = None) -> None:
    """Replace a cache file: a temp file (named by the process) renamed into place (no fsync: a lost cache file only
    costs time). ``folders`` holds the folders known to exist (their ``mkdir`` is skipped; new ones are added)."""
    parent = path.parent
    if folders is None or parent not in folders:
        parent.mkdir(parents=True, exist_ok=True)
        if folders is not None:
            folders.add(parent)
    tmp = parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_entry(path: Path) -> dict[str, object] | None:
    """A cached page (``text``, ``blocks``, ``late``, ``problems``, ``json``), or None when it cannot be read."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and entry.get("format") == FORMAT else None


class PageCache:
    """Rendered case pages, by key (record bytes + ``salt``)."""

    def __init__(self, folder: Path, salt: str, keys: PerCase[tuple[str, str]] | None = None) -> None:
        self.root = folder
        self.keys = keys
        """Keys known from a previous build (``mkdocs serve``): a case object still loaded has the same files."""
        self.folder = folder / "pages"
        self.salt = salt
        self.hits = 0
        self.misses = 0
        self.used: set[str] = set()
        self.folders: set[Path] = set()

    def key(self, case: LoadedCase, context: str = "") -> str:
        """The key of a case's page: its record files' bytes, in order, plus ``context`` and the salt."""
        known = self.keys.get(case) if self.keys is not None else None
        if known is not None and known[0] == context:
            return known[1]
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{FORMAT}\0{self.salt}\0{context}\0".encode())
        for path in (case.path / "case.yaml", *(loaded.path for loaded in case.failures)):
            try:
                h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
            except OSError:
                h.update(b"\1unreadable\0")
        if self.keys is not None:
            self.keys.put(case, (context, h.hexdigest()))
        return h.hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def hit(self, key: str) -> Path | None:
        """The entry of ``key`` when it is there (checked with one stat; read later, when needed)."""
        self.used.add(key)
        path = self.path(key)
        if path.is_file():
            self.hits += 1
            return path
        self.misses += 1
        return None

    def put(self, key: str, entry: dict[str, object]) -> None:
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            write_cached(self.path(key), json.dumps({"format": FORMAT, **entry}, ensure_ascii=False), self.folders)

    def prune(self) -> None:
        """Remove the entries no page of this build used (edited or deleted cases)."""
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.folder):
                if entry.name.endswith(".json") and entry.name[:-5] not in self.used:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)


def write_sources(
    folder: Path,
    files: Iterable[tuple[str, str]],
    *,
    prune: bool = False,
    written: dict[Path, str] | None = None,
    touched: set[str] | None = None,
) -> Path:
    """Keep each file under ``folder`` (rewritten only when it changed); ``prune`` removes the others. Returns ``folder``.

    ``written`` holds the text this process last left in each file: one the same is not even read.
    ``touched`` gets each path not known so to be unchanged (rewritten, or compared with what is on disk).
    """
    docs = folder
    kept: set[Path] = set()
    folders: set[Path] = set()
    for path, text in files:
        target = docs / path
        kept.add(target)
        if written is not None and written.get(target) == text:
            continue
        if touched is not None:
            touched.add(path)
        try:
            same = target.stat().st_size == len(text.encode("utf-8")) and target.read_text(encoding="utf-8") == text
        except (OSError, ValueError):
            same = False
        if not same:
            write_cached(target, text, folders)
        if written is not None:
            written[target] = text
    if prune:
        for stale in [p for p in docs.rglob("*") if p.is_file() and p not in kept]:
            with contextlib.suppress(OSError):
                stale.unlink()
    return docs
