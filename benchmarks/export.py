"""Speed of `kb export`, each format next to the bare cost of reading the same KB, in one run.

    python benchmarks/export.py --kb DIR [--repeat R] [--formats sft,dpo,...]

In one process (imports excluded from both sides), after one warm-up export of each
format that fills kb's cache as the previous export (and a `kb check`) would:

    export_dataset(FORMAT)   vs  a bare yaml.CSafeLoader parse of the KB's records   goal <= 2.0x

and, for reference, the same export with ``use_cache=False`` (every record parsed, every
task document scanned and cleaned, every signature computed: a first export).

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


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


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
        best = {name: float("inf") for name in ("parse", *formats, *(f"{f} cold" for f in formats))}
        for _ in range(args.repeat):
            best["parse"] = min(best["parse"], timed(lambda: parse(args.kb)))
            for fmt in formats:
                best[fmt] = min(best[fmt], timed(run(fmt)))
                best[f"{fmt} cold"] = min(best[f"{fmt} cold"], timed(run(fmt, cache=False)))
    floor = best["parse"]
    print("| format | export | bare parse | ratio | goal | no cache |\n|---|---:|---:|---:|---|---:|")
    for fmt in formats:
        ratio = best[fmt] / floor
        mark = "ok" if ratio <= GOAL else "MISSED"
        cold = best[f"{fmt} cold"] / floor
        print(f"| {fmt} | {best[fmt]:.2f}s | {floor:.2f}s | {ratio:.2f}x | <= {GOAL}x {mark} | {cold:.2f}x |")


if __name__ == "__main__":
    main()
