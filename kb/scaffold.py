"""`kb add case` / `kb add failure`: new draft records from templates, never overwriting.

A failure gets the next free number in its case. Many authors may add at once: a
number is first reserved with an ``O_EXCL`` marker (``.NN.adding``, hidden, so loaders
skip it), the record is then created with ``O_EXCL`` too, and only then is the marker
removed; whoever loses a race retries with the next number. So at any moment a number
in use has its marker or its file, and two authors never share a number.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from kb import yamlio
from kb.atomic import create_text
from kb.documents import TASK_DOCUMENTS
from kb.errors import ExistsError, KbError, Problem, UsageError
from kb.importer.metadata import TaskInfo, read_task
from kb.lifecycle import today
from kb.models import SCHEMA_VERSION, Case, Failure, Impact, Taxonomy
from kb.names import normalise_services
from kb.store import (
    CASE_FILE,
    FAILURE_FILE,
    SCHEMA_NAMES,
    TAXONOMY_FILE,
    case_dirs,
    check_id,
    failure_file_name,
    inside,
    load_record,
    record_data,
    slugify,
)
from kb.validate import validate

FAILURE_TEMPLATE = "scaffold/failure.yaml.j2"
CASE_TEMPLATE = "scaffold/case.yaml.j2"
DEFAULT_CASE_TITLE = "Model Response Failures Analysis"
"""The title real MODEL_FAILURES.md documents mostly carry (used when none is given)."""
SIMILAR = 0.85
"""difflib ratio from which two failure titles count as near-duplicates."""
MAX_ATTEMPTS = 1000
_MARKER = re.compile(r"^\.(?P<nn>\d+)\.adding$")
_SLUG_LENGTH = 60
_SHOWN = 3
"""Warnings of each kind shown at most."""


@dataclass(frozen=True)
class Added:
    """What `kb add` wrote, and what its author should know (near-duplicate titles, ...)."""

    path: Path
    warnings: list[str] = field(default_factory=list)


# -- helpers -------------------------------------------------------------------------------


def failure_slug(title: str) -> str:
    """A failure id from a title (`failure` when the title has no letter or digit)."""
    return slugify(title, _SLUG_LENGTH) or "failure"


def one_line(text: str | None, *, what: str) -> str | None:
    """Spacing collapsed (titles are one line); ``UsageError`` when only spacing was given."""
    if text is None:
        return None
    line = " ".join(text.split())
    if not line:
        raise UsageError(f"the {what} is empty")
    return line


def yaml_value(value: Any) -> str:
    """A value as one line of YAML (quoted when it needs to be): the templates' `yaml` filter."""
    if isinstance(value, str):
        value = " ".join(value.split())
    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=1 << 30)
    return text.removesuffix("\n").removesuffix("\n...")


def _env(kb_root: Path, templates: Path | None) -> jinja2.Environment:
    from kb.render.env import make_env, project_templates_dir

    env = make_env(templates if templates is not None else project_templates_dir(kb_root))
    env.filters["yaml"] = yaml_value
    return env


def _render(env: jinja2.Environment, name: str, model: type[Any], path: Path, **context: Any) -> str:
    """Render a scaffold and make sure it is a valid record before anything is written."""
    from kb.render.env import template_problem

    try:
        text = env.get_template(name).render(**context)
    except jinja2.TemplateError as exc:
        raise template_problem(exc, template=name, context=f"scaffolding {path}") from None
    try:
        _, problems = validate(model, yamlio.parse(path, text), path=path, text=text)
    except KbError as exc:
        raise UsageError(f"template {name} gives invalid YAML: {exc}") from None
    if problems:
        raise UsageError(f"template {name} gives an invalid record: {problems[0]}")
    return text.rstrip("\n") + "\n"


def _modeline(model: type[Any]) -> str:
    return yamlio.modeline(SCHEMA_NAMES[model]).rstrip("\n")


def _case_folder(root: Path, case_id: str) -> Path:
    check_id(case_id, what="case")
    folder = root / case_id
    if folder.is_symlink():
        raise UsageError(f"{folder}: is a symbolic link; refusing to write through it")
    if folder.exists() and not inside(root, folder):
        raise UsageError(f"{folder}: links outside the knowledge base; refusing to write there")
    return folder


def _taxonomy_keys(root: Path) -> list[str]:
    path = root / TAXONOMY_FILE
    if not path.is_file():
        return []
    taxonomy, _ = load_record(path, Taxonomy)
    return [c.id for c in taxonomy.categories] if taxonomy is not None else []


def category_choices(root: Path | str) -> list[str]:
    """The taxonomy's category keys (for prompts), empty when there is no taxonomy."""
    return _taxonomy_keys(Path(root))


# -- cases -----------------------------------------------------------------------------------


