"""CPU cost of the credential scan on real texts, next to the bare cost of reading them once.

    python benchmarks/credential_scan.py [--corpus DIR] [--kb DIR] [--repeat R]

Reads every task document of the corpus (PROMPT.md, MODEL_RESPONSE.md, IDEAL_RESPONSE.md,
MODEL_FAILURES.md, metadata.json) and, with ``--kb``, every file of an imported KB (its records
and documents), then times, per group of texts, in one process:

    find_secrets(text)                 what `kb check`, `kb import`, `kb render` and `kb export` run
    floor: text.lower() + one re scan  the least a case-insensitive scan of the text can cost

as CPU seconds (this process's user + system time), the median of R rounds, the scan and its
floor alternating in each round so both see the same load. Nothing here is a test: the
figures go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from kb.secrets import find_secrets

DOCUMENTS = ("PROMPT.md", "MODEL_RESPONSE.md", "IDEAL_RESPONSE.md", "MODEL_FAILURES.md", "metadata.json")
_FLOOR = re.compile("secret")


def floor(text: str) -> object:
    return _FLOOR.search(text.lower())


def cpu(work: Callable[[str], object], texts: list[str]) -> float:
    start = time.process_time()
    for text in texts:
        work(text)
    return time.process_time() - start


def groups(corpus: Path, kb: Path | None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {name: [] for name in DOCUMENTS}
    for task in sorted(p for p in corpus.iterdir() if p.is_dir()):
        for name in DOCUMENTS:
            if (task / name).is_file():
                found[name].append((task / name).read_text(encoding="utf-8", errors="replace"))
    if kb is not None:
        files = sorted(p for p in kb.rglob("*") if p.is_file())
        found["KB records (.yaml)"] = [p.read_text(encoding="utf-8") for p in files if p.suffix == ".yaml"]
        found["KB documents (.md)"] = [p.read_text(encoding="utf-8") for p in files if p.suffix == ".md"]
    return {name: texts for name, texts in found.items() if texts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path(os.environ.get("KB_CORPUS", "/work/shared/corpus")))
    parser.add_argument("--kb", type=Path, help="an imported KB whose files are scanned too")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    texts = groups(args.corpus, args.kb)
    texts["all"] = [text for group in list(texts.values()) for text in group]
    print(f"{'texts':24} {'count':>6} {'MB':>7} {'scan s':>8} {'floor s':>8} {'ratio':>6}")
    for name, group in texts.items():
        scans, floors = [], []
        for _ in range(args.repeat):
            scans.append(cpu(find_secrets, group))
            floors.append(cpu(floor, group))
        scan, bare = statistics.median(scans), statistics.median(floors)
        size = sum(map(len, group)) / 1e6
        print(f"{name:24} {len(group):6d} {size:7.2f} {scan:8.3f} {bare:8.3f} {scan / bare:6.1f}x")


if __name__ == "__main__":
    main()
