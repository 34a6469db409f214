"""The names of a knowledge base's files (a contract; ``kb.store`` reads and writes them).

Kept apart from ``kb.store`` so that what only needs the layout (the similarity index's
scan of the files on every `kb similar`) does not import the record models.
"""

from __future__ import annotations

import re

CASE_FILE = "case.yaml"
FAILURE_FILE = re.compile(r"^(?P<nn>\d+)-(?P<id>.+)\.yaml$")
