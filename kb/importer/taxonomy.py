"""Map a written category (`**Category**: IAM Permissions`) to a taxonomy key, when it is obvious."""

from __future__ import annotations

import re
from pathlib import Path

from kb.models import Taxonomy
from kb.store import TAXONOMY_FILE, load_record
from kb.taxonomy import builtin_taxonomy

DEFAULT_CATEGORIES = frozenset(c.id for c in builtin_taxonomy().categories)
"""The categories of the built-in taxonomy (`kb.taxonomy`)."""

_SYNONYMS = {
    "iam": "iam-permissions",
    "permissions": "iam-permissions",
    "iam permissions": "iam-permissions",
    "iam policy": "iam-permissions",
    "least privilege": "iam-permissions",
    "encryption": "encryption",
    "kms": "encryption",
    "network": "networking",
    "networking": "networking",
    "vpc": "networking",
    "naming": "naming",
    "resource naming": "naming",
    "naming convention": "naming",
    "environment suffix": "naming",
    "deprecated api": "invalid-api",
    "invalid api": "invalid-api",
    "api usage": "invalid-api",
    "deprecation": "invalid-api",
    "dependencies": "dependencies",
    "dependency": "dependencies",
    "code quality": "code-quality",
    "lint": "code-quality",
    "linting": "code-quality",
    "syntax": "code-quality",
    "build": "code-quality",
    "testing": "testing",
    "tests": "testing",
    "test coverage": "testing",
    "configuration": "configuration",
    "requirements": "configuration",
    "destroyability": "destroyability",
    "cleanup": "destroyability",
    "removal policy": "destroyability",
    "monitoring": "monitoring",
    "observability": "monitoring",
    "logging": "monitoring",
    "cost": "cost",
    "cost optimization": "cost",
    "security": "security",
    "service limits": "service-limits",
    "quotas": "service-limits",
    "service quotas": "service-limits",
}


def category_for(value: str, categories: frozenset[str]) -> str | None:
    """The taxonomy key a written category names, or None when it is not obvious."""
    first = value.strip().split("\n", 1)[0]
    key = re.sub(r"[^a-z0-9]+", " ", re.sub(r"[*_`]", "", first).lower()).strip()
    slug = key.replace(" ", "-")
    for candidate in (slug, _SYNONYMS.get(key)):
        if candidate and candidate in categories:
            return candidate
    return None


def known_categories(kb_root: Path) -> frozenset[str]:
    """The category keys of the target KB's taxonomy, else those of the bundled one."""
    path = kb_root / TAXONOMY_FILE
    if path.is_file():
        taxonomy, _ = load_record(path, Taxonomy)
        if taxonomy is not None:
            return frozenset(c.id for c in taxonomy.categories)
    return DEFAULT_CATEGORIES
