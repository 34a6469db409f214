"""How trainable an export is: the figures of issue 19, measured on a KB imported from task folders.

    python benchmarks/export_quality.py --kb DIR [--formats pairs,sft,...]

Exports each format (JSONL and, for one, Parquet) into a temporary folder and measures,
with checks independent of the exporter's own cleaning:

- rows per task folder (`pairs`; goal >= 95%), rows whose prompt has no task (goal 0);
- answers (chosen, rejected, completion) holding an annotation marker (goal < 1%): a
  marker symbol in a comment or prose, or a verdict word (WRONG, FIXED...) in a comment;
  marker symbols in a program's own strings are counted apart;
- answers holding a placeholder (goal < 5%): a code block that leaves code out (`...` lines,
  `# ... other ...`, `{...}`, `Stack(app, 'id', ...)`) and is not fenced as an excerpt
  (``kb.export.clean.elides_code``: one definition of a placeholder, the exporter's); the
  answers quoting excerpts so marked (a reviewer's quotes, in `critique`) are counted apart;
- exact duplicate rows (goal 0); validation/test cases with a near-twin in train
  (exact Jaccard of 5-word shingles >= 0.9 between the cases' row texts; goal 0);
- `datasets.load_dataset` warnings on loading (goal none); TRL's `is_conversational`
  on every row of the chat formats (with TRL's own helper when installed).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import re
import tempfile
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

from kb.export import SPLITS, export_dataset
from kb.export.clean import blocks, elides_code, is_excerpt

_MARK = re.compile("[\u274c\u2705\u2714\u2713\u2717\u2718\u26a0\U0001f6ab\u26d4]")
_COMMENT_MARK = re.compile(r"(?:#|//|/\*|<!--)[^\n]*[\u274c\u2705\u2714\u2713\u2717\u2718\u26a0]")
_COMMENT_VERDICT = re.compile(r"(?:^|\s)(?:#|//)[^\n]*\b(?:WRONG|CORRECT|CORRECTED|FIXED|BAD|GOOD|INCORRECT)\b")
_STRING_MARK = re.compile(
    r"[\"'`][^\"'`\n]*[\u274c\u2705\u2714\u2713\u2717\u2718\u26a0][^\"'`\n]*[\"'`]|<[^>\n]*>[^<\n]*[\u274c\u2705\u2713\u2714]"
)
ANSWERS = ("chosen", "rejected", "completion")


def text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(m.get("content", "")) for m in value if isinstance(m, dict))
    return value if isinstance(value, str) else ""


def shingles(value: str) -> set[tuple[str, ...]]:
    words = value.lower().split()
    return {tuple(words[i : i + 5]) for i in range(max(1, len(words) - 4))}


def jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def read(out: Path) -> dict[str, list[dict[str, Any]]]:
    return {s: [json.loads(line) for line in (out / f"{s}.jsonl").read_text().splitlines()] for s in SPLITS}


def conversational(row: dict[str, Any]) -> bool:
    try:
        from trl.data_utils import is_conversational  # type: ignore[import-not-found]
    except ImportError:
        keys = ("prompt", "chosen", "rejected", "completion", "messages")  # TRL's documented rule
        found = [row[k] for k in keys if k in row]
        return bool(found) and all(
            isinstance(v, list) and v and all(isinstance(m, dict) and {"role", "content"} <= m.keys() for m in v)
            for v in found
        )
    return bool(is_conversational(row))


def load_warnings(out: Path) -> list[str]:
    from datasets import load_dataset

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    logging.getLogger("datasets").addHandler(handler)
    with tempfile.TemporaryDirectory() as cache, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_dataset(str(out), cache_dir=cache)
    logging.getLogger("datasets").removeHandler(handler)
    return [str(w.message) for w in caught] + [line for line in stream.getvalue().splitlines() if line.strip()]


def measure(kb: Path, fmt: str, tmp: Path) -> dict[str, Any]:
    out = tmp / fmt
    result = export_dataset(kb, fmt, out, license="cc-by-4.0", redact=True)
    splits = read(out)
    rows = [row for split in splits.values() for row in split]
    answers = [text(row[c]) for row in rows for c in ANSWERS if c in row]
    figures: dict[str, Any] = {"rows": len(rows), "splits": result.splits}
    if fmt == "pairs":
        folders = sum(1 for case in kb.iterdir() if (case / "IDEAL_RESPONSE.md").is_file())
        figures["rows per task folder"] = f"{len(rows)}/{folders} = {100 * len(rows) / max(folders, 1):.1f}%"
    if fmt != "classify":
        figures["rows without a task"] = sum("Task:\n\n" not in text(row["prompt"]) for row in rows)
    if answers:
        marked = sum(bool(_COMMENT_MARK.search(a) or _COMMENT_VERDICT.search(a)) for a in answers)
        symbols = sum(bool(_MARK.search(a)) for a in answers)
        in_strings = sum(bool(_STRING_MARK.search(a)) for a in answers)
        placeholders = sum(elides_code(a) for a in answers)
        excerpts = sum(any(b.kind == "code" and is_excerpt(b) for b in blocks(a)) for a in answers)
        figures["answers with annotation markers"] = f"{marked}/{len(answers)} = {100 * marked / len(answers):.2f}%"
        figures["answers with any marker symbol"] = f"{symbols} ({in_strings} inside program strings or HTML)"
        figures["answers with placeholders"] = (
            f"{placeholders}/{len(answers)} = {100 * placeholders / len(answers):.2f}%"
        )
        figures["answers quoting a marked excerpt"] = f"{excerpts}/{len(answers)}"
    content = [c for c in rows[0] if c not in ("id", "case", "impact", "category", "services", "platform", "language")]
    keys = [json.dumps([row[c] for c in content], sort_keys=True) for row in rows]
    figures["exact duplicate rows"] = len(keys) - len(set(keys))
    by_case: dict[str, dict[str, str]] = defaultdict(dict)
    for split, split_rows in splits.items():
        for row in split_rows:
            by_case[row["case"]].setdefault("split", split)
            by_case[row["case"]]["text"] = (
                by_case[row["case"]].get("text", "") + "\n" + " ".join(text(row[c]) for c in content)
            )
    train = [shingles(v["text"]) for v in by_case.values() if v["split"] == "train"]
    evaluated = [shingles(v["text"]) for v in by_case.values() if v["split"] != "train"]
    figures["eval cases with a near-twin in train"] = (
        f"{sum(any(jaccard(e, t) >= 0.9 for t in train) for e in evaluated)}/{len(evaluated)}"
    )
    figures["datasets warnings"] = load_warnings(out)
    if fmt != "classify":
        figures["is_conversational"] = f"{sum(conversational(row) for row in rows)}/{len(rows)}"
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, required=True)
    parser.add_argument("--formats", default="pairs,critique,fix,sft,dpo,classify")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kb-export-quality-") as tmp:
        for fmt in args.formats.split(","):
            print(f"## {fmt}")
            for name, value in measure(args.kb, fmt, Path(tmp)).items():
                print(f"- {name}: {value}")
        parquet = Path(tmp) / "parquet"
        export_dataset(args.kb, "pairs", parquet, license="cc-by-4.0", redact=True, file_format="parquet")
        print(f"## pairs as Parquet\n- datasets warnings: {load_warnings(parquet)}")


if __name__ == "__main__":
    main()
