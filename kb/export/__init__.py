"""`kb export`: the knowledge base as training data (`datasets`/TRL rows, splits, a dataset card).

One module per concern: ``dataset`` (the run: select, split, dedup, write), ``options``
(the split, license and out folder asked for), ``build`` (a case's rows, in this process or
in workers: ``parallel``, with ``memo`` keeping results between exports), ``files`` (JSON
Lines and Parquet bytes), ``rows``
(the row builders of each format), ``clean`` (annotations, placeholders, parse checks),
``dedup`` (near-duplicate cases and rows), ``lengths`` (token estimates), ``card`` (the
dataset card), ``parquet`` (Parquet shards), ``publish`` (the staging folder renamed into
place), ``result`` (what an export wrote).
"""

from kb.export.dataset import SecretsFoundError, export_dataset
from kb.export.files import jsonl
from kb.export.options import FILE_FORMATS, parse_split, split_of
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
