"""What ``mkdocs serve`` keeps between its builds, so a rebuild after an edit costs what the edit touched.

MkDocs loads its configuration, and so the site's hooks, again for every rebuild; this
module is imported normally, so it stays. A ``Session`` (one per knowledge base) keeps
the loaded knowledge base and the stat data of every file in it. The next build stats
the files again (one ``scandir`` a folder, nothing read) and reloads only the cases
whose files changed; every other case keeps its loaded object, which is what lets the
page cache (``PageCache.keys``) and the whole-KB figures (``Reuse``) skip it. Anything
else (a case added, removed or renamed, the taxonomy, a file at the top, an edit that
brings or clears a problem) loads the whole knowledge base again, as a build does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

import jinja2

from kb.store import KnowledgeBase, LoadedCase, scan_kb

__all__ = ["PerCase", "Reuse", "Session", "forget_sessions", "session", "theme_env"]

T = TypeVar("T")
Stamp = tuple[int, int, int, int]
"""A file's size, mtime and ctime (ns) and inode: any write changes one of them (``RACY`` for a file written too
recently to tell: a second write in the same clock tick could keep all four)."""
RACY = (-2, 0, 0, 0)
_RACY_NS = 2_000_000_000
PARSED = 16
"""Changed cases up to which a rebuild parses their records rather than read the record cache."""


class PerCase(Generic[T]):
    """Values computed from one loaded case, kept while that very case object is in the knowledge base."""

    def __init__(self) -> None:
        self.kept: dict[str, tuple[LoadedCase, T]] = {}

    def get(self, case: LoadedCase) -> T | None:
        hit = self.kept.get(case.id)
        return hit[1] if hit is not None and hit[0] is case else None

    def put(self, case: LoadedCase, value: T) -> T:
        self.kept[case.id] = (case, value)
        return value

    def retain(self, cases: list[LoadedCase]) -> None:
        """Forget the cases that are gone."""
        ids = {case.id for case in cases}
        self.kept = {k: v for k, v in self.kept.items() if k in ids}


@dataclass
class Reuse:
    """What a build may take from the previous one of the same knowledge base and settings."""

    cases: dict[str, LoadedCase] = field(default_factory=dict)
    """The previous build's cases, by id."""
    taxonomy: object = None
    """The previous build's taxonomy (the whole-KB values hold only while it is the same object)."""
    values: dict[str, object] = field(default_factory=dict)
    """Whole-KB values of the previous build (the figures and browse groups, the name table, ...), by name."""
    explorer: PerCase[Any] = field(default_factory=PerCase)
    """Each case's rows of the explorer's data."""
    keys: PerCase[tuple[str, str]] = field(default_factory=PerCase)
    """Each case's page-cache key, with what else its page showed (``PageCache.key``)."""
    prompts: PerCase[str] = field(default_factory=PerCase)
    """Each case's task prompt (read from its ``PROMPT.md``)."""
    written: dict[Path, str] = field(default_factory=dict)
    """The text of each generated source file as the last build left it (``write_sources``)."""
    built: set[str] = field(default_factory=set)
    """The generated files (by path under the docs folder) the last finished build left up to date in the site
    folder: one whose source this build does not touch need not be handed to MkDocs again (or only as unchanged)."""

    def forget_cases(self) -> None:
        """Drop what was kept per case object (every case is loaded again): only the files' texts stay."""
        self.cases, self.taxonomy = {}, None
        self.values.clear()
        self.explorer, self.keys, self.prompts = PerCase(), PerCase(), PerCase()


