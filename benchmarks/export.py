"""Speed of `kb export`, each format next to the bare cost of reading the same KB, in one run.

    python benchmarks/export.py --kb DIR [--repeat R] [--formats sft,dpo,...]

In one process (imports excluded from both sides), each format timed three ways against
a bare yaml.CSafeLoader parse of the KB's records (goal <= 2.0x):

- cached: after an export of each format has filled kb's cache, as the previous export would;
- first: the first export of a KB whose records are in kb's cache (as `kb import`, `kb check`
  or any other command leaves it) but none of the export's own results: every task document
  scanned and cleaned, every report rendered, every signature computed;
- no cache: ``use_cache=False``, every record parsed and validated as well.

Each is given as a ratio of wall-clock seconds and of CPU seconds (worker processes
included: parsing records without the cache runs on every core), the CPU ratio being less
disturbed by other users of a shared machine. Each measure is the best of R rounds, the
floor and every format timed in turn in each round (machines here are shared and noisy:
interleaving exposes each to the same load). `pairs` and `critique` also read and clean the
task documents, about 4x the records' bytes on the corpus; their ratio is given against the
records alone, like the others. Nothing here is a test: the figures go into docs/export.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from kb.export import export_dataset
from kb.store import load_kb

FORMATS = ("sft", "dpo", "classify", "fix", "pairs", "critique")
MODES = ("cached", "first", "no cache")
GOAL = 2.0


def parse(kb: Path) -> None:
    for path in sorted(kb.rglob("*.yaml")):
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)


def cpu_seconds() -> float:
    """User and system seconds of this process and of its finished children (worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``work``."""
    start, cpu = time.perf_counter(), cpu_seconds()
    work()
    return time.perf_counter() - start, cpu_seconds() - cpu


def better(best: tuple[float, float], new: tuple[float, float]) -> tuple[float, float]:
    return min(best[0], new[0]), min(best[1], new[1])


def in_cache(folder: Path, work: Callable[[], object]) -> Callable[[], object]:
    """``work`` with kb's cache in ``folder``."""

    def run() -> object:
        before = os.environ.get("KB_CACHE_DIR")
        os.environ["KB_CACHE_DIR"] = str(folder)
        try:
            return work()
        finally:
            if before is None:
                del os.environ["KB_CACHE_DIR"]
            else:
                os.environ["KB_CACHE_DIR"] = before

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args()
    formats = args.formats.split(",")
    with tempfile.TemporaryDirectory(prefix="kb-export-bench-") as tmp:
        records = Path(tmp) / "records-cache"
        in_cache(records, lambda: load_kb(args.kb))()  # the records only, as another command leaves them

        def run(fmt: str, mode: str) -> Callable[[], object]:
            out = Path(tmp) / f"{fmt}-{mode}"

            def export() -> object:
                return export_dataset(args.kb, fmt, out, license="cc-by-4.0", redact=True, use_cache=mode != "no cache")

            if mode != "first":
                return export
            fresh = Path(tmp) / "first-cache"
            shutil.rmtree(fresh, ignore_errors=True)
            shutil.copytree(records, fresh)  # (not timed)
            return in_cache(fresh, export)

        for fmt in formats:
            run(fmt, "cached")()  # warm kb's cache, as the previous export would
        none = (float("inf"), float("inf"))
        best = {name: none for name in ("parse", *((f, m) for f in formats for m in MODES))}
        for _ in range(args.repeat):
            best["parse"] = better(best["parse"], timed(lambda: parse(args.kb)))
            for fmt in formats:
                for mode in MODES:
                    best[fmt, mode] = better(best[fmt, mode], timed(run(fmt, mode)))
    floor, cpu_floor = best["parse"]
    print(f"bare parse: {floor:.2f}s ({cpu_floor:.2f}s CPU)\n")
    print("| format | " + " | ".join(f"{m} | {m} CPU" for m in MODES) + " |")
    print("|---|" + "---:|---:|" * len(MODES))
    for fmt in formats:
        cells = []
        for mode in MODES:
            wall, cpu = best[fmt, mode]
            mark = "" if wall / floor <= GOAL else " (over)"
            cells += [f"{wall / floor:.2f}x{mark}", f"{cpu / cpu_floor:.2f}x"]
        print(f"| {fmt} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