def add_case(
    root: Path | str,
    case_id: str,
    *,
    title: str | None = None,
    from_task: Path | None = None,
    templates: Path | None = None,
) -> Added:
    """Create ``<root>/<case_id>/case.yaml`` from the template; never overwrites one.

    ``from_task`` fills ``task`` from the folder's ``metadata.json`` and copies its task
    documents (``PROMPT.md``, ``MODEL_RESPONSE.md``, ``IDEAL_RESPONSE.md``) beside the record.
    The knowledge base folder is created when it does not exist yet.
    """
    root = Path(root)
    folder = _case_folder(root, case_id)
    path = folder / CASE_FILE
    if path.exists() or path.is_symlink():
        raise ExistsError(path, hint="never overwritten; edit it, or pick another case id")
    warnings: list[str] = []
    info = task_of_folder(from_task, warnings) if from_task is not None else TaskInfo(None)
    task = info.task
    task_yaml = None
    if task is not None:
        task_yaml = yamlio.dump({"task": record_data(task)}, schema_name="").removeprefix(yamlio.modeline(""))
        task_yaml = task_yaml.rstrip("\n")
    text = _render(
        _env(root, templates),
        CASE_TEMPLATE,
        Case,
        path,
        modeline=_modeline(Case),
        schema_version=SCHEMA_VERSION,
        today=today().isoformat(),
        id=case_id,
        title=one_line(title, what="title") or DEFAULT_CASE_TITLE,
        task=task_yaml,
    )
    if not root.is_dir():
        root.mkdir(parents=True)
    folder.mkdir(exist_ok=True)
    if not inside(root, folder):
        raise UsageError(f"{folder}: links outside the knowledge base; refusing to write there")
    for name, document in info.documents.items():
        create_text(folder / name, document)
    create_text(path, text)  # last: a case folder without case.yaml is reported, so a failed copy shows
    return Added(path, warnings)


def task_of_folder(folder: Path, warnings: list[str]) -> TaskInfo:
    """The task and documents of a task folder, read as `kb import` reads them; ``UsageError`` when there are none."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: task folder not found")
    info = read_task(folder)
    warnings.extend(message for _, message in info.warnings)
    if info.task is None and not info.documents:
        raise UsageError(
            f"{folder}: no metadata.json or task documents ({', '.join(TASK_DOCUMENTS)}) in the task folder"
        )
    return info


# -- failures --------------------------------------------------------------------------------


def add_failure(
    root: Path | str,
    case_id: str,
    *,
    title: str,
    impact: str | None = None,
    category: str | None = None,
    services: Sequence[str] = (),
    templates: Path | None = None,
) -> Added:
    """Create ``<root>/<case_id>/<NN>-<slug>.yaml``, a draft, with the next free NN.

    Safe when many authors add at once (see the module docstring). Warns when the title
    already exists in the case, or nearly so elsewhere in the knowledge base.
    """
    root = Path(root)
    folder = _case_folder(root, case_id)
    if not (folder / CASE_FILE).is_file():
        raise UsageError(f"no case `{case_id}` in {root}; create it first with `kb add case {case_id}`")
    title_line = one_line(title, what="title")
    assert title_line is not None
    level = _impact(impact)
    categories = _taxonomy_keys(root)
    if category is not None and categories and category not in categories:
        close = difflib.get_close_matches(category, categories, n=1)
        hint = f"did you mean `{close[0]}`?" if close else f"choose from {', '.join(categories)}"
        raise UsageError(f"unknown category `{category}`; {hint}")
    if category is not None:
        check_id(category, what="category")
    names = normalise_services(services)
    warnings, taken = similar_titles(root, case_id, title_line)
    env = _env(root, templates)
    context = {
        "modeline": _modeline(Failure),
        "schema_version": SCHEMA_VERSION,
        "today": today().isoformat(),
        "title": title_line,
        "impact": level.value if level else None,
        "category": category,
        "categories": categories,
        "services": names,
    }

    def text_for(failure_id: str, path: Path) -> str:
        return _render(env, FAILURE_TEMPLATE, Failure, path, id=failure_id, **context)

    text_for(failure_slug(title_line), folder / "new.yaml")  # a broken template fails before any reservation
    return Added(_create_numbered(root, folder, failure_slug(title_line), taken, text_for), warnings)


def _impact(value: str | None) -> Impact | None:
    if value is None or not value.strip():
        return None
    try:
        return Impact(value.strip().lower())
    except ValueError:
        raise UsageError(f"unknown impact `{value}`; choose from {', '.join(i.value for i in Impact)}") from None


def similar_titles(root: Path, case_id: str, title: str) -> tuple[list[str], set[str]]:
    """Warnings for the same title in the case and near-duplicates elsewhere; the case's failure ids."""
    wanted = title.casefold()
    warnings: list[str] = []
    near: list[tuple[float, str]] = []
    matcher = difflib.SequenceMatcher(b=wanted, autojunk=False)
    ratios: dict[str, float] = {}
    for path, other in _failure_titles(root):
        folded = " ".join(other.split()).casefold()
        if folded == wanted and path.parent.name == case_id:
            warnings.append(f"{path}: already has this title in case `{case_id}`")
            continue
        ratio = ratios.get(folded)
        if ratio is None:
            matcher.set_seq1(folded)
            quick = matcher.real_quick_ratio() >= SIMILAR and matcher.quick_ratio() >= SIMILAR
            ratio = ratios[folded] = matcher.ratio() if quick else 0.0
        if ratio >= SIMILAR:
            near.append((-ratio, f"{path}: similar title ({ratio:.0%}): {other}"))
    if len(warnings) > _SHOWN:
        warnings[_SHOWN:] = [f"... and {len(warnings) - _SHOWN} more failure(s) with this title in case `{case_id}`"]
    warnings.extend(message for _, message in sorted(near)[:_SHOWN])
    return warnings, _ids_of_files(root / case_id)


