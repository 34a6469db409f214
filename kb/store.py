"""The knowledge base on disk: discover cases, load and validate records, save them.

Layout (a contract)::

    <kb>/taxonomy.yaml
    <kb>/<case-id>/case.yaml
    <kb>/<case-id>/<NN>-<failure-id>.yaml
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kb import yamlio
from kb.atomic import write_text
from kb.errors import InvalidKbError, Problem, RecordError, Severity, UnsafePathError
from kb.models import SLUG_PATTERN, Case, Failure, Taxonomy
from kb.validate import validate

CASE_FILE = "case.yaml"
TAXONOMY_FILE = "taxonomy.yaml"
FAILURE_FILE = re.compile(r"^(?P<nn>\d+)-(?P<id>.+)\.yaml$")
SLUG = re.compile(SLUG_PATTERN)
SCHEMA_NAMES: dict[type[BaseModel], str] = {
    Case: "case.schema.json",
    Failure: "failure.schema.json",
    Taxonomy: "taxonomy.schema.json",
}


@dataclass(frozen=True)
class LoadedFailure:
    """A failure record and where it lives."""

    path: Path
    number: int
    """The NN of the file name: the failure's place within its case."""
    failure: Failure


@dataclass
class LoadedCase:
    """A case record, its folder and its failures in NN order."""

    path: Path
    case: Case
    failures: list[LoadedFailure] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.case.id


@dataclass
class KnowledgeBase:
    """Everything loaded from one knowledge base folder."""

    root: Path
    taxonomy: Taxonomy | None
    cases: list[LoadedCase]
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.error]

    def case(self, case_id: str) -> LoadedCase | None:
        return next((c for c in self.cases if c.id == case_id), None)


def read_record(path: Path, model: type[Any]) -> Any:
    """Read, parse and validate one record file; raise ``RecordError`` with every problem."""
    record, problems = load_record(path, model)
    if record is None:
        raise RecordError(problems[0])
    return record


def load_record(path: Path, model: type[Any]) -> tuple[Any | None, list[Problem]]:
    """Read, parse and validate one record file. Returns the record or its problems."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem.at(path, f"cannot read: {exc.strerror or exc}")]
    try:
        text = yamlio.decode(path, raw)
        data = yamlio.parse(path, text)
    except RecordError as exc:
        return None, [exc.problem]
    return validate(model, data, path=path, text=text)


def inside(root: Path, path: Path) -> bool:
    """True when ``path`` (symlinks resolved) stays inside ``root``."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def case_dirs(root: Path) -> list[Path]:
    """The case folders of a knowledge base, sorted (hidden folders are kb's own)."""
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def load_kb(root: Path | str, *, cases: list[str] | None = None) -> KnowledgeBase:
    """Load a knowledge base, raising ``InvalidKbError`` listing every error found."""
    kb = scan_kb(root, cases=cases)
    if kb.errors:
        raise InvalidKbError(kb.errors)
    return kb


def scan_kb(root: Path | str, *, cases: list[str] | None = None) -> KnowledgeBase:
    """Load what can be loaded and collect a problem for everything else (never raises)."""
    root = Path(root)
    if not root.is_dir():
        problem = Problem.at(root, "knowledge base folder not found" if not root.exists() else "not a folder")
        return KnowledgeBase(root, None, [], [problem])
    problems: list[Problem] = []
    taxonomy = _load_taxonomy(root, problems)
    wanted = set(cases) if cases is not None else None
    loaded: list[LoadedCase] = []
    for folder in case_dirs(root):
        if wanted is not None and folder.name not in wanted:
            continue
        case = _load_case(root, folder, problems)
        if case is not None:
            loaded.append(case)
    if wanted is not None:
        for missing in sorted(wanted - {c.path.name for c in loaded} - {Path(p.path).parent.name for p in problems}):
            problems.append(Problem.at(root / missing, f"no case `{missing}` in {root}"))
    return KnowledgeBase(root, taxonomy, loaded, problems)


def _load_taxonomy(root: Path, problems: list[Problem]) -> Taxonomy | None:
    path = root / TAXONOMY_FILE
    if not path.exists():
        return None
    taxonomy, found = load_record(path, Taxonomy)
    problems.extend(found)
    return taxonomy


def _load_case(root: Path, folder: Path, problems: list[Problem]) -> LoadedCase | None:
    if not inside(root, folder):
        problems.append(Problem.at(folder, "links outside the knowledge base; refusing to read it"))
        return None
    case_path = folder / CASE_FILE
    if not case_path.is_file():
        problems.append(Problem.at(folder, f"case folder without {CASE_FILE}"))
        return None
    case, found = load_record(case_path, Case)
    problems.extend(found)
    failures: list[LoadedFailure] = []
    for path in sorted(folder.iterdir()):
        if path.name == CASE_FILE or path.name.startswith("."):
            continue
        match = FAILURE_FILE.match(path.name)
        if not match or not path.is_file():
            problems.append(Problem.at(path, "unexpected entry: failure files are named `<NN>-<failure-id>.yaml`"))
            continue
        if not inside(root, path):
            problems.append(Problem.at(path, "links outside the knowledge base; refusing to read it"))
            continue
        failure, found = load_record(path, Failure)
        problems.extend(found)
        if failure is not None:
            failures.append(LoadedFailure(path, int(match["nn"]), failure))
    if case is None:
        return None
    failures.sort(key=lambda f: (f.number, f.path.name))
    return LoadedCase(folder, case, failures)


# -- writing ---------------------------------------------------------------------------


def record_data(record: BaseModel) -> dict[str, Any]:
    """A record as plain data in field order, leaving out what is empty or default."""
    return record.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


def dump_record(record: BaseModel) -> str:
    """The YAML text of a record, modeline first, keys in the schema's order."""
    return yamlio.dump(record_data(record), schema_name=SCHEMA_NAMES[type(record)])


def check_id(value: str, *, what: str) -> str:
    """Refuse ids that are not slugs (and so could name a path outside the KB)."""
    if not SLUG.match(value) or len(value) > 120:
        raise UnsafePathError(value, reason=f"{what} ids are lowercase letters, digits and hyphens (e.g. `pr7060`)")
    return value


def failure_file_name(number: int, failure_id: str) -> str:
    return f"{number:02d}-{check_id(failure_id, what='failure')}.yaml"


def save_record(path: Path, record: BaseModel) -> Path:
    """Write a record atomically (temp file + rename)."""
    write_text(path, dump_record(record))
    return path
