"""Speed of `kb export`, each format next to the bare cost of reading the same KB, in one run.

    python benchmarks/export.py --kb DIR [--repeat R] [--formats sft,dpo,...]

Measures, in subprocesses as a user runs them (warm record cache, as after a `kb check`):

    kb export FORMAT      vs  a bare yaml.CSafeLoader parse of the KB's records      goal <= 2.0x

The floor for the formats that read whole task documents (`pairs`, `critique`) is also
given with the documents read (their bytes are most of the data). Each measure is the
best of R runs (machines here are noisy). Nothing here is a test: the figures go into
docs/export.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR_PARSE = """
import sys, yaml
from pathlib import Path
for path in sorted(Path(sys.argv[1]).rglob("*.yaml")):
    yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
if len(sys.argv) > 2:
    for path in sorted(Path(sys.argv[1]).rglob("*_RESPONSE.md")) + sorted(Path(sys.argv[1]).rglob("PROMPT.md")):
        path.read_text(encoding="utf-8")
"""
FORMATS = ("sft", "dpo", "classify", "fix", "pairs", "critique")
GOAL = 2.0


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def best(repeat: int, cmd: list[str], env: dict[str, str]) -> float:
    return min(timed(cmd, env) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args()
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="kb-export-bench-") as tmp:
        env.setdefault("KB_CACHE_DIR", str(Path(tmp) / "cache"))
        subprocess.run([sys.executable, "-m", "kb.cli", "check", "--kb", str(args.kb)], env=env, capture_output=True)
        floor = best(args.repeat, [sys.executable, "-c", FLOOR_PARSE, str(args.kb)], env)
        floor_docs = best(args.repeat, [sys.executable, "-c", FLOOR_PARSE, str(args.kb), "docs"], env)
        print(f"| {'format':<9} | {'export':>7} | {'parse':>7} | {'ratio':>6} | {'parse+docs':>10} | {'ratio':>6} |")
        print(f"|{'-' * 11}|{'-' * 9}:|{'-' * 9}:|{'-' * 8}:|{'-' * 12}:|{'-' * 8}:|")
        for fmt in args.formats.split(","):
            out = Path(tmp) / fmt
            cmd = [sys.executable, "-m", "kb.cli", "export", fmt, "--kb", str(args.kb), "--out", str(out)]
            cmd += ["--license", "cc-by-4.0", "--redact"]
            seconds = best(args.repeat, cmd, env)
            print(
                f"| {fmt:<9} | {seconds:6.2f}s | {floor:6.2f}s | {seconds / floor:5.2f}x "
                f"| {floor_docs:9.2f}s | {seconds / floor_docs:5.2f}x |"
            )


if __name__ == "__main__":
    main()
