"""`kb import`: turn MODEL_FAILURES.md documents into case and failure records, losing nothing.

The pipeline, one module per step: ``decode`` (bytes -> text), ``blocks`` (markdown-it
block structure with line ranges), ``headings``/``outline`` (which headings are failure
units), ``labels``/``segments`` (labelled parts of a unit), ``impact`` (level wording),
``fields``/``unit``/``summary`` (parts -> record fields), ``assemble`` (one document ->
records), ``metadata`` (the task), ``discover`` (documents and case ids), ``write``
(atomic case folders) and ``driver`` (the process pool and the result).
"""

from kb.importer.assemble import Assembled, assemble_case
from kb.importer.discover import ImportPlan, Job, plan_import
from kb.importer.driver import DocumentResult, ImportOptions, ImportResult, import_documents, run_import

__all__ = [
    "Assembled",
    "DocumentResult",
    "ImportOptions",
    "ImportPlan",
    "ImportResult",
    "Job",
    "assemble_case",
    "import_documents",
    "plan_import",
    "run_import",
]
