"""`kb export`: the knowledge base as training data (`datasets`/TRL rows, splits, a dataset card).

One module per concern: ``dataset`` (the run: select, build, split, dedup, write), ``rows``
(the row builders of each format), ``clean`` (annotations, placeholders, parse checks),
``dedup`` (near-duplicate cases and rows), ``lengths`` (token estimates), ``card`` (the
dataset card), ``parquet`` (Parquet shards), ``publish`` (the staging folder renamed into
place), ``result`` (what an export wrote).
"""

from kb.export.dataset import FILE_FORMATS, SecretsFoundError, export_dataset, jsonl, parse_split, split_of
from kb.export.result import SPLITS, ExportResult
from kb.export.rows import FORMATS, Style

__all__ = [
    "FILE_FORMATS",
    "FORMATS",
    "SPLITS",
    "ExportResult",
    "SecretsFoundError",
    "Style",
    "export_dataset",
    "jsonl",
    "parse_split",
    "split_of",
]
