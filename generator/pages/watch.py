"""Watching a big knowledge base for ``mkdocs serve`` without polling it.

MkDocs' watcher polls: twice a second it stats every file under each watched folder
(80,000 at 5,000 cases: seconds of CPU a poll, taken from the rebuild, and as long
before an edit is even seen). Instead the KB folder is watched with the operating
system's notifications (watchdog's native observer: inotify on Linux), and each change
rewrites one small file that MkDocs polls through its public ``server.watch``. Where
notifications are not to be had, the KB folder is polled as MkDocs does.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

__all__ = ["stop_watching", "watch_kb"]

_observers: list[Any] = []
_READS = frozenset({"opened", "closed_no_write"})
"""Events of a file read, not changed: the build reads the records it reloads, and each read would ask for one
more rebuild (which finds nothing changed, but holds up the one an edit asks for)."""


class _Signal(FileSystemEventHandler):
    """Rewrites ``flag`` on every change of a file (MkDocs' own watcher ignores folders' events too)."""

    def __init__(self, flag: Path) -> None:
        self.flag = flag

    def on_any_event(self, event: FileSystemEvent) -> None:
        if not event.is_directory and event.event_type not in _READS:
            with contextlib.suppress(OSError):
                self.flag.write_text(str(time.time_ns()), encoding="utf-8")


def watch_kb(server: Any, root: Path, signals: Path) -> None:
    """Rebuild ``server``'s site when a file under ``root`` changes (``signals``: a folder of kb's cache for the flag)."""
    signals.mkdir(parents=True, exist_ok=True)
    observer = Observer()
    try:
        observer.schedule(_Signal(signals / "changed"), str(root), recursive=True)
        observer.start()
    except OSError:  # no notifications (too many folders for the system's limit, an exotic file system): poll
        server.watch(str(root))
        return
    _observers.append(observer)
    server.watch(str(signals))


def stop_watching() -> None:
    for observer in _observers:
        observer.stop()
    _observers.clear()