class Session:
    """One knowledge base served: its last load, its files' stat data, the Jinja environment and what builds reuse."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.kb: KnowledgeBase | None = None
        self.stamps: dict[str, dict[str, Stamp]] = {}
        self.env: tuple[str, jinja2.Environment] | None = None
        self.reuse: tuple[str, Reuse] | None = None

    def load(self) -> KnowledgeBase:
        """The knowledge base as it is now: the previous load with the changed cases reloaded, or loaded afresh."""
        stamps = _stamps(self.root)
        kb = self._reload(stamps) if self.kb is not None else None
        if kb is None:  # let the previous load go before loading afresh: two of them at once would double the memory
            self.kb = None
            if self.reuse is not None:
                self.reuse[1].forget_cases()
            kb = scan_kb(self.root)
        self.kb, self.stamps = kb, stamps
        return self.kb

    def _reload(self, stamps: dict[str, dict[str, Stamp]]) -> KnowledgeBase | None:
        old = self.kb
        top = self.stamps[""]
        if old is None or stamps.keys() != self.stamps.keys() or stamps[""] != top or RACY in top.values():
            return None
        changed = sorted(
            name
            for name, files in stamps.items()
            if name and (files != self.stamps[name] or RACY in self.stamps[name].values())
        )
        if not changed:
            return old
        prefixes = tuple(str(self.root / name) + os.sep for name in changed)
        if any(str(problem.path).startswith(prefixes) for problem in old.problems):
            return None
        # a few cases are parsed faster than the record cache's table of every file is read (0.02 s against 0.5 s at
        # 5,000 cases); many (a checkout) come from the cache
        fresh = scan_kb(self.root, cases=changed, use_cache=len(changed) > PARSED)
        loaded = {case.id: case for case in fresh.cases}
        if fresh.problems or sorted(loaded) != changed:
            return None
        return replace(old, cases=[loaded.get(case.id, case) for case in old.cases])

    def environment(self, digest: str, make: Callable[[], jinja2.Environment]) -> jinja2.Environment:
        """The site's Jinja environment, compiled templates and all, while the templates are unchanged."""
        if self.env is None or self.env[0] != digest:
            self.env = (digest, make())
        return self.env[1]

    def reused(self, settings: str) -> Reuse:
        """What the next build may reuse, while the settings (templates, URLs, links) are the same."""
        if self.reuse is None or self.reuse[0] != settings:
            self.reuse = (settings, Reuse())
        return self.reuse[1]


def _stamps(root: Path) -> dict[str, dict[str, Stamp]]:
    """The stat data of every entry of the KB folder (under ``""``) and of each folder in it (by its name)."""
    stamps: dict[str, dict[str, Stamp]] = {}
    top: dict[str, Stamp] = {}
    recent = time.time_ns() - _RACY_NS
    folders: list[os.DirEntry[str]] = []
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                if entry.is_dir() and not entry.name.startswith((".", "_")):
                    folders.append(entry)
                    top[entry.name] = (0, 0, 0, entry.inode())  # a folder's own times change with every save in it
                else:
                    top[entry.name] = _stamp(entry, recent)
    except OSError:
        return {"": {"\0unreadable": (0, 0, 0, 0)}}
    stamps[""] = top
    for folder in folders:
        try:
            with os.scandir(folder.path) as entries:
                stamps[folder.name] = {entry.name: _stamp(entry, recent) for entry in entries}
        except OSError:
            stamps[""]["\0unreadable"] = (0, 0, 0, 0)
    return stamps


def _stamp(entry: os.DirEntry[str], recent: int) -> Stamp:
    try:
        st = entry.stat()
    except OSError:
        return (-1, 0, 0, 0)
    if max(st.st_mtime_ns, st.st_ctime_ns) >= recent:
        return RACY
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


_SESSIONS: dict[Path, Session] = {}


def session(root: Path) -> Session:
    """The session of the knowledge base at ``root`` (made on its first build in this process)."""
    return _SESSIONS.setdefault(root, Session(root))


def forget_sessions() -> None:
    """Start afresh: after a failed build, what a session kept may be half updated."""
    _SESSIONS.clear()
    _THEMES.clear()


_THEMES: dict[str, jinja2.Environment] = {}


def theme_env(key: str, make: Callable[[], jinja2.Environment]) -> jinja2.Environment:
    """The theme's Jinja environment of the previous build with the same ``key`` (the theme's folders, its files'
    stat data, the settings it depends on), else a new one from ``make``.

    MkDocs makes a new one for every build of ``mkdocs serve``: it compiles the theme's templates again (Material's
    ``main.html`` and what it includes) and lists every file of the theme (Material ships 14,000 icons), a second of
    CPU a rebuild. Kept, its compiled templates stay, and its list of files is made once.
    """
    env = _THEMES.get(key)
    if env is None:
        _THEMES.clear()
        env = _THEMES[key] = make()
        listed: dict[tuple[object, object], list[str]] = {}
        list_templates = env.list_templates

        def memo(extensions: Any = None, filter_func: Callable[[str], bool] | None = None) -> list[str]:
            # the filter MkDocs passes is a new closure each build, of the same code over settings in ``key``
            at = (tuple(extensions) if extensions is not None else None, getattr(filter_func, "__code__", filter_func))
            if at not in listed:
                listed[at] = list_templates(extensions, filter_func)
            return list(listed[at])

        env.list_templates = memo  # type: ignore[method-assign]
    return env
