"""Import a corpus of MODEL_FAILURES.md documents and measure how well and how fast.

    python benchmarks/import_corpus.py [--corpus DIR] [--workers N] [--keep DIR]
    python benchmarks/import_corpus.py --paired 1000 [--repeat 3] [--code DIR]

Prints: documents -> cases, crashes, failures vs numbered headings (seed-format
documents), words kept (median, min; see kb/importer/words.py for both measures),
round-trip line similarity of seed-format documents through `kb.render.report`
(median, 10th percentile), `kb check` errors on the imported KB (without and with the
bundled taxonomy), and the import time against a bare single-core markdown-it-py
parse of the same documents. ``--json`` prints the figures as JSON.

``--paired N`` measures as ``benchmarks/run.py`` does: a tree of N task folders (the
corpus repeated under fresh names), then R pairs of `kb import` and the one-core
markdown-it parse, each in its own process; best of R each, and their ratio. ``--code``
runs the import with another checkout's `kb` (to compare two versions on one machine).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.check import check_kb  # noqa: E402
from kb.importer import plan_import, run_import  # noqa: E402
from kb.importer.decode import decode_document  # noqa: E402
from kb.importer.words import kept_ratio, record_words  # noqa: E402
from kb.store import TAXONOMY_FILE, LoadedCase, scan_kb  # noqa: E402

_NUMBERED = re.compile(r"^\d{1,3}\.\s+\S")
_SEED_HEADING = re.compile(r"^#{2,4} \d{1,3}\. ", re.MULTILINE)


def is_seed_format(text: str) -> bool:
    """`### N. Title` headings with the seed's labels (`**Impact Level**`, MODEL/IDEAL labels)."""
    return (
        bool(_SEED_HEADING.search(text))
        and "**Impact Level**" in text
        and ("**MODEL_RESPONSE Issue**" in text or "**IDEAL_RESPONSE Fix**" in text)
    )


def numbered_headings(md: MarkdownIt, text: str) -> int:
    """Numbered headings (`N. Title`) at the level that has most of them (code blocks excluded)."""
    tokens = md.parse(text)
    levels: Counter[str] = Counter()
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and _NUMBERED.match(tokens[index + 1].content):
            levels[token.tag] += 1
    return max(levels.values()) if levels else 0


def line_similarity(source: str, rendered: str) -> float:
    """difflib ratio of the two documents' non-blank lines (trailing spaces ignored)."""
    a = [line.rstrip() for line in source.split("\n") if line.strip()]
    b = [line.rstrip() for line in rendered.split("\n") if line.strip()]
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def bare_parse_seconds(texts: list[bytes]) -> float:
    """Read-decoded-parse baseline: markdown-it-py's full parse of each document on one core."""
    md = MarkdownIt("commonmark")
    started = time.perf_counter()
    for raw in texts:
        md.parse(raw.decode("utf-8", errors="replace"))
    return time.perf_counter() - started


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the import's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def renderer() -> Any | None:
    try:
        from kb.render.env import make_env
        from kb.render.report import render_case
    except ImportError:
        return None
    env = make_env()
    return lambda case: render_case(case, env)


def measure(corpus: Path, workers: int | None, keep: Path | None) -> dict[str, Any]:
    plan = plan_import([corpus])
    raws = [job.document.read_bytes() for job in plan.jobs]
    baseline = bare_parse_seconds(raws)
    into = keep or Path(tempfile.mkdtemp(prefix="kb-import-bench-"))
    if keep and keep.exists():
        shutil.rmtree(keep)
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    result = run_import(plan, into, workers=workers)
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    figures: dict[str, Any] = {
        "documents": len(plan.jobs),
        "cases": result.cases,
        "failures": result.failures,
        "crashes": sum(1 for d in result.documents if d.crashed),
        "errors": len(result.errors),
        "warnings": result.warnings_by_kind,
        "import_seconds": round(elapsed, 3),
        "bare_parse_seconds": round(baseline, 3),
        "ratio": round(elapsed / baseline, 3) if baseline else None,
        "import_cpu_seconds": round(cpu, 3),
        "workers": workers or os.cpu_count(),
    }
    figures["check_errors"] = len(check_kb(into).errors)
    shutil.copy(ROOT / "failures" / TAXONOMY_FILE, into / TAXONOMY_FILE)
    figures["check_errors_with_taxonomy"] = len(check_kb(into).errors)
    (into / TAXONOMY_FILE).unlink()
    figures.update(_quality(plan.jobs, raws, result, into))
    if keep is None:
        shutil.rmtree(into, ignore_errors=True)
    return figures


