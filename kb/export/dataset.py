"""Export the knowledge base as training data that loads unchanged in `datasets` and TRL.

``kb export FORMAT --out DIR`` writes ``DIR/{train,validation,test}.jsonl`` (or zstd
Parquet shards under ``DIR/data/``) and the dataset card ``DIR/README.md``. The formats
are in :mod:`kb.export.rows`; every row also carries `id` (`<case>/<failure>`, or
`<case>` for a row per case), `case`, `impact`, `category`, `services`, `platform` and
`language`, one type per column.

A run: select the failures (never drafts, withdrawn records or not-a-failure entries); cluster near-duplicate cases (:mod:`kb.export.dedup`) and
give each cluster one split, by a SHA-256 of its first case id; build and clean the rows
(every string scanned for credentials); drop rows over ``max_tokens``, duplicates and
near-duplicates (train first, so evaluation never repeats train); then write every file
into a staging folder renamed into place as a whole (:mod:`kb.export.publish`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from kb import yamlio
from kb.cache import RecordCache
from kb.errors import KbError, Problem, SecretsFoundError, UsageError
from kb.export.build import Run, case_texts, environment, in_workers, renderer
from kb.export.card import CARD_FILE, features, render_card
from kb.export.dedup import RowFilter, clusters
from kb.export.files import dataset_files, split_of_file
from kb.export.lengths import Lengths
from kb.export.memo import Memo
from kb.export.options import FILE_FORMATS, check_license, check_out, parse_split, split_of
from kb.export.publish import publish, write_file
from kb.export.result import SPLITS, ExportResult
from kb.export.rows import ANSWER_COLUMNS, CASE_BUILDERS, FORMATS, NEAR_COLUMNS, Hit, Row, RowOptions, Style
from kb.filters import Filters, Selection, select
from kb.lifecycle import is_withdrawn
from kb.models import Status
from kb.progress import NO_PROGRESS, Progress
from kb.secrets import KIND_LABELS
from kb.store import CASE_FILE, LoadedCase, LoadedFailure, load_kb

__all__ = ["SecretsFoundError", "export_dataset"]

_METADATA = ("id", "case", "impact", "category", "services", "platform", "language")


def _problems(hits: list[Hit]) -> list[Problem]:
    """One `path:line:col: message` per credential: the key that holds it, or its place in a document."""
    texts: dict[Path, str] = {}
    problems = set()
    for hit in hits:
        if hit.path not in texts:
            texts[hit.path] = hit.path.read_text(encoding="utf-8", errors="replace") if hit.path.is_file() else ""
        text = texts[hit.path]
        if hit.loc:
            line, col = yamlio.locate(text, hit.loc)
            where = f"`{'.'.join(str(p) for p in hit.loc)}`"
        elif hit.path.name == CASE_FILE:
            line, col, where = 1, 1, "the case's failure report (one of its records; `kb check` names it)"
        else:
            line = text.count("\n", 0, hit.start) + 1
            col, where = hit.start - (text.rfind("\n", 0, hit.start) + 1) + 1, "this task document"
        message = f"{KIND_LABELS.get(hit.kind, hit.kind)} in {where}; remove it, or export redacted to replace it"
        problems.add(Problem.at(hit.path, message, line=line, col=col))
    return sorted(problems)


def _selected(
    cases: list[LoadedCase], selection: Selection, skipped: Counter[str]
) -> list[tuple[LoadedCase, list[LoadedFailure]]]:
    """Each case with its exported failures (published failures the filters accept)."""
    chosen = []
    for case in cases:
        if is_withdrawn(case):  # not even as a task (`pairs`)
            skipped["withdrawn"] += max(1, len(case.failures))
            continue
        failures = []
        for loaded in case.failures:
            failure = loaded.failure
            if is_withdrawn(case, loaded):
                skipped["withdrawn"] += 1
            elif failure.status is Status.draft:
                skipped["draft"] += 1
            elif not failure.is_failure:
                skipped["not a failure"] += 1
            elif not selection.accepts(case.case, failure):
                skipped["filtered out"] += 1
            else:
                failures.append(loaded)
        chosen.append((case, failures))
    return chosen


def export_dataset(
    kb_root: Path | str,
    fmt: str,
    out: Path | str,
    *,
    license: str | None = None,
    redact: bool = False,
    filters: Filters | None = None,
    split: str = "80/10/10",
    style: Style | str = Style.conversational,
    file_format: str = "jsonl",
    min_lines: int = 3,
    max_tokens: int | None = None,
    allow_no_task: bool = False,
    structured: bool = False,
    force: bool = False,
    use_cache: bool = True,
    progress: Progress = NO_PROGRESS,
) -> ExportResult:
    """Write the dataset (``out/{train,validation,test}.jsonl`` or ``out/data/*.parquet``) and
    its card ``out/README.md``, as a whole.

    ``license`` is required (``unknown`` only with ``force``). Raises ``SecretsFoundError``
    (writing nothing) when an exported string holds a credential and ``redact`` is false;
    ``KbError`` when no row is left to export or the files cannot be written. ``use_cache``:
    records, document scans and cleanings, and signatures come from kb's cache when unchanged.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if style not in {s.value for s in Style}:
        raise UsageError(f"style {style!r}: choose conversational or standard")
    style = Style(style)
    if fmt == "classify" and style is Style.standard:
        raise UsageError("the chat style applies to the chat formats; classify rows are always text and label")
    if file_format not in FILE_FORMATS:
        raise UsageError(f"format {file_format!r}: choose jsonl or parquet")
    if structured and fmt != "critique":
        raise UsageError("structured rows apply to critique only")
    if min_lines < 1:
        raise UsageError(f"a minimum of {min_lines} lines: give 1 or more")
    if max_tokens is not None and max_tokens < 1:
        raise UsageError(f"a budget of {max_tokens} tokens: give 1 or more")
    license = check_license(license, force=force)
    ratio = parse_split(split)
    kb_root, out, filters = Path(kb_root), Path(out), filters or Filters()
    check_out(out, kb_root, force=force)
    if file_format == "parquet":
        from kb.export.parquet import require_pyarrow

        require_pyarrow()  # before any work: a clear error when pyarrow is missing
    kb = load_kb(kb_root, use_cache=use_cache)
    with RecordCache.open(kb_root, enabled=use_cache) as record_cache:
        memo = Memo(record_cache)
        selection = select(kb, filters)
        skipped: Counter[str] = Counter()
        chosen = _selected(kb.cases, selection, skipped)
        options = RowOptions(min_lines=min_lines, allow_no_task=allow_no_task, structured=structured)
        reports = environment(kb_root) if fmt == "critique" and not structured else None
        render = renderer(kb_root, memo, reports) if reports else None

        per_case = fmt in CASE_BUILDERS
        if per_case:
            skipped.clear()  # rows are cases: what happened to single failures is not a row's fate
        run = Run(
            fmt,
            style,
            options,
            render,
            redact=redact,
            max_tokens=max_tokens,
            filtered=bool(filters.describe()),
            memo=memo,
            templates=reports[1] if reports else "",
        )
        progress.start("Exporting", len(chosen) if per_case else sum(len(f) for _, f in chosen))
        done = in_workers(run, kb_root, chosen, progress) if per_case else {}
        cases = [case for case, failures in chosen if failures or fmt == "pairs"]
        cluster_of = clusters([c.id for c in cases], [case_texts(c) for c in cases], memo)
        built, hits = run.build(
            chosen, lambda case_id: split_of(cluster_of.get(case_id, case_id), ratio), skipped, progress, done
        )
        if hits and not redact:
            raise SecretsFoundError(_problems(hits))

        lengths = Lengths(fmt)
        columns = [f["name"] for f in features(fmt, style) if f["name"] not in _METADATA]
        dedup = RowFilter(columns, ANSWER_COLUMNS[fmt], NEAR_COLUMNS[fmt], memo=memo, name=fmt)
        rows: dict[str, list[Row]] = {}
        for s in SPLITS:
            rows[s] = []
            for _, row in sorted(built[s], key=lambda item: item[0]):
                repeat = dedup.reason(row, s)
                if repeat:
                    skipped[repeat] += 1
                else:
                    rows[s].append(row)
                    lengths.add(row)
        memo.save()
    if not any(rows.values()):
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items())) or "no failures"
        raise KbError(f"nothing to export as {fmt} from {kb_root} ({reasons})")

    result = ExportResult(
        out=out,
        format=fmt,
        splits={s: len(rows[s]) for s in SPLITS},
        skipped=dict(sorted(skipped.items(), key=lambda item: (-item[1], item[0]))),
        redacted=len(hits),
        file_format=file_format,
        clusters=_cluster_figures(cluster_of, {str(row["case"]) for split in rows.values() for row in split}),
        lengths=lengths.summary(),
        mix=_mix(rows),
    )
    files = dataset_files(rows, fmt, style, file_format)
    sizes = {s: sum(len(data) for name, data in files if split_of_file(name) == s) for s in SPLITS}
    card = render_card(
        kb,
        result,
        style=style,
        license=license,
        filters=filters.describe(),
        sizes=sizes,
        ratio=ratio,
        options=options,
        max_tokens=max_tokens,
    )
    files.append((CARD_FILE, card.encode("utf-8")))

    def write(staging: Path) -> None:
        for name, data in files:
            write_file(staging / name, data)

    publish(out, write)
    result.files.extend(out / name for name, _ in files)
    return result


def _cluster_figures(cluster_of: dict[str, str], exported: set[str]) -> dict[str, int]:
    sizes = Counter(cluster_of.get(c, c) for c in exported)
    shared = [n for n in sizes.values() if n > 1]
    return {"cases": len(exported), "clusters": len(sizes), "shared": len(shared), "in_shared": sum(shared)}


def _mix(rows: dict[str, list[Row]]) -> dict[str, list[tuple[str, int]]]:
    """How many rows per impact, category, platform and language (most first)."""
    mix = {}
    for column in ("impact", "category", "platform", "language"):
        counts = Counter(str(row.get(column) or "(none)") for split in rows.values() for row in split)
        if set(counts) != {"(none)"}:  # (rows per task have no impact or category)
            mix[column] = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return mix
