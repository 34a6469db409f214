"""Rows as zstd-compressed Parquet shards: ``data/<split>-00000-of-0000n.parquet``.

The Hub's layout, read as it is by `datasets`, DuckDB, Spark and pandas. Each shard holds at
most ``SHARD_ROWS`` rows; the column types follow the card's ``dataset_info.features``
(strings, lists of strings, role/content message lists, the label as a class index).
pyarrow comes with `datasets` or the `export` extra (``pip install 'kb[export]'``).
"""

from __future__ import annotations

import io
from typing import Any

from kb.errors import UsageError
from kb.export.rows import Row

SHARD_ROWS = 10_000
"""Most rows in one shard (a few tens of MB at the longest rows)."""


def require_pyarrow() -> Any:
    try:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        raise UsageError("Parquet output needs pyarrow: pip install 'kb[export]' (or pip install pyarrow)") from None
    return pa, pq


def shard_names(split: str, rows: int, shard_rows: int) -> list[str]:
    """The file names of a split's shards (at least one, so an empty split still has a file)."""
    count = max(1, -(-rows // shard_rows))
    return [f"data/{split}-{i:05d}-of-{count:05d}.parquet" for i in range(count)]


def _type(pa: Any, feature: dict[str, Any]) -> Any:
    if "list" in feature:
        return pa.list_(pa.struct([(f["name"], pa.string()) for f in feature["list"]]))
    if "sequence" in feature:
        return pa.list_(pa.string())
    if isinstance(feature.get("dtype"), dict):  # class_label
        return pa.int64()
    return pa.string()


def parquet_shards(
    split: str, rows: list[Row], features: list[dict[str, Any]], shard_rows: int | None = None
) -> list[tuple[str, bytes]]:
    """The shards of one split as (file name, bytes), at most ``shard_rows`` (default
    ``SHARD_ROWS``) rows each; deterministic for the same rows."""
    shard_rows = shard_rows or SHARD_ROWS
    pa, pq = require_pyarrow()
    schema = pa.schema([(f["name"], _type(pa, f)) for f in features])
    labels = {}
    for f in features:
        if isinstance(f.get("dtype"), dict):
            names = f["dtype"]["class_label"]["names"]
            labels[f["name"]] = {name: int(index) for index, name in names.items()}
    shards = []
    for i, name in enumerate(shard_names(split, len(rows), shard_rows)):
        chunk = rows[i * shard_rows : (i + 1) * shard_rows]
        columns = {}
        for f in features:
            values = [row[f["name"]] for row in chunk]
            if f["name"] in labels:
                values = [labels[f["name"]][v] for v in values]
            columns[f["name"]] = values
        table = pa.Table.from_pydict(columns, schema=schema)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd", row_group_size=1_000, write_statistics=True)
        shards.append((name, buffer.getvalue()))
    return shards
