"""Speed and memory of kb at corpus scale, each next to its floor measured in the same run.

    python benchmarks/run.py [--corpus DIR] [--scale N] [--repeat R]

Builds a large knowledge base by importing the corpus (repeated with fresh ids until it
holds about N cases), then measures every command in a subprocess, as a user runs it,
against the bare cost of the same work:

    kb check (cold cache)   vs  a bare yaml.CSafeLoader parse of the same files  goal <= 2.0x
    kb check (warm cache)   vs  the same floor                                   goal <= 0.5x
    kb render (all cases)   vs  parse + writing the same bytes                   goal <= 2.5x
    kb import (all docs)    vs  a bare single-core markdown-it-py parse          goal <= 1.0x
    kb check peak memory    at N cases                                           goal <= 500 MB

Each measure is the best of R runs (machines here are noisy; the best is the least
disturbed). Nothing here is a test: the figures go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KB = [sys.executable, "-m", "kb.cli"]

FLOOR_PARSE = """
import sys, yaml
from pathlib import Path
for path in sorted(Path(sys.argv[1]).rglob("*.yaml")):
    yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
"""

FLOOR_RENDER = """
import sys, yaml
from pathlib import Path
kb, reports, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
for path in sorted(kb.rglob("*.yaml")):
    yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
for report in sorted(reports.rglob("MODEL_FAILURES.md")):
    target = out / report.parent.name / report.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(report.read_bytes())
"""

FLOOR_MARKDOWN = """
import sys
from pathlib import Path
from markdown_it import MarkdownIt
md = MarkdownIt("commonmark")
for path in sorted(Path(sys.argv[1]).rglob("MODEL_FAILURES.md")):
    md.parse(path.read_bytes().decode("utf-8", "replace"))
"""


@dataclass
class Run:
    seconds: float
    max_rss_mb: float


def run(cmd: list[str], *, env: dict[str, str] | None = None, check: bool = True) -> Run:
    """Run a command; its wall time and its own peak memory (not its parent's)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if check and proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr.decode(errors='replace')[-2000:]}")
    return Run(seconds, usage.ru_maxrss / 1024)


def best(repeat: int, make: object) -> Run:
    runs = [make() for _ in range(repeat)]  # type: ignore[operator]
    return min(runs, key=lambda r: r.seconds)


def python(script: str, *args: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(script), *args]


def replicate_corpus(corpus: Path, copies: int, into: Path) -> Path:
    """A tree holding ``copies`` copies of the corpus's task folders, each under a fresh name."""
    tree = into / "tree"
    for n in range(copies):
        for task in sorted(corpus.iterdir()):
            if task.is_dir():
                shutil.copytree(task, tree / f"copy{n:03d}" / f"{task.name}-c{n:03d}")
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path(os.environ.get("KB_CORPUS", ROOT.parent / "shared/corpus")))
    parser.add_argument("--scale", type=int, default=5000, help="cases in the benchmark knowledge base")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure; the best counts")
    args = parser.parse_args()
    documents = sum(1 for p in args.corpus.iterdir() if p.is_dir())
    copies = max(1, -(-args.scale // documents))

    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    try:
        env = dict(os.environ, KB_CACHE_DIR=str(work / "cache"))
        tree = replicate_corpus(args.corpus, copies, work)
        kb = work / "kb"

        def import_once() -> Run:
            shutil.rmtree(kb, ignore_errors=True)
            return run([*KB, "import", str(tree), "--into", str(kb)], env=env)

        imported = best(args.repeat, import_once)
        floor_md = best(args.repeat, lambda: run(python(FLOOR_MARKDOWN, str(tree))))
        cases = sum(1 for p in kb.iterdir() if p.is_dir())
        files = sum(1 for _ in kb.rglob("*.yaml"))
        size_mb = sum(p.stat().st_size for p in kb.rglob("*.yaml")) / 1e6

        floor_parse = best(args.repeat, lambda: run(python(FLOOR_PARSE, str(kb))))

        def cold_check() -> Run:
            shutil.rmtree(work / "cache", ignore_errors=True)
            return run([*KB, "check", "--kb", str(kb)], env=env)

        cold = best(args.repeat, cold_check)
        warm = best(args.repeat, lambda: run([*KB, "check", "--kb", str(kb)], env=env))

        reports = work / "reports"
        rendered = best(args.repeat, lambda: run([*KB, "render", "--kb", str(kb), "--out", str(reports)], env=env))
        floor_render = best(args.repeat, lambda: run(python(FLOOR_RENDER, str(kb), str(reports), str(work / "copy"))))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = [
        ("kb check, cold cache", cold.seconds, "bare CSafeLoader parse", floor_parse.seconds, 2.0),
        ("kb check, unchanged KB", warm.seconds, "bare CSafeLoader parse", floor_parse.seconds, 0.5),
        ("kb render, all cases", rendered.seconds, "parse + write same bytes", floor_render.seconds, 2.5),
        ("kb import, all documents", imported.seconds, "markdown-it parse, 1 core", floor_md.seconds, 1.0),
    ]
    print(
        f"knowledge base: {cases:,} cases, {files:,} files, {size_mb:.0f} MB of YAML "
        f"(from {documents} documents x {copies}); {os.cpu_count()} cores; best of {args.repeat}\n"
    )
    print(f"| {'measure':<26} | {'time':>7} | {'floor':<26} | {'floor':>7} | {'ratio':>6} | goal    |")
    print(f"|{'-' * 28}|{'-' * 9}|{'-' * 28}|{'-' * 9}|{'-' * 8}|---------|")
    for name, seconds, floor_name, floor, goal in rows:
        ratio = seconds / floor
        mark = "ok" if ratio <= goal else "MISSED"
        print(
            f"| {name:<26} | {seconds:6.2f}s | {floor_name:<26} | {floor:6.2f}s | {ratio:5.2f}x | <= {goal}x {mark} |"
        )
    mark = "ok" if cold.max_rss_mb <= 500 else "MISSED"
    print(
        f"| {'kb check, peak memory':<26} | {cold.max_rss_mb:5.0f}MB | {'':<26} | {'':>7} | {'':>6} | <= 500MB {mark} |"
    )


if __name__ == "__main__":
    main()
