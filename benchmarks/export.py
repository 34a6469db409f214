"""Speed of `kb export`, each format next to the bare cost of reading the same KB, in one run.

    python benchmarks/export.py --kb DIR [--repeat R] [--formats sft,dpo,...]

In one process (imports excluded from both sides), after one warm-up export of each
format that fills kb's cache as the previous export (and a `kb check`) would:

    export_dataset(FORMAT)   vs  a bare yaml.CSafeLoader parse of the KB's records   goal <= 2.0x

The ratio of CPU seconds is given beside it (less disturbed by other users of a shared
machine), and, for reference, the ratio of the same export with ``use_cache=False``
(every record parsed, every task document scanned and cleaned, every report rendered,
every signature computed: a first export).

Each measure is the best of R rounds, the floor and every format timed in turn in each
round (machines here are shared and noisy: interleaving exposes each to the same load).
`pairs` and `critique` also read and clean the task documents, about 4x the records'
bytes on the corpus; their ratio is given against the records alone, like the others.
Nothing here is a test: the figures go into docs/export.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from kb.export import export_dataset

FORMATS = ("sft", "dpo", "classify", "fix", "pairs", "critique")
GOAL = 2.0


def parse(kb: Path) -> None:
    for path in sorted(kb.rglob("*.yaml")):
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``work`` (CPU time is less disturbed by other users of the machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - start, time.process_time() - cpu


def better(best: tuple[float, float], new: tuple[float, float]) -> tuple[float, float]:
    return min(best[0], new[0]), min(best[1], new[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args()
    formats = args.formats.split(",")
    with tempfile.TemporaryDirectory(prefix="kb-export-bench-") as tmp:

        def run(fmt: str, cache: bool = True) -> Callable[[], object]:
            out = Path(tmp) / f"{fmt}-{cache}"
            return lambda: export_dataset(args.kb, fmt, out, license="cc-by-4.0", redact=True, use_cache=cache)

        for fmt in formats:
            run(fmt)()  # warm kb's cache, as the previous export would
        none = (float("inf"), float("inf"))
        best = {name: none for name in ("parse", *formats, *(f"{f} cold" for f in formats))}
        for _ in range(args.repeat):
            best["parse"] = better(best["parse"], timed(lambda: parse(args.kb)))
            for fmt in formats:
                best[fmt] = better(best[fmt], timed(run(fmt)))
                best[f"{fmt} cold"] = better(best[f"{fmt} cold"], timed(run(fmt, cache=False)))
    floor, cpu_floor = best["parse"]
    print("| format | export | bare parse | ratio | goal | CPU ratio | no cache |\n|---|---:|---:|---:|---|---:|---:|")
    for fmt in formats:
        ratio = best[fmt][0] / floor
        mark = "ok" if ratio <= GOAL else "MISSED"
        cpu, cold = best[fmt][1] / cpu_floor, best[f"{fmt} cold"][0] / floor
        print(
            f"| {fmt} | {best[fmt][0]:.2f}s | {floor:.2f}s | {ratio:.2f}x | <= {GOAL}x {mark} | {cpu:.2f}x | {cold:.2f}x |"
        )


if __name__ == "__main__":
    main()
