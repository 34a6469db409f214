"""The first export of many cases: their per-case work done in worker processes.

A row per case (``pairs``, ``critique``) costs most where kb's cache has nothing yet: each
task document scanned for credentials and cleaned, each report rendered, each text signed
for near-duplicates (:mod:`kb.export.memo`). Those are pure functions of their texts, so
when many cases have none of them kept, workers (:func:`kb.pool.worker_pool`) compute
them for a share of the cases each and build their rows: the export's memo adopts what they
computed (and keeps it in the cache), and the export takes their rows, the rows the same
calls make in one process. Forked workers inherit the records (elsewhere a case and its
failures are pickled to them); rows and results come back.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kb.export.memo import Memo
from kb.pool import crashed, worker_pool
from kb.progress import Progress
from kb.store import LoadedCase

BUILT = "built"
"""The memo's kind that says a case's rows were built (see ``built``)."""
POOL_MIN_CASES = 24
"""Below this many cases without kept results, a process pool costs more than it saves."""

T = TypeVar("T")
R = TypeVar("R")
Job = tuple[T, list[Any]]


def stamp(case: LoadedCase) -> str:
    """What tells a case's task documents changed (their names, sizes and modification times)."""
    parts = []
    for name in case.documents:
        try:
            stat = (case.path / name).stat()
        except OSError:
            parts.append(f"{name}:-")
        else:
            parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "\0".join(parts)


def built(memo: Memo, name: str, case: LoadedCase, templates: str = "") -> None:
    """Keep in ``memo`` that the rows of export ``name`` were built from the case's documents as
    they are and (rows holding a rendered report) the templates of digest ``templates``."""
    memo.get(BUILT, f"{name}:{case.id}", f"{templates}\0{stamp(case)}", lambda _: True, bool, bool)


def uncomputed(cases: Sequence[LoadedCase], memo: Memo, name: str, templates: str = "") -> list[int]:
    """The positions of the cases whose rows of export ``name`` were never built from their
    documents as they are (and the templates of digest ``templates``): the cases whose per-case
    work (most of it) is still to do. Changed templates make every report to render again."""
    return [
        i for i, case in enumerate(cases) if not memo.kept(BUILT, f"{name}:{case.id}", f"{templates}\0{stamp(case)}")
    ]


_FORKED: dict[int, Sequence[Any]] = {}
"""The items of each running ``compute_in_workers`` (by a number of its own: calls from two
threads do not mix), which forked workers inherit instead of having them pickled."""


def _chunk(job: tuple[Callable[[Job[T]], Any], T, int, int, int, list[Any] | None]) -> Any:
    """In a worker: ``work`` on its chunk, sent with the job or (forked) inherited."""
    work, settings, key, start, stop, items = job
    return work((settings, list(_FORKED[key][start:stop]) if items is None else items))


def compute_in_workers(
    work: Callable[[Job[T]], tuple[dict[str, Any], R]],
    settings: T,
    items: Sequence[Any],
    memo: Memo,
    progress: Progress,
) -> list[R] | None:
    """Run ``work((settings, chunk))`` on chunks of ``items`` in worker processes, in order: the
    results each computed (``Memo.computed``) adopted by ``memo``, ``progress`` advanced by a
    chunk's items as it comes back, and what else each returned. None (nothing done) when there
    are too few items or one core. Forked workers inherit the items; others are sent theirs."""
    workers = min(os.cpu_count() or 1, 8)
    if len(items) < POOL_MIN_CASES or workers < 2:
        return None
    size = max(4, -(-len(items) // (workers * 4)))
    bounds = [(i, min(i + size, len(items))) for i in range(0, len(items), size)]
    forked = multiprocessing.get_start_method() == "fork"
    key = id(items)
    jobs = [(work, settings, key, a, b, None if forked else list(items[a:b])) for a, b in bounds]
    finished = [0]
    made = []
    _FORKED[key] = items
    try:
        with crashed("exporting", finished, len(items)), worker_pool(min(workers, len(jobs))) as pool:
            for (start, stop), (entries, result) in zip(bounds, pool.map(_chunk, jobs), strict=True):
                memo.adopt(entries)
                made.append(result)
                finished[0] += stop - start
                progress.advance(stop - start)
    finally:
        del _FORKED[key]
    return made
