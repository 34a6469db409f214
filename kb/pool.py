"""The one way kb runs work in other processes: workers that die with their parent.

``worker_pool`` is a ``ProcessPoolExecutor`` whose workers ask the kernel to kill them
when the process that started them dies (Linux ``PR_SET_PDEATHSIG``; elsewhere a
thread watches the parent's pid), so killing `kb import` or `kb check` never leaves
orphans holding its stdout (`kb import ... | tee log` returns). ``crashed`` turns a
worker that died mid-task (the OOM killer, a signal) into one clear ``WorkerCrashedError``
saying how much was done, instead of a ``BrokenProcessPool`` traceback.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from kb.errors import KbError

_PR_SET_PDEATHSIG = 1


class WorkerCrashedError(KbError):
    """A worker process died before finishing its part; what was done is in the message."""


def worker_pool(max_workers: int) -> ProcessPoolExecutor:
    """A process pool whose workers exit when this process dies."""
    return ProcessPoolExecutor(max_workers=max_workers, initializer=_die_with_parent, initargs=(os.getpid(),))


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    else:
        threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the request above took effect
        os._exit(1)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


@contextlib.contextmanager
def crashed(what: str, done: list[int], total: int) -> Iterator[None]:
    """Turn a worker's death inside the block into ``WorkerCrashedError``: "<what>: ... <done[0]> of <total> ...".

    ``done`` is a one-item list the block keeps up to date (what had finished when it broke).
    """
    try:
        yield
    except BrokenProcessPool:
        raise WorkerCrashedError(
            f"{what}: a worker process died (killed by a signal or the out-of-memory killer) "
            f"after {done[0]} of {total} were done; the rest were not"
        ) from None
