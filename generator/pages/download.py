"""The whole knowledge base as one download: ``data/kb.jsonl.gz``, one case per line.

Each line is the case's ``cases/<id>.json`` (its records as stored, without the import's
layout hints), in the order of the case ids, so the file is the sum of what the case
pages offer one at a time. Gzip with no name and no timestamp: the same KB gives the same
bytes.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable
from pathlib import Path

from kb.atomic import replacing

DOWNLOAD_FILE = "data/kb.jsonl.gz"
_CASE_JSON = re.compile(r"cases/[^/]+\.json")


def case_json_paths(paths: Iterable[str]) -> list[str]:
    """The case documents among a build's generated files, by case id."""
    return sorted(p for p in paths if _CASE_JSON.fullmatch(p))


def write_download(sources: Path, paths: list[str], site: Path) -> None:
    """Write ``site/data/kb.jsonl.gz`` (atomically) from the case documents in ``sources``."""
    with (
        replacing(site / DOWNLOAD_FILE, durable=False) as handle,
        gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0) as out,
    ):
        for path in paths:
            out.write((sources / path).read_bytes().rstrip(b"\n") + b"\n")
