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

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment

from kb import yamlio
from kb.cache import RecordCache
from kb.documents import PROMPT
from kb.errors import ExistsError, KbError, LicenseError, Problem, SecretsFoundError, UsageError
from kb.export.card import CARD_FILE, features, is_export_card, render_card
from kb.export.dedup import RowFilter, case_signature, clusters, row_signature
from kb.export.lengths import Lengths
from kb.export.memo import NO_MEMO, Memo, report_inputs
from kb.export.parallel import built, compute_in_workers, uncomputed
from kb.export.publish import publish, write_file
from kb.export.result import SPLITS, ExportResult
from kb.export.rows import (
    ANSWER_COLUMNS,
    CASE_BUILDERS,
    FAILURE_BUILDERS,
    FORMATS,
    NEAR_COLUMNS,
    DocumentReader,
    FieldReader,
    Hit,
    Row,
    RowContext,
    RowOptions,
    Style,
)
from kb.filters import Filters, Selection, select
from kb.lifecycle import is_withdrawn
from kb.models import Status
from kb.progress import NO_PROGRESS, Progress
from kb.render.env import make_env, project_templates_dir, templates_digest
from kb.render.report import render_case
from kb.secrets import KIND_LABELS, find_secrets
from kb.secrets import redact as redact_secrets
from kb.store import CASE_FILE, LoadedCase, LoadedFailure, load_kb

__all__ = ["FORMATS", "SPLITS", "ExportResult", "SecretsFoundError", "Style", "export_dataset"]

FILE_FORMATS = ("jsonl", "parquet")
UNKNOWN_LICENSE = "unknown"
_METADATA = ("id", "case", "impact", "category", "services", "platform", "language")


# -- options ---------------------------------------------------------------------------


def parse_split(text: str) -> tuple[int, int, int]:
    """`80/10/10` -> (80, 10, 10): train/validation/test percentages adding up to 100."""
    parts = text.replace(" ", "").split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or sum(int(p) for p in parts) != 100:
        raise UsageError(f"split {text!r}: give train/validation/test percentages adding up to 100, e.g. 80/10/10")
    train, validation, test = (int(p) for p in parts)
    return train, validation, test


def split_of(case_id: str, ratio: tuple[int, int, int]) -> str:
    """The split a case belongs to: the first 64 bits of SHA-256(id) as a fraction of [0, 1)."""
    point = int.from_bytes(hashlib.sha256(case_id.encode("utf-8")).digest()[:8], "big") * 100
    train, validation, _ = ratio
    if point < train << 64:
        return "train"
    return "validation" if point < (train + validation) << 64 else "test"


def _check_license(license: str | None, *, force: bool) -> str:
    if not license or not license.strip():
        raise LicenseError("no license chosen for the dataset (an SPDX id such as cc-by-4.0, or other)")
    if license.strip().lower() == UNKNOWN_LICENSE and not force:
        raise LicenseError("license `unknown`: a dataset needs a license its users can rely on")
    return license.strip()


# -- export ----------------------------------------------------------------------------

_EXPORT_FILES = {CARD_FILE, *(f"{s}.jsonl" for s in SPLITS), "data"}


def _check_out(out: Path, kb_root: Path, *, force: bool) -> None:
    """Refuse an out folder inside the KB, one holding files kb export did not write (and
    cannot replace as a whole), or a card not written by an export (unless ``force``)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: not a folder")
    if out.resolve().is_relative_to(kb_root.resolve()):
        raise UsageError(f"{out}: inside the knowledge base {kb_root}; export somewhere else")
    if not out.is_dir():
        return
    others = sorted(p.name for p in out.iterdir() if p.name not in _EXPORT_FILES)
    if others:
        raise UsageError(
            f"{out}: holds files an export did not write ({', '.join(others[:3])}); export to another folder"
        )
    card = out / CARD_FILE
    if force or (card.is_file() and is_export_card(card.read_text(encoding="utf-8", errors="replace"))):
        return
    for name in (CARD_FILE, *(f"{s}.jsonl" for s in SPLITS), "data"):
        if (out / name).exists():
            raise ExistsError(out / name, hint="not written by an export", replaceable=True)


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


_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})
"""Characters `str.splitlines` breaks on that JSON leaves raw: escaped, so one row stays one line."""


def _line(row: Row) -> str:
    text = json.dumps(row, ensure_ascii=False, sort_keys=True)
    return text.translate(_LINE_BREAKS) if any(c in text for c in "\u2028\u2029\x85") else text


def jsonl(rows: list[Row]) -> str:
    """JSON Lines with sorted keys and `\\n` line ends: the same rows give the same bytes."""
    return "".join(_line(row) + "\n" for row in rows)


def _case_texts(case: LoadedCase) -> tuple[str, str]:
    """The texts near-copies of a case are found by: its task prompt and its analysis."""
    return case.document(PROMPT) or "", _analysis(case)


def _analysis(case: LoadedCase) -> str:
    """The text of a case's analysis (what versions of one document share)."""
    parts = [case.case.title, case.case.intro or ""]
    for loaded in case.failures:
        f = loaded.failure
        parts += [f.title, f.root_cause or ""]
        for side in (f.model_response, f.ideal_response):
            if side is not None:
                parts += [side.text or "", side.code or ""]
    return "\n".join(parts)


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
    license = _check_license(license, force=force)
    ratio = parse_split(split)
    kb_root, out, filters = Path(kb_root), Path(out), filters or Filters()
    _check_out(out, kb_root, force=force)
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
        render = _renderer(kb_root, memo) if fmt == "critique" and not structured else None

        per_case = fmt in CASE_BUILDERS
        if per_case:
            skipped.clear()  # rows are cases: what happened to single failures is not a row's fate
        run = _Run(
            fmt,
            style,
            options,
            render,
            redact=redact,
            max_tokens=max_tokens,
            filtered=bool(filters.describe()),
            memo=memo,
        )
        progress.start("Exporting", len(chosen) if per_case else sum(len(f) for _, f in chosen))
        done = _in_workers(run, kb_root, chosen, progress) if per_case else {}
        cases = [case for case, failures in chosen if failures or fmt == "pairs"]
        cluster_of = clusters([c.id for c in cases], [_case_texts(c) for c in cases], memo)
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
    files = _files(rows, fmt, style, file_format)
    sizes = {s: sum(len(data) for name, data in files if _split_of_file(name) == s) for s in SPLITS}
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


