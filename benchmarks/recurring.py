"""Speed and memory of `kb similar` and `kb patterns` on a large knowledge base.

    python benchmarks/recurring.py [--corpus DIR] [--scale N] [--repeat R] [--kb DIR]

Imports the corpus once, then copies its case folders under fresh ids until the
knowledge base holds about N cases (5,000 cases is about 45,000 failures), and measures
each command in a subprocess, as a user runs it. With ``--kb DIR`` the knowledge base is
made there and kept (and used as it is when DIR exists), so it is grown once:

    index built from scratch (`kb similar`, empty cache)  vs  a bare CSafeLoader parse   goal <= 1.0x
    `kb similar` once the index exists                                                 goal < 1 s
    `kb similar` after editing one record                                              goal < 1 s
    `kb patterns`                                          time and peak memory         goal < 60 s, < 1.5 GB

Each measure is the best of R runs. Beside each wall time the CPU time (user + system, the
command's and its workers') is given: on a shared machine other jobs stretch wall times,
while CPU time says what the command itself costs. Nothing here is a test: the figures go
into docs/similar.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import FLOOR_PARSE, KB, Run, python, run


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best(repeat: int, make: object) -> tuple[Run, float]:
    """The fastest of ``repeat`` runs, and the CPU time it took."""
    runs = []
    for _ in range(repeat):
        before = cpu_seconds()
        made = make()  # type: ignore[operator]
        runs.append((made, cpu_seconds() - before))
    return min(runs, key=lambda r: r[0].seconds)


def grow(kb: Path, cases: int) -> None:
    """Copy the imported cases under fresh ids (`<id>-cNNN`) until there are ``cases`` of them."""
    originals = sorted(p for p in kb.iterdir() if p.is_dir())
    n = 1
    while sum(1 for p in kb.iterdir() if p.is_dir()) < cases:
        for folder in originals:
            new_id = f"{folder.name}-c{n:03d}"
            target = kb / new_id
            shutil.copytree(folder, target)
            case_file = target / "case.yaml"
            case_file.write_text(case_file.read_text().replace(f"\nid: {folder.name}\n", f"\nid: {new_id}\n", 1))
        n += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path(os.environ.get("KB_CORPUS", "../shared/corpus")))
    parser.add_argument("--scale", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--kb", type=Path, help="Make the knowledge base here and keep it (use it if it exists).")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kb-recurring-"))
    try:
        env = dict(os.environ, KB_CACHE_DIR=str(work / "cache"))
        kb = args.kb.resolve() if args.kb else work / "kb"
        if not kb.exists():
            run([*KB, "import", str(args.corpus), "--into", str(kb)], env=env)
            grow(kb, args.scale)
        failures = sorted(p for p in kb.glob("*/*.yaml") if p.name != "case.yaml")
        cases = sum(1 for p in kb.iterdir() if p.is_dir())
        ref = f"{failures[0].parent.name}/{failures[0].name.split('-', 1)[1].removesuffix('.yaml')}"
        similar = [*KB, "similar", ref, "--kb", str(kb), "-n", "10"]
        floor = best(args.repeat, lambda: run(python(FLOOR_PARSE, str(kb))))

        def cold() -> Run:
            shutil.rmtree(work / "cache", ignore_errors=True)
            return run(similar, env=env)

        built = best(args.repeat, cold)
        warm = best(args.repeat, lambda: run(similar, env=env))

        def edited() -> Run:
            target = failures[len(failures) // 2]
            target.write_text(target.read_text().replace("\ntitle: ", "\ntitle: Edited ", 1))  # in place
            return run(similar, env=env)

        after_edit = best(args.repeat, edited)
        updated = run([*KB, "similar", ref, "--kb", str(kb), "--format", "json"], env=env).stdout
        shutil.rmtree(work / "cache", ignore_errors=True)
        rebuilt = run([*KB, "similar", ref, "--kb", str(kb), "--format", "json"], env=env).stdout
        patterns = best(args.repeat, lambda: run([*KB, "patterns", "--kb", str(kb)], env=env))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"knowledge base: {cases:,} cases, {len(failures):,} failure files; {os.cpu_count()} cores; best of {args.repeat}\n"
    )
    print("| measure | time | CPU | goal |")
    print("|---|---|---|---|")
    print(f"| bare CSafeLoader parse of the KB | {floor[0].seconds:.2f} s | {floor[1]:.2f} s | (floor) |")
    print(
        f"| index from scratch (`kb similar`, empty cache) | {built[0].seconds:.2f} s = "
        f"{built[0].seconds / floor[0].seconds:.2f}x | {built[1]:.2f} s = {built[1] / floor[1]:.2f}x | <= 1.0x |"
    )
    print(f"| `kb similar`, index up to date | {warm[0].seconds:.2f} s | {warm[1]:.2f} s | < 1 s |")
    print(f"| `kb similar` after editing one record | {after_edit[0].seconds:.2f} s | {after_edit[1]:.2f} s | < 1 s |")
    print(f"| results after the edits = a fresh build's | {'yes' if updated == rebuilt else 'NO'} | | identical |")
    print(
        f"| `kb patterns` | {patterns[0].seconds:.1f} s, {patterns[0].max_rss_mb:.0f} MB | {patterns[1]:.1f} s "
        "| < 60 s, < 1,500 MB |"
    )


if __name__ == "__main__":
    main()