def _quality(jobs: list[Any], raws: list[bytes], result: Any, into: Path) -> dict[str, Any]:
    kb = scan_kb(into)
    cases: dict[str, LoadedCase] = {c.id: c for c in kb.cases}
    md = MarkdownIt("commonmark")
    render = renderer()
    strict, labelled, similarity = [], [], []
    seed = seed_ok = 0
    worst: list[tuple[float, str]] = []
    for job, raw, outcome in zip(jobs, raws, result.documents, strict=True):
        loaded = cases.get(job.case_id)
        if loaded is None or not outcome.imported:
            continue
        text = decode_document(raw).text
        failures = [f.failure for f in loaded.failures]
        strict.append(kept_ratio(text, record_words(loaded.case, failures)))
        labelled.append(kept_ratio(text, record_words(loaded.case, failures, labelled=True)))
        if is_seed_format(text):
            seed += 1
            seed_ok += numbered_headings(md, text) == len(failures)
            if render is not None:
                score = line_similarity(text, render(loaded))
                similarity.append(score)
                worst.append((score, job.case_id))
    figures: dict[str, Any] = {
        "words_kept_median": round(statistics.median(labelled), 4) if labelled else None,
        "words_kept_min": round(min(labelled), 4) if labelled else None,
        "words_kept_strict_median": round(statistics.median(strict), 4) if strict else None,
        "words_kept_strict_min": round(min(strict), 4) if strict else None,
        "seed_format_documents": seed,
        "seed_failures_match_headings": seed_ok,
        "seed_failures_match_share": round(seed_ok / seed, 4) if seed else None,
    }
    if similarity:
        figures["roundtrip_median"] = round(statistics.median(similarity), 4)
        figures["roundtrip_p10"] = round(percentile(similarity, 0.10), 4)
        figures["roundtrip_worst"] = [f"{case} {score:.3f}" for score, case in sorted(worst)[:5]]
    else:
        figures["roundtrip_median"] = figures["roundtrip_p10"] = None
    return figures


def paired(corpus: Path, documents: int, repeat: int, code: Path) -> dict[str, Any]:
    """`kb import` of ``documents`` task folders against the markdown-it floor, as run.py pairs them."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run import FLOOR_MARKDOWN, grow_tree, python, run

    work = Path(tempfile.mkdtemp(prefix="kb-import-paired-"))
    env = dict(os.environ, PYTHONPATH=str(code), KB_CACHE_DIR=str(work / "cache"))
    try:
        tree = grow_tree(corpus, documents, work / "tree")
        imports, floors = [], []
        for n in range(repeat):  # a folder each, none deleted before the last run (see run.measure_import)
            floors.append(run(python(FLOOR_MARKDOWN, str(tree))).seconds)
            imports.append(
                run(
                    [sys.executable, "-m", "kb.cli", "import", str(tree), "--into", str(work / f"kb-{n}")], env=env
                ).seconds
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best, floor = min(imports), min(floors)
    return {
        "documents": documents,
        "import_seconds": round(best, 3),
        "floor_seconds": round(floor, 3),
        "ratio": round(best / floor, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=os.environ.get("KB_CORPUS"))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="Import into this folder and keep it.")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--paired", type=int, default=None, metavar="N", help="Time an import of N documents as run.py does."
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--code", type=Path, default=ROOT, help="The checkout whose `kb` --paired runs.")
    args = parser.parse_args()
    if args.corpus is None:
        parser.error("no corpus: pass --corpus DIR or set KB_CORPUS")
    if args.paired:
        found = paired(args.corpus, args.paired, args.repeat, args.code.resolve())
        print(
            json.dumps(found)
            if args.json
            else f"kb import of {found['documents']} documents: {found['import_seconds']} s / markdown-it {found['floor_seconds']} s = {found['ratio']}x"
        )
        return 0
    figures = measure(args.corpus, args.workers, args.keep)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    f = figures
    print(f"documents -> cases:      {f['documents']} -> {f['cases']} ({f['failures']} failures)")
    print(f"crashes / errors:        {f['crashes']} / {f['errors']}")
    print(f"warnings:                {f['warnings']}")
    print(
        f"seed-format documents:   {f['seed_format_documents']}; failures == numbered headings in "
        f"{f['seed_failures_match_headings']} ({f['seed_failures_match_share']})"
    )
    print(f"words kept:              median {f['words_kept_median']}, min {f['words_kept_min']}")
    print(f"words kept (strict):     median {f['words_kept_strict_median']}, min {f['words_kept_strict_min']}")
    print(f"round trip (seed-format): median {f['roundtrip_median']}, p10 {f['roundtrip_p10']}")
    if f.get("roundtrip_worst"):
        print(f"  lowest:                {', '.join(f['roundtrip_worst'])}")
    print(
        f"kb check errors:         {f['check_errors']} (with the bundled taxonomy: {f['check_errors_with_taxonomy']})"
    )
    print(
        f"time:                    import {f['import_seconds']}s on {f['workers']} worker(s) vs bare parse "
        f"{f['bare_parse_seconds']}s on one core = {f['ratio']}x (import CPU time {f['import_cpu_seconds']}s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
