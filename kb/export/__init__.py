"""`kb export`: the knowledge base as training data (`datasets`/TRL rows, splits, a dataset card).

One module per concern: ``dataset`` (select, build, scan, split, write), ``rows`` (the row
builders of each format), ``card`` (the dataset card), ``result`` (what an export wrote).
"""

from kb.export.dataset import FORMATS, SecretsFoundError, export_dataset, jsonl, parse_split, split_of
from kb.export.result import SPLITS, ExportResult
from kb.export.rows import Style

__all__ = [
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
