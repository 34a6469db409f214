"""Rendering: the Jinja environment (``env``), the Markdown helpers its filters use
(``markdown``) and MODEL_FAILURES.md reports (``report``). The CLI, scaffolds, exports and
the MkDocs site (``generator``) all render through here."""