@dataclass
class Made:
    """A case's rows (its failure's number, and the row or why there is none) and their credentials."""

    rows: list[tuple[int, Row | str]]
    hits: list[Hit]


@dataclass
class _Run:
    """How the rows of one export are built: the format, its options, and what the user asked."""

    fmt: str
    style: Style
    options: RowOptions
    render: Callable[[LoadedCase], str] | None
    redact: bool
    max_tokens: int | None
    filtered: bool
    memo: Memo

    def build(
        self,
        chosen: list[tuple[LoadedCase, list[LoadedFailure]]],
        split: Callable[[str], str],
        skipped: Counter[str],
        progress: Progress,
        done: dict[str, Made | None],
    ) -> tuple[dict[str, list[tuple[tuple[str, int], Row]]], list[Hit]]:
        """Every row, by split with its sort key, and the credentials the rows hold. ``done``: the
        cases whose progress was reported already, with their rows and credentials when built."""
        built: dict[str, list[tuple[tuple[str, int], Row]]] = {s: [] for s in SPLITS}
        hits: dict[Hit, None] = {}
        per_case = self.fmt in CASE_BUILDERS
        for case, failures in chosen:
            step = 0 if case.id in done else 1
            if per_case and not failures and self.filtered:
                skipped["filtered out"] += 1  # a case none of whose failures the filters accept
                progress.advance(step)
                continue
            made_here = done.get(case.id)
            if made_here is None:
                made_here = self.made(case, failures)
            for number, made in made_here.rows:
                progress.advance(step)
                if isinstance(made, str):
                    skipped[made] += 1
                else:
                    built[split(case.id)].append(((case.id, number), made))
            hits.update(dict.fromkeys(made_here.hits))
        return built, list(hits)

    def made(self, case: LoadedCase, failures: list[LoadedFailure]) -> Made:
        """The case's row (a row per case) or its failures' rows, each a row or why there is none
        (with its failure's number, 0 for a row per case), and the credentials the rows hold."""
        case_reader = FieldReader(case.path / CASE_FILE, case.case, redact=self.redact)
        documents = DocumentReader(case, case_reader, redact=self.redact, memo=self.memo)
        hits: dict[Hit, None] = {}
        rows = [
            (loaded.number if loaded else 0, self._row(case, loaded, case_reader, documents, hits))
            for loaded in ([None] if self.fmt in CASE_BUILDERS else failures)
        ]
        if self.fmt in CASE_BUILDERS:
            built(self.memo, self.name, case)
        return Made(rows, list(hits))

    @property
    def name(self) -> str:
        """The export's name for what it keeps about its cases (its format, and structured critiques apart)."""
        return f"{self.fmt}-structured" if self.options.structured else self.fmt

    def _row(
        self,
        case: LoadedCase,
        loaded: LoadedFailure | None,
        case_reader: FieldReader,
        documents: DocumentReader,
        hits: dict[Hit, None],
    ) -> Row | str:
        """One row (a case's, or one failure's), or why there is none; its credentials go into ``hits``."""
        failure_reader = FieldReader(loaded.path, loaded.failure, redact=self.redact) if loaded else case_reader
        ctx = RowContext(case_reader, failure_reader, documents, self.style, self.options, self.render)
        made = CASE_BUILDERS[self.fmt](ctx) if loaded is None else FAILURE_BUILDERS[self.fmt](ctx, loaded.failure)
        found = [*case_reader.hits, *failure_reader.hits, *documents.hits]  # this row's credentials
        case_reader.hits.clear()
        documents.hits.clear()
        if isinstance(made, str):
            return made
        row_id = case.id if loaded is None else f"{case.id}/{loaded.failure.id}"
        id_path = loaded.path if loaded else case.path / CASE_FILE
        found += [Hit(id_path, ("id",), secret.kind, secret.start) for secret in find_secrets(row_id)]
        case_id, row_id = (redact_secrets(case.id), redact_secrets(row_id)) if self.redact else (case.id, row_id)
        row = {"id": row_id, "case": case_id, **ctx.metadata(loaded.failure if loaded else None), **made}
        if self.max_tokens is not None and Lengths(self.fmt).total(row) > self.max_tokens:
            return "over the token budget"
        hits.update(dict.fromkeys(found))
        return row


