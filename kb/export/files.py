"""An export's files as bytes: JSON Lines (sorted keys, one row a line) or Parquet shards."""

from __future__ import annotations

import json

from kb.export.card import features
from kb.export.result import SPLITS
from kb.export.rows import Row, Style

_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})
"""Characters `str.splitlines` breaks on that JSON leaves raw: escaped, so one row stays one line."""


def _line(row: Row) -> str:
    text = json.dumps(row, ensure_ascii=False, sort_keys=True)
    return text.translate(_LINE_BREAKS) if any(c in text for c in "\u2028\u2029\x85") else text


def jsonl(rows: list[Row]) -> str:
    """JSON Lines with sorted keys and `\\n` line ends: the same rows give the same bytes."""
    return "".join(_line(row) + "\n" for row in rows)


def dataset_files(rows: dict[str, list[Row]], fmt: str, style: Style, file_format: str) -> list[tuple[str, bytes]]:
    if file_format == "jsonl":
        return [(f"{s}.jsonl", jsonl(rows[s]).encode("utf-8")) for s in SPLITS]
    from kb.export.parquet import parquet_shards

    return [shard for s in SPLITS for shard in parquet_shards(s, rows[s], features(fmt, style))]


def split_of_file(name: str) -> str:
    return name.removeprefix("data/").split("-", 1)[0].split(".", 1)[0]
