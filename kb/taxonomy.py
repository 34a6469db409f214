"""The built-in taxonomy: the categories a knowledge base uses when it has no `taxonomy.yaml` of its own.

It is the project's own `failures/taxonomy.yaml`, shipped in the wheel as
`kb/taxonomy.yaml`, so there is one list of categories: `kb check` validates against it,
`kb import --into` a new folder writes it there, `kb categorise` files failures under it
and the site's taxonomy page shows it (saying it is the built-in one).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from kb.errors import UsageError
from kb.models import Taxonomy

__all__ = ["builtin_taxonomy", "builtin_taxonomy_path", "write_builtin_taxonomy"]

_KB = Path(__file__).resolve().parent
TAXONOMY_FILE = "taxonomy.yaml"


def builtin_taxonomy_path() -> Path:
    """``kb/taxonomy.yaml`` in a wheel, the repository's ``failures/taxonomy.yaml`` in a checkout."""
    for candidate in (_KB / TAXONOMY_FILE, _KB.parent / "failures" / TAXONOMY_FILE):
        if candidate.is_file():
            return candidate
    raise UsageError(f"kb's built-in taxonomy is missing (looked in {_KB / TAXONOMY_FILE}); reinstall kb")


@cache
def builtin_taxonomy() -> Taxonomy:
    """The built-in taxonomy, read once."""
    from kb.store import load_record

    path = builtin_taxonomy_path()
    taxonomy, problems = load_record(path, Taxonomy)
    if taxonomy is None:
        raise UsageError(f"kb's built-in taxonomy is invalid: {problems[0] if problems else path}; reinstall kb")
    assert isinstance(taxonomy, Taxonomy)
    return taxonomy


def write_builtin_taxonomy(kb_root: Path) -> Path | None:
    """Write the built-in taxonomy into a KB that has no `taxonomy.yaml` (of any kind); return its path, else None."""
    from kb.atomic import create_text
    from kb.errors import ExistsError

    target = kb_root / TAXONOMY_FILE
    if target.exists() or target.is_symlink():
        return None
    try:  # never replaces one written meanwhile (by a person, or a concurrent import)
        create_text(target, builtin_taxonomy_path().read_text(encoding="utf-8"))
    except ExistsError:
        return None
    return target
