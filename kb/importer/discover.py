"""Find the documents to import under the given paths, and give each a case id (from its own name)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from kb.errors import Problem
from kb.importer.assemble import unique_slug
from kb.store import read_regular, slugify

DOCUMENT_NAMES = {"model_failures.md", "model_failure.md"}
_SKIP_DIRS = {"node_modules", "__pycache__", ".git", ".venv", "venv", "cdk.out", ".terraform"}
CASE_ID_LENGTH = 80


@dataclass(frozen=True)
class Job:
    """One document to import."""

    index: int
    """Its place in the import (documents are processed and reported in this order)."""
    document: Path
    source_path: str
    """The path as the user gave it (joined with the part found below a given folder)."""
    case_id: str
    task_folder: Path | None
    fallback_title: str
    """The title used when the document has none: the task folder's or file's name."""
    root: Path | None = None
    """The folder given (or holding the file given): the document must resolve inside it."""


@dataclass
class ImportPlan:
    """The documents found, and the paths that could not be used."""

    jobs: list[Job] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def plan_import(paths: list[Path]) -> ImportPlan:
    """Find every document under ``paths`` (files, task folders, trees) and name its case."""
    plan = ImportPlan()
    found: list[tuple[Path, str, Path]] = []
    seen: set[Path] = set()
    for given in paths:
        if not given.exists():
            plan.problems.append(Problem.at(given, "no such file or folder"))
            continue
        documents = [(given, str(given))] if given.is_file() else _documents_in(given)
        if not documents and given.is_dir():
            plan.problems.append(Problem.at(given, "no MODEL_FAILURES.md found in this folder"))
        root = given if given.is_dir() else given.parent
        for document, shown in documents:
            key = document.resolve()
            if key not in seen:
                seen.add(key)
                found.append((document, shown, root))
    ids: dict[str, int] = {}
    for index, (document, shown, root) in enumerate(found):
        folder = task_folder(document)
        name = _case_name(document, folder)
        case_id = case_id_for(name)
        if case_id in ids:  # another document of this run has the same name: tell them apart by content
            case_id = unique_slug(_with_suffix(case_id, _content_digest(document)), ids)
        ids.setdefault(case_id, 2)
        plan.jobs.append(Job(index, document, shown, case_id, folder, name, root))
    return plan


def case_id_for(name: str) -> str:
    """The case id of a document named ``name`` (its task folder's or file's name), from the name alone.

    The slug of the name when that loses nothing but letter case (`cdk-ts-Pr1156` ->
    `cdk-ts-pr1156`); otherwise the slug and a short hash of the exact name, so `Foo Bar`,
    `foo_bar` and `FOO-BAR` are three cases, and a non-ASCII name is not just `case`.
    Re-importing one document therefore never lands on another's case.
    """
    slug = slugify(name, CASE_ID_LENGTH)
    if slug and slug == name.lower():
        return slug
    return _with_suffix(slug or "case", hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest())


def _with_suffix(slug: str, digest: str) -> str:
    return f"{slug[: CASE_ID_LENGTH - 7].rstrip('-')}-{digest[:6]}"


def _content_digest(document: Path) -> str:
    try:
        return hashlib.sha256(read_regular(document, 1 << 20)[0]).hexdigest()
    except OSError:
        return hashlib.sha256(str(document).encode("utf-8", "surrogatepass")).hexdigest()


def _documents_in(root: Path) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(files):
            if name.lower() in DOCUMENT_NAMES:
                path = Path(current) / name
                out.append((path, os.path.join(str(root), os.path.relpath(path, root))))
    return out


def task_folder(document: Path) -> Path | None:
    """The task folder of a document: the folder holding `metadata.json` (or `PROMPT.md`)."""
    parent = document.parent
    candidates = [parent.parent, parent] if parent.name.lower() == "lib" else [parent]
    for folder in candidates:
        if (folder / "metadata.json").is_file() or (folder / "PROMPT.md").is_file():
            return folder
    return None


def _case_name(document: Path, folder: Path | None) -> str:
    if folder is not None:
        return folder.resolve().name if folder.name in ("", ".", "..") else folder.name
    if document.name.lower() in DOCUMENT_NAMES:
        parent = document.parent.resolve()
        parent = parent.parent if parent.name.lower() == "lib" else parent
        return parent.name or document.stem
    return document.stem
