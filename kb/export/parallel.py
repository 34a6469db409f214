"""The first export of many cases: their per-case work done in worker processes.

A row per case (``pairs``, ``critique``) costs most where kb's cache has nothing yet: each
task document scanned for credentials and cleaned, each report rendered, each text signed
for near-duplicates (:mod:`kb.export.memo`). Those are pure functions of their texts, so
when many cases have none of them kept, workers (:func:`kb.pool.worker_pool`) compute
them for a share of the cases each, and the export's memo adopts what they computed: the
export then runs as from the cache, and its rows are the rows computed in one process.
Records travel to the workers (a case and its failures, pickled); results come back as
the memo keeps them (JSON data).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kb.export.memo import Memo
from kb.pool import crashed, worker_pool
from kb.progress import Progress
from kb.store import LoadedCase

POOL_MIN_CASES = 24
"""Below this many cases without kept results, a process pool costs more than it saves."""

T = TypeVar("T")
Job = tuple[T, list[Any]]


def uncomputed(cases: Sequence[LoadedCase], memo: Memo, *, report: bool) -> list[int]:
    """The positions of the cases with a task document never scanned (or, with ``report``, a
    report never rendered): the cases whose per-case work is still to do."""
    return [
        i
        for i, case in enumerate(cases)
        if any(not memo.has("secrets", f"{case.id}/{name}") for name in case.documents)
        or (report and not memo.has("report", case.id))
    ]


def compute_in_workers(
    work: Callable[[Job[T]], dict[str, Any]],
    settings: T,
    items: Sequence[Any],
    memo: Memo,
    progress: Progress,
) -> bool:
    """Run ``work((settings, chunk))`` on chunks of ``items`` in worker processes and let ``memo``
    adopt the results each returns (``Memo.computed``), advancing ``progress`` by a chunk's
    items as it comes back. False (nothing done) when there are too few items or one core."""
    workers = min(os.cpu_count() or 1, 8)
    if len(items) < POOL_MIN_CASES or workers < 2:
        return False
    size = max(4, -(-len(items) // (workers * 4)))
    chunks = [list(items[i : i + size]) for i in range(0, len(items), size)]
    finished = [0]
    with crashed("exporting", finished, len(items)), worker_pool(min(workers, len(chunks))) as pool:
        for chunk, entries in zip(chunks, pool.map(work, [(settings, chunk) for chunk in chunks]), strict=True):
            memo.adopt(entries)
            finished[0] += len(chunk)
            progress.advance(len(chunk))
    return True
