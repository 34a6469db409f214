"""Building an export's rows: a case's (``pairs``, ``critique``) or its failures', each cleaned
and scanned for credentials, in this process or (many cases with nothing kept) in worker
processes (:mod:`kb.export.parallel`), with the same calls on the same texts either way."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment

from kb.documents import PROMPT
from kb.export.dedup import case_signature, row_signature
from kb.export.lengths import Lengths
from kb.export.memo import NO_MEMO, Memo, report_inputs
from kb.export.parallel import built, compute_in_workers, uncomputed
from kb.export.result import SPLITS
from kb.export.rows import (
    CASE_BUILDERS,
    FAILURE_BUILDERS,
    NEAR_COLUMNS,
    DocumentReader,
    FieldReader,
    Hit,
    Row,
    RowContext,
    RowOptions,
    Style,
)
from kb.progress import Progress
from kb.render.env import make_env, project_templates_dir, templates_digest
from kb.render.report import render_case
from kb.secrets import find_secrets
from kb.secrets import redact as redact_secrets
from kb.store import CASE_FILE, LoadedCase, LoadedFailure


def case_texts(case: LoadedCase) -> tuple[str, str]:
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


@dataclass
class Made:
    """A case's rows (its failure's number, and the row or why there is none) and their credentials."""

    rows: list[tuple[int, Row | str]]
    hits: list[Hit]


@dataclass
class Run:
    """How the rows of one export are built: the format, its options, and what the user asked."""

    fmt: str
    style: Style
    options: RowOptions
    render: Callable[[LoadedCase], str] | None
    redact: bool
    max_tokens: int | None
    filtered: bool
    memo: Memo
    templates: str = ""
    """The digest of the report templates the rows hold a rendering of ("" when none)."""

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
            built(self.memo, self.name, case, self.templates)
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


def in_workers(run: Run, kb_root: Path, chosen: Cases, progress: Progress) -> dict[str, Made | None]:
    """The cases kb's cache holds nothing of (documents scanned and cleaned, reports rendered,
    signatures), when there are many, done in worker processes: what they computed adopted by
    ``run.memo``, and each case's rows (None for one that has no row to build)."""
    chosen = [(case, failures) for case, failures in chosen if failures or not run.filtered]  # (not a row)
    todo = [chosen[i] for i in uncomputed([case for case, _ in chosen], run.memo, run.name, run.templates)]
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


def _compute(job: tuple[tuple[Run, Path, bool], Cases]) -> tuple[dict[str, Any], dict[str, Made]]:
    """In a worker: the rows of these cases and what building them computes and keeps
    (``Memo.computed``): the same calls with the same texts as ``export_dataset`` makes, so
    its own ``get`` calls (for the signatures of cases and rows) find them."""
    (run, kb_root, render), chosen = job
    memo = Memo(None)
    if render and kb_root not in _WORKER_ENVIRONMENTS:
        _WORKER_ENVIRONMENTS[kb_root] = environment(kb_root)
    report = renderer(kb_root, memo, _WORKER_ENVIRONMENTS[kb_root]) if render else None
    run = dataclasses.replace(run, memo=memo, render=report)
    built = {}
    for case, failures in chosen:
        if failures or run.fmt == "pairs":
            for kind, text in enumerate(case_texts(case)):
                if text.strip():
                    case_signature(memo, case.id, kind, text)
        if run.fmt in CASE_BUILDERS and not failures and run.filtered:
            continue
        built[case.id] = made = run.made(case, failures)
        for _, row in made.rows:
            if not isinstance(row, str):
                row_signature(memo, run.fmt, row, NEAR_COLUMNS[run.fmt])
    return memo.computed(), built


def environment(kb_root: Path) -> tuple[Environment, str]:
    """The Jinja environment of the KB's reports and its templates' digest."""
    templates = project_templates_dir(kb_root)
    return make_env(templates), templates_digest(templates)


def renderer(kb_root: Path, memo: Memo, reports: tuple[Environment, str] | None = None) -> Callable[[LoadedCase], str]:
    """A case's failure report as Markdown, rendered or (its inputs unchanged) from ``memo``."""
    env, fingerprint = reports or environment(kb_root)

    def render(case: LoadedCase) -> str:
        return memo.get("report", case.id, report_inputs(case, fingerprint), lambda _: render_case(case, env), str, str)

    return render
