"""Speed and memory of kb at three sizes, each figure next to its floor measured in the same run.

    python benchmarks/run.py [--corpus DIR] [--sizes 1000,5000] [--large] [--repeat R]
                             [--out docs/performance.md]

Imports the corpus once, then builds knowledge bases of about 1,000 and 5,000 cases (and
20,000 with ``--large``) by copying the imported cases under fresh ids. At each size
every command runs in a subprocess, as a user runs it, paired with the bare cost of the
same work (floor and command alternate, best of R each, so both see the same machine):

    kb check, cold cache          / bare yaml.CSafeLoader parse of the KB     goal <= 1.5x
    kb check, unchanged KB        / the same parse                            goal <= 0.10x
    kb check, one record edited   / the same parse                            goal <= 0.15x
    kb render, cold               / parse + writing the same report bytes     goal <= 2.0x
    kb render, nothing changed    / the same                                  goal <= 0.15x (writes nothing)
    kb render, one record edited  / the same                                  goal <= 0.20x (one report)
    kb stats, warm                / the parse                                 goal <= 0.20x
    kb import                     / markdown-it-py parse on one core          goal <= 0.9x

and the peak memory (the child's own ru_maxrss) of check, render and stats. With
``--out`` the table and an SVG plot of time against size are written to that Markdown
file (the plot beside it, ``assets/performance.svg``). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
    stdout: str = ""
    stderr: str = ""


def run(cmd: list[str], *, env: dict[str, str] | None = None) -> Run:
    """Run a command: its wall time, its output and its peak memory (wait4's ru_maxrss: the
    largest of the command and its pool workers, as the kernel counts a reaped child tree)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errs:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=errs, env=env, cwd=tempfile.gettempdir())
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        errs.seek(0)
        said, complaints = out.read().decode(errors="replace"), errs.read().decode(errors="replace")
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{complaints[-2000:]}")
    return Run(seconds, usage.ru_maxrss / 1024, said, complaints)


def python(script: str, *args: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(script), *args]


# -- building the knowledge bases ------------------------------------------------------

_CASE_ID = re.compile(r"^(id|duplicate_of): (\S+)$", re.MULTILINE)
_ALIASES = re.compile(r"^aliases:\n(?:- .*\n)+", re.MULTILINE)
_ALIAS = re.compile(r'^- ("?)([^"\n]+)\1$', re.MULTILINE)


def _fresh_ids(text: str, suffix: str) -> str:
    """A case record's text with its id and aliases given ``suffix`` (aliases are unique in a KB)."""
    text = _CASE_ID.sub(rf"\1: \2{suffix}", text)
    return _ALIASES.sub(lambda block: _ALIAS.sub(rf"- \1\2{suffix}\1", block[0]), text)


def grow_kb(base: Path, cases: int, into: Path) -> Path:
    """A KB of ``cases`` cases: ``base``'s cases, then copies of them under fresh ids and aliases (`<id>-cNNN`)."""
    into.mkdir(parents=True)
    taxonomy = base / "taxonomy.yaml"
    shutil.copy2(taxonomy if taxonomy.exists() else ROOT / "failures" / "taxonomy.yaml", into / "taxonomy.yaml")
    originals = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not originals:
        raise SystemExit(f"{base} holds no case: did the import of the corpus fail?")
    made = 0
    copy = 0
    while made < cases:
        for folder in originals:
            if made == cases:
                break
            suffix = f"-c{copy:03d}" if copy else ""
            target = into / f"{folder.name}{suffix}"
            target.mkdir()
            for record in folder.iterdir():
                data = record.read_bytes()
                if record.name == "case.yaml" and suffix:
                    data = _fresh_ids(data.decode("utf-8"), suffix).encode("utf-8")
                (target / record.name).write_bytes(data)
            made += 1
        copy += 1
    return into


def grow_tree(corpus: Path, documents: int, into: Path) -> Path:
    """A tree of ``documents`` task folders: the corpus's, repeated under fresh names (hard links)."""
    tasks = sorted(p for p in corpus.iterdir() if p.is_dir())
    made = 0
    copy = 0
    while made < documents:
        for task in tasks:
            if made == documents:
                break
            shutil.copytree(task, into / f"copy{copy:03d}" / task.name, copy_function=os.link)
            made += 1
        copy += 1
    return into