_TITLE = re.compile(r"^title:.*(?:\n[ \t]+.*)*", re.MULTILINE)
_PLAIN_TITLE = re.compile(r"title: ([^-?:,\[\]{}#&*!|>'\"%@`\s](?:(?!: | #).)*)")


def _failure_titles(root: Path) -> Iterator[tuple[Path, str]]:
    """Every failure file's title, read from its `title:` key alone (fast on a large KB; best effort)."""
    for folder in case_dirs(root):
        if not inside(root, folder):
            continue
        with os.scandir(folder) as entries:
            files = sorted(e.name for e in entries if e.is_file(follow_symlinks=False) and FAILURE_FILE.match(e.name))
        for name in files:
            path = folder / name
            try:
                match = _TITLE.search(path.read_text(encoding="utf-8-sig"))
                if match is None:
                    continue
                plain = _PLAIN_TITLE.fullmatch(match.group(0))
                data = {"title": plain.group(1)} if plain else yaml.load(match.group(0), Loader=yaml.CSafeLoader)
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            if isinstance(data, dict) and isinstance(data.get("title"), str):
                yield path, data["title"].rstrip()


def _failure_files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _numbers_in_use(folder: Path) -> set[int]:
    """Numbers of failure files and of reservations in progress."""
    used = set()
    for path in _failure_files(folder):
        match = FAILURE_FILE.match(path.name) or _MARKER.match(path.name)
        if match:
            used.add(int(match["nn"]))
    return used


def _create_numbered(
    root: Path, folder: Path, slug: str, taken: set[str], text_for: Callable[[str, Path], str]
) -> Path:
    """Reserve the next free number and a free id, create the file, release the reservations."""
    number = max(_numbers_in_use(folder), default=0) + 1
    for _ in range(MAX_ATTEMPTS):
        if not inside(root, folder):
            raise UsageError(f"{folder}: links outside the knowledge base; refusing to write there")
        with _reserved(folder / f".{number:02d}.adding") as reserved:
            if reserved and number not in _numbers_of_files(folder):
                with _free_id(folder, slug, taken) as failure_id:
                    path = folder / failure_file_name(number, failure_id)
                    with contextlib.suppress(ExistsError):
                        create_text(path, text_for(failure_id, path))
                        return path
        number = max(_numbers_in_use(folder) | {number}) + 1  # lost a race: after whatever is there now
    raise KbError(f"{folder}: no free failure number after {MAX_ATTEMPTS} attempts; remove stale `.*.adding` files")


@contextlib.contextmanager
def _reserved(marker: Path) -> Iterator[bool]:
    """Hold ``marker`` (created with ``O_EXCL``) for the block; yields False when someone else holds it."""
    try:
        create_text(marker, "")
    except ExistsError:
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(OSError):
            marker.unlink()


@contextlib.contextmanager
def _free_id(folder: Path, slug: str, taken: set[str]) -> Iterator[str]:
    """``slug``, or ``slug-2``, ``slug-3``, ... : the first id no record, file or other author holds."""
    for n in range(1, MAX_ATTEMPTS + 1):
        suffix = f"-{n}" if n > 1 else ""
        candidate = slug[: _SLUG_LENGTH - len(suffix)].rstrip("-") + suffix
        if candidate in taken:
            continue
        with _reserved(folder / f".{candidate}.id.adding") as reserved:
            if reserved and candidate not in _ids_of_files(folder):
                yield candidate
                return
    raise KbError(f"{folder}: no free failure id for `{slug}`; remove stale `.*.adding` files")


def _numbers_of_files(folder: Path) -> set[int]:
    return {int(m["nn"]) for p in _failure_files(folder) if (m := FAILURE_FILE.match(p.name))}


def _ids_of_files(folder: Path) -> set[str]:
    return {m["id"] for p in _failure_files(folder) if (m := FAILURE_FILE.match(p.name))}


def recheck(path: Path) -> list[Problem]:
    """The problems of a record after its author edited it (empty when it is valid)."""
    model = Case if path.name == CASE_FILE else Failure
    _, problems = load_record(path, model)
    return problems
