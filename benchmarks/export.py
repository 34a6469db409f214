"""Speed of `kb export`, each format next to the bare cost of reading the same KB, in one run.

    python benchmarks/export.py --kb DIR [--repeat R] [--formats sft,dpo,...]

In one process (imports excluded from both sides), after one warm-up export that fills
the record cache as a `kb check` would:

    export_dataset(FORMAT)   vs  a bare yaml.CSafeLoader parse of the KB's records   goal <= 2.0x

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

        def run(fmt: str) -> Callable[[], object]:
            return lambda: export_dataset(args.kb, fmt, Path(tmp) / fmt, license="cc-by-4.0", redact=True)

        run(formats[0])()  # warm the record cache
        best = {name: float("inf") for name in ("parse", *formats)}
        for _ in range(args.repeat):
            best["parse"] = min(best["parse"], timed(lambda: parse(args.kb)))
            for fmt in formats:
                best[fmt] = min(best[fmt], timed(run(fmt)))
    floor = best["parse"]
    print("| format | export | bare parse | ratio | goal |\n|---|---:|---:|---:|---|")
    for fmt in formats:
        ratio = best[fmt] / floor
        mark = "ok" if ratio <= GOAL else "MISSED"
        print(f"| {fmt} | {best[fmt]:.2f}s | {floor:.2f}s | {ratio:.2f}x | <= {GOAL}x {mark} |")


if __name__ == "__main__":
    main()
