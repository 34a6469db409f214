"""Export the knowledge base as training data that loads unchanged in `datasets` and TRL.

``kb export FORMAT --out DIR`` writes ``DIR/{train,validation,test}.jsonl`` and the
dataset card ``DIR/README.md``. The formats (``sft``, ``dpo``, ``classify``) are in
:mod:`kb.export.rows`; every row also carries `id` (`<case>/<failure>`), `case`,
`impact`, `category`, `services`, `platform` and `language`, one type per column.

A whole case goes to one split, chosen by a SHA-256 of its id, so nothing leaks between
train and test. Drafts, withdrawn records and not-a-failure entries are never exported. Every record string
a row uses is scanned for credentials (:mod:`kb.secrets`); nothing is written until every
row is built and clean, and then each file is replaced atomically.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from kb import yamlio
from kb.atomic import write_text
from kb.errors import ExistsError, KbError, Problem, SecretsFoundError, UsageError
from kb.export.card import CARD_FILE, is_export_card, render_card
from kb.export.result import SPLITS, ExportResult
from kb.export.rows import BUILDERS, FieldReader, Hit, Row, RowContext, Style
from kb.filters import Filters, Selection, select
from kb.lifecycle import is_withdrawn
from kb.models import Status
from kb.progress import NO_PROGRESS, Progress
from kb.secrets import KIND_LABELS
from kb.store import CASE_FILE, LoadedCase, LoadedFailure, load_kb

FORMATS = tuple(BUILDERS)

__all__ = ["FORMATS", "SPLITS", "ExportResult", "SecretsFoundError", "Style", "export_dataset"]


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


# -- export ----------------------------------------------------------------------------


def _check_out(out: Path, kb_root: Path, *, force: bool) -> None:
    """Refuse an out folder inside the KB, or one holding files kb export did not write."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: not a folder")
    if out.resolve().is_relative_to(kb_root.resolve()):
        raise UsageError(f"{out}: inside the knowledge base {kb_root}; export somewhere else")
    if force or not out.is_dir():
        return
    card = out / CARD_FILE
    if card.is_file() and is_export_card(card.read_text(encoding="utf-8", errors="replace")):
        return
    for name in (CARD_FILE, *(f"{s}.jsonl" for s in SPLITS)):
        if (out / name).exists():
            raise ExistsError(out / name, hint="not written by an export", replaceable=True)


def _problems(hits: list[Hit]) -> list[Problem]:
    """One `path:line:col: message` per credential, the line being the key that holds it."""
    texts: dict[Path, str] = {}
    problems = set()
    for hit in hits:
        if hit.path not in texts:
            texts[hit.path] = hit.path.read_text(encoding="utf-8", errors="replace")
        line, col = yamlio.locate(texts[hit.path], hit.loc)
        where = ".".join(str(p) for p in hit.loc)
        message = f"{KIND_LABELS[hit.kind]} in `{where}`; remove it, or export redacted to replace it"
        problems.add(Problem.at(hit.path, message, line=line, col=col))
    return sorted(problems)


def _selected(
    cases: list[LoadedCase], selection: Selection, skipped: Counter[str]
) -> list[tuple[LoadedCase, LoadedFailure]]:
    chosen = []
    for case in cases:
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
                chosen.append((case, loaded))
    return chosen


_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})
"""Characters `str.splitlines` breaks on that JSON leaves raw: escaped, so one row stays one line."""


def jsonl(rows: list[Row]) -> str:
    """JSON Lines with sorted keys and `\\n` line ends: the same rows give the same bytes."""
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=True).translate(_LINE_BREAKS) + "\n" for row in rows)


def export_dataset(
    kb_root: Path | str,
    fmt: str,
    out: Path | str,
    *,
    redact: bool = False,
    filters: Filters | None = None,
    split: str = "80/10/10",
    style: Style | str = Style.conversational,
    license: str = "unknown",
    force: bool = False,
    progress: Progress = NO_PROGRESS,
) -> ExportResult:
    """Write ``out/{train,validation,test}.jsonl`` and the dataset card ``out/README.md``.

    Raises ``SecretsFoundError`` (writing nothing) when an exported string holds a
    credential and ``redact`` is false; ``KbError`` when no row is left to export.
    """
    if fmt not in BUILDERS:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if style not in {s.value for s in Style}:
        raise UsageError(f"style {style!r}: choose conversational or standard")
    style = Style(style)
    if fmt == "classify" and style is Style.standard:
        raise UsageError("the chat style applies to sft and dpo; classify rows are always text and label")
    ratio = parse_split(split)
    kb_root, out, filters = Path(kb_root), Path(out), filters or Filters()
    _check_out(out, kb_root, force=force)
    kb = load_kb(kb_root)
    selection = select(kb, filters)

    skipped: Counter[str] = Counter()
    chosen = _selected(kb.cases, selection, skipped)
    rows: dict[str, list[tuple[tuple[str, int], Row]]] = {s: [] for s in SPLITS}
    hits: dict[Hit, None] = {}
    case_reader: FieldReader | None = None
    progress.start("Exporting", len(chosen))
    for case, loaded in chosen:
        if case_reader is None or case_reader.record is not case.case:
            case_reader = FieldReader(case.path / CASE_FILE, case.case, redact=redact)
        case_reader.hits.clear()
        ctx = RowContext(case_reader, FieldReader(loaded.path, loaded.failure, redact=redact), style)
        built = BUILDERS[fmt](ctx, loaded.failure)
        if isinstance(built, str):
            skipped[built] += 1
        else:
            row = {"id": f"{case.id}/{loaded.failure.id}", "case": case.id, **ctx.metadata(loaded.failure), **built}
            hits.update(dict.fromkeys(case_reader.hits + ctx.failure.hits))
            rows[split_of(case.id, ratio)].append(((case.id, loaded.number), row))
        progress.advance(1)
    if hits and not redact:
        raise SecretsFoundError(_problems(list(hits)))
    if not any(rows.values()):
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items())) or "no failures"
        raise KbError(f"nothing to export as {fmt} from {kb_root} ({reasons})")

    texts = {s: jsonl([row for _, row in sorted(rows[s], key=lambda r: r[0])]) for s in SPLITS}
    result = ExportResult(
        out=out,
        format=fmt,
        splits={s: len(rows[s]) for s in SPLITS},
        skipped=dict(sorted(skipped.items(), key=lambda item: (-item[1], item[0]))),
        redacted=len(hits),
    )
    card = render_card(
        kb_root, result, style=style, license=license, filters=filters.describe(), sizes=_sizes(texts), ratio=ratio
    )
    for s in SPLITS:
        write_text(out / f"{s}.jsonl", texts[s])
        result.files.append(out / f"{s}.jsonl")
    write_text(out / CARD_FILE, card)
    result.files.append(out / CARD_FILE)
    return result


def _sizes(texts: dict[str, str]) -> dict[str, int]:
    return {s: len(text.encode("utf-8")) for s, text in texts.items()}