Cases = list[tuple[LoadedCase, list[LoadedFailure]]]


def _in_workers(run: _Run, kb_root: Path, chosen: Cases, progress: Progress) -> dict[str, Made | None]:
    """The cases kb's cache holds nothing of (documents scanned and cleaned, reports rendered,
    signatures), when there are many, done in worker processes: what they computed adopted by
    ``run.memo``, and each case's rows (None for one that has no row to build)."""
    chosen = [(case, failures) for case, failures in chosen if failures or not run.filtered]  # (not a row)
    todo = [chosen[i] for i in uncomputed([case for case, _ in chosen], run.memo, run.name)]
    settings = (dataclasses.replace(run, render=None, memo=NO_MEMO), kb_root, run.render is not None)
    done: dict[str, Made | None] = dict.fromkeys(case.id for case, _ in todo)
    results = compute_in_workers(_compute, settings, todo, run.memo, progress)
    if results is None:
        return {}
    for made in results:
        done.update(made)
    return done


_WORKER_ENVIRONMENTS: dict[Path, tuple[Environment, str]] = {}
"""A worker's report environment (its templates compiled once for all its chunks; a worker
lives for one export, so the templates cannot change under it)."""


def _compute(job: tuple[tuple[_Run, Path, bool], Cases]) -> tuple[dict[str, Any], dict[str, Made]]:
    """In a worker: the rows of these cases and what building them computes and keeps
    (``Memo.computed``): the same calls with the same texts as ``export_dataset`` makes, so
    its own ``get`` calls (for the signatures of cases and rows) find them."""
    (run, kb_root, render), chosen = job
    memo = Memo(None)
    if render and kb_root not in _WORKER_ENVIRONMENTS:
        _WORKER_ENVIRONMENTS[kb_root] = _environment(kb_root)
    renderer = _renderer(kb_root, memo, _WORKER_ENVIRONMENTS[kb_root]) if render else None
    run = dataclasses.replace(run, memo=memo, render=renderer)
    built = {}
    for case, failures in chosen:
        if failures or run.fmt == "pairs":
            for kind, text in enumerate(_case_texts(case)):
                if text.strip():
                    case_signature(memo, case.id, kind, text)
        if run.fmt in CASE_BUILDERS and not failures and run.filtered:
            continue
        built[case.id] = made = run.made(case, failures)
        for _, row in made.rows:
            if not isinstance(row, str):
                row_signature(memo, run.fmt, row, NEAR_COLUMNS[run.fmt])
    return memo.computed(), built


def _environment(kb_root: Path) -> tuple[Environment, str]:
    """The Jinja environment of the KB's reports and its templates' digest."""
    templates = project_templates_dir(kb_root)
    return make_env(templates), templates_digest(templates)


def _renderer(
    kb_root: Path, memo: Memo, environment: tuple[Environment, str] | None = None
) -> Callable[[LoadedCase], str]:
    """A case's failure report as Markdown, rendered or (its inputs unchanged) from ``memo``."""
    env, fingerprint = environment or _environment(kb_root)

    def render(case: LoadedCase) -> str:
        return memo.get("report", case.id, report_inputs(case, fingerprint), lambda _: render_case(case, env), str, str)

    return render


def _files(rows: dict[str, list[Row]], fmt: str, style: Style, file_format: str) -> list[tuple[str, bytes]]:
    if file_format == "jsonl":
        return [(f"{s}.jsonl", jsonl(rows[s]).encode("utf-8")) for s in SPLITS]
    from kb.export.parquet import parquet_shards

    return [shard for s in SPLITS for shard in parquet_shards(s, rows[s], features(fmt, style))]


def _split_of_file(name: str) -> str:
    return name.removeprefix("data/").split("-", 1)[0].split(".", 1)[0]


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