def edit_one_record(kb: Path, n: int) -> None:
    """Change one failure's title (a different text each time), as an author would."""
    import json

    import yaml

    folders = sorted(p for p in kb.iterdir() if p.is_dir())
    for folder in folders[len(folders) // 2 :]:
        for record in sorted(folder.glob("[0-9]*.yaml")):
            text = record.read_text(encoding="utf-8")
            data = yaml.load(text, Loader=yaml.CSafeLoader)
            title = re.sub(r" \(edit \d+\)$", "", data["title"]) + f" (edit {n})"
            line = f"title: {json.dumps(title)}"
            edited = re.sub(r"^title: .*$", lambda _, line=line: line, text, count=1, flags=re.MULTILINE)
            if yaml.load(edited, Loader=yaml.CSafeLoader) == {**data, "title": title}:
                record.write_text(edited, encoding="utf-8")
                return
    raise SystemExit(f"no record of {kb} has a one-line title to edit")


# -- measuring -------------------------------------------------------------------------


@dataclass
class Measure:
    name: str
    floor: str
    goal: float
    runs: list[Run] = field(default_factory=list)
    floors: list[Run] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return min(r.seconds for r in self.runs)

    @property
    def floor_seconds(self) -> float:
        return min(r.seconds for r in self.floors)

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor_seconds

    @property
    def peak_mb(self) -> float:
        return max(r.max_rss_mb for r in self.runs)


@dataclass
class Size:
    cases: int
    files: int
    yaml_mb: float
    measures: list[Measure]


def measure_size(base: Path, corpus: Path, cases: int, repeat: int, work: Path, *, with_import: bool) -> Size:
    kb = grow_kb(base, cases, work / f"kb-{cases}")
    files = sum(1 for _ in kb.rglob("*.yaml"))
    yaml_mb = sum(p.stat().st_size for p in kb.rglob("*.yaml")) / 1e6
    cache = work / f"cache-{cases}"
    env = dict(os.environ, KB_CACHE_DIR=str(cache))
    reports = work / f"reports-{cases}"
    copy = work / f"copy-{cases}"

    def kb_cmd(*args: str) -> Run:
        return run([*KB, *args], env=env)

    check = ["check", "--kb", str(kb)]
    render = ["render", "--kb", str(kb), "--out", str(reports)]
    parse = Measure("", "", 0)
    floor_render = Measure("", "", 0)

    def floor() -> Run:
        result = run(python(FLOOR_PARSE, str(kb)))
        parse.floors.append(result)
        return result

    def floor_write() -> Run:
        result = run(python(FLOOR_RENDER, str(kb), str(reports), str(copy)))
        floor_render.floors.append(result)
        return result

    trash = work / f"trash-{cases}"
    trash.mkdir()
    moved = iter(range(1, 10_000))

    def cold(args: list[str]) -> Callable[[], Run]:
        def go() -> Run:  # moved out of the way, deleted with the work folder (see measure_import)
            for folder in (cache, reports):
                if folder.exists():
                    folder.rename(trash / f"{folder.name}-{next(moved)}")
            return kb_cmd(*args)

        return go

    edits = iter(range(1, 10_000))

    def edited(args: list[str]) -> Callable[[], Run]:
        def go() -> Run:
            edit_one_record(kb, next(edits))
            return kb_cmd(*args)

        return go

    plan: list[tuple[Measure, Callable[[], Run], Callable[[], Run]]] = []

    def add(name: str, floor_name: str, goal: float, action: Callable[[], Run], its_floor: Callable[[], Run]) -> None:
        plan.append((Measure(name, floor_name, goal), action, its_floor))

    add("kb check, cold cache", "libyaml parse", 1.5, cold(check), floor)
    add("kb check, unchanged KB", "libyaml parse", 0.10, lambda: kb_cmd(*check), floor)
    add("kb check, one record edited", "libyaml parse", 0.15, edited(check), floor)

    def warm_stats() -> Run:
        kb_cmd("stats", "--kb", str(kb))  # after the edit above: this run counts the slim records
        return kb_cmd("stats", "--kb", str(kb))

    add("kb stats, warm", "libyaml parse", 0.20, warm_stats, floor)
    add("kb render, cold", "parse + write", 2.0, cold(render), floor_write)
    add("kb render, nothing changed", "parse + write", 0.15, lambda: kb_cmd(*render), floor_write)
    add("kb render, one record edited", "parse + write", 0.20, edited(render), floor_write)
    for _ in range(repeat):
        for measure, action, its_floor in plan:
            measure.floors.append(its_floor())
            measure.runs.append(action())
    for measure, _, _ in plan:  # every floor of its kind counts (best of all), the pairing is kept in time
        measure.floors = (parse if measure.floor == "libyaml parse" else floor_render).floors
    for measure, written in ((plan[5][0], "0"), (plan[6][0], "1")):
        said = measure.runs[-1].stdout
        if f": {written} written" not in said:
            raise SystemExit(
                f"{measure.name}: expected {written} report(s) written, got: {said[-300:]}{measure.runs[-1].stderr[-1000:]}"
            )
    measures = [m for m, _, _ in plan]
    if with_import:
        measures.append(measure_import(corpus, cases, repeat, work, env))
    return Size(cases, files, yaml_mb, measures)


def measure_import(corpus: Path, documents: int, repeat: int, work: Path, env: dict[str, str]) -> Measure:
    """Each run imports into a folder of its own, all deleted after the last: right after thousands
    of files are deleted, creating files can be ten times slower (seen on ext4 here), which
    would time the file system's clean-up, not the import."""
    tree = grow_tree(corpus, documents, work / f"tree-{documents}")
    measure = Measure("kb import", "markdown-it, 1 core", 0.9)
    imported = [work / f"imported-{documents}-{n}" for n in range(repeat)]
    for into in imported:
        measure.floors.append(run(python(FLOOR_MARKDOWN, str(tree))))
        measure.runs.append(run([*KB, "import", str(tree), "--into", str(into)], env=env))
    for folder in (*imported, tree):
        shutil.rmtree(folder, ignore_errors=True)
    return measure


def save_sizes(path: Path, sizes: list[Size]) -> None:
    import json
    from dataclasses import asdict

    path.write_text(json.dumps([asdict(s) for s in sizes], indent=1), encoding="utf-8")


def load_sizes(path: Path) -> list[Size]:
    import json

    sizes = []
    for data in json.loads(path.read_text(encoding="utf-8")):
        measures = []
        for m in data.pop("measures"):
            runs, floors = [Run(**r) for r in m.pop("runs")], [Run(**r) for r in m.pop("floors")]
            measures.append(Measure(**m, runs=runs, floors=floors))
        sizes.append(Size(**data, measures=measures))
    return sizes


# -- reporting -------------------------------------------------------------------------


def table(sizes: list[Size]) -> str:
    lines = [
        "| measure | floor | " + " | ".join(f"{s.cases:,} cases" for s in sizes) + " | goal |",
        "|---|---|" + "---:|" * len(sizes) + "---|",
    ]
    names = list(dict.fromkeys(m.name for s in sizes for m in s.measures))
    for name in names:
        found = [next((m for m in s.measures if m.name == name), None) for s in sizes]
        first = next(m for m in found if m is not None)
        cells = [f"{m.seconds:.2f} s / {m.floor_seconds:.2f} s = **{m.ratio:.2f}x**" if m else "" for m in found]
        missed = [f"{s.cases:,}" for s, m in zip(sizes, found, strict=True) if m is not None and m.ratio > first.goal]
        mark = f"MISSED at {', '.join(missed)}" if missed else "ok"
        lines.append(f"| {name} | {first.floor} | " + " | ".join(cells) + f" | <= {first.goal}x {mark} |")
    for name in ("kb check, cold cache", "kb render, cold", "kb stats, warm"):
        cells = [f"{next(m for m in s.measures if m.name == name).peak_mb:.0f} MB" for s in sizes]
        lines.append(f"| peak memory: {name} | | " + " | ".join(cells) + " | |")
    return "\n".join(lines)


def svg_plot(sizes: list[Size]) -> str:
    """Seconds against cases, one line per measure (and the parse floor), log-log, hand-drawn."""
    import math

    width, height, left, bottom, top_margin, right = 760, 420, 60, 40, 20, 230
    names = [m.name for m in sizes[0].measures if m.name != "kb import"]
    series = {name: [(s.cases, next(m for m in s.measures if m.name == name).seconds) for s in sizes] for name in names}
    series["libyaml parse (floor)"] = [(s.cases, s.measures[0].floor_seconds) for s in sizes]
    xs = [x for points in series.values() for x, _ in points]
    ys = [max(y, 1e-3) for points in series.values() for _, y in points]
    x0, x1 = math.log10(min(xs)) - 0.05, math.log10(max(xs)) + 0.05
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    plot_w, plot_h = width - left - right, height - bottom - top_margin

    def px(x: float) -> float:
        return left + (math.log10(x) - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top_margin + plot_h - (math.log10(max(y, 1e-3)) - y0) / (y1 - y0) * plot_h

    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<line x1="{left}" y1="{top_margin + plot_h}" x2="{left + plot_w}" y2="{top_margin + plot_h}" stroke="black"/>',
        f'<line x1="{left}" y1="{top_margin}" x2="{left}" y2="{top_margin + plot_h}" stroke="black"/>',
    ]
    for exp in range(y0, y1 + 1):
        y = py(10**exp)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{10**exp:g} s</text>')
    for s in sizes:
        parts.append(f'<text x="{px(s.cases):.1f}" y="{height - bottom + 16}" text-anchor="middle">{s.cases:,}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">cases (log scale)</text>')
    for i, (name, points) in enumerate(series.items()):
        colour = colours[i % len(colours)]
        dash = ' stroke-dasharray="5,4"' if "floor" in name else ""
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        parts.extend(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>' for x, y in points)
        ly = top_margin + 14 + i * 18
        parts.append(
            f'<line x1="{width - right + 12}" y1="{ly - 4}" x2="{width - right + 32}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        parts.append(f'<text x="{width - right + 38}" y="{ly}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path(os.environ.get("KB_CORPUS", ROOT.parent / "shared/corpus")))
    parser.add_argument("--sizes", default="1000,5000", help="comma-separated case counts")
    parser.add_argument("--large", action="store_true", help="also 20,000 cases (minutes on 2 cores)")
    parser.add_argument("--repeat", type=int, default=3, help="paired runs per measure; the best of each counts")
    parser.add_argument("--no-import", action="store_true", help="leave out the import measure")
    parser.add_argument("--import-max", type=int, default=5000, help="measure import only up to this many cases")
    parser.add_argument("--out", type=Path, help="write the table and plot into this Markdown file's figures section")
    parser.add_argument("--save", type=Path, help="also save the figures as JSON (for --merge)")
    parser.add_argument("--merge", type=Path, action="append", default=[], help="figures saved by an earlier run")
    args = parser.parse_args()
    counts = [int(n) for n in args.sizes.split(",") if n] + ([20_000] if args.large else [])

    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    try:
        base = work / "base"
        env = dict(os.environ, KB_CACHE_DIR=str(work / "cache-base"))
        run([*KB, "import", str(args.corpus), "--into", str(base)], env=env)
        sizes = [size for saved in args.merge for size in load_sizes(saved)]
        for count in counts:
            with_import = not args.no_import and count <= args.import_max
            size = measure_size(base, args.corpus, count, args.repeat, work, with_import=with_import)
            sizes.append(size)
            print(f"{count:,} cases: {size.files:,} files, {size.yaml_mb:.0f} MB of YAML", file=sys.stderr)
            for m in size.measures:
                print(
                    f"  {m.name:<30} {m.seconds:7.2f} s / {m.floor_seconds:7.2f} s = {m.ratio:5.2f}x", file=sys.stderr
                )
            if args.save:
                save_sizes(args.save, sizes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sizes.sort(key=lambda s: s.cases)
    header = f"{os.cpu_count()} cores, best of {args.repeat} paired runs; " + ", ".join(
        f"{s.cases:,} cases = {s.files:,} files, {s.yaml_mb:.0f} MB of YAML" for s in sizes
    )
    text = f"{header}\n\n{table(sizes)}\n"
    print(text)
    if args.out:
        write_report(args.out, text, svg_plot(sizes))


BEGIN, END = "<!-- benchmarks/run.py: begin -->", "<!-- benchmarks/run.py: end -->"


def write_report(path: Path, text: str, svg: str) -> None:
    """Replace the figures between the markers of ``path`` (appended when it has none), plot beside it."""
    plot = path.parent / "assets" / "performance.svg"
    plot.parent.mkdir(parents=True, exist_ok=True)
    plot.write_text(svg, encoding="utf-8")
    block = f"{BEGIN}\n{text}\n![Time against size](assets/performance.svg)\n{END}"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n"
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        current = head + block + rest.split(END, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(current, encoding="utf-8")


if __name__ == "__main__":
    main()
