"""`kb check`: each rule, located diagnostics, and the guarantee that it never writes."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from kb.check import check_kb
from kb.errors import Severity
from tests.conftest import FAILURES

SEED = "pr7060"


def messages(root: Path, *, strict: bool = False) -> list[str]:
    return [str(p) for p in check_kb(root, strict=strict).problems]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_kb_is_clean() -> None:
    report = check_kb(FAILURES)
    assert report.ok, report.problems
    assert report.cases >= 1 and report.failures >= 3


def test_schema_error_points_at_the_key(kb_copy: Path) -> None:
    path = kb_copy / SEED / "01-aws-config-account-level-resource-violation.yaml"
    text = path.read_text().replace("impact: critical", "impact: catastrophic")
    write(path, text)
    line = text.splitlines().index("impact: catastrophic") + 1
    assert messages(kb_copy) == [
        f"{path}:{line}:1: `impact`: Input should be 'critical', 'high', 'medium' or 'low'",
    ]


def test_nested_error_points_at_the_nested_key(kb_copy: Path) -> None:
    path = kb_copy / SEED / "02-missing-iam-permission-for-lambda-dlq.yaml"
    text = path.read_text().replace(
        "url: https://docs.aws.amazon.com/lambda", "url: javascript://docs.aws.amazon.com/lambda"
    )
    write(path, text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "javascript:" in ln)
    (problem,) = check_kb(kb_copy).problems
    assert (problem.line, problem.col) == (line, 3)
    assert "`docs[0].url`: URL scheme 'javascript' is not allowed" in problem.message


def test_unknown_key_suggests_the_closest(kb_copy: Path) -> None:
    path = write(kb_copy / SEED / "04-typo.yaml", "id: typo\ntitle: T\nrot_cause: x\n")
    assert messages(kb_copy) == [f"{path}:3:1: unknown key `rot_cause` (did you mean `root_cause`?)"]


def test_missing_required_key(kb_copy: Path) -> None:
    path = write(kb_copy / SEED / "04-no-title.yaml", "id: no-title\nimpact: low\n")
    assert messages(kb_copy) == [f"{path}:1:1: missing required key `title`"]


def test_id_must_match_file_and_folder(kb_copy: Path) -> None:
    path = write(kb_copy / SEED / "04-right-name.yaml", "title: T\nid: wrong-name\n")
    case = kb_copy / SEED / "case.yaml"
    write(case, case.read_text().replace("id: pr7060", "id: pr7061"))
    assert messages(kb_copy) == [
        f"{path}:2:1: failure id `wrong-name` does not match its file name (`right-name`)",
        f"{case}:3:1: case id `pr7061` does not match its folder `pr7060`",
    ]


def test_duplicate_ids_and_numbers(kb_copy: Path) -> None:
    folder = kb_copy / SEED
    source = folder / "03-unused-variable-assignments.yaml"
    dup_number = folder / "03-other.yaml"
    write(dup_number, "id: other\ntitle: Other\n")
    twin = folder / "04-unused-variable-assignments.yaml"
    shutil.copy(source, twin)
    found = messages(kb_copy)
    assert f"{source}:1:1: duplicate number 03 in case (also {dup_number.name})" in found
    assert any(m.startswith(str(twin)) and "duplicate failure id `unused-variable-assignments`" in m for m in found)


def test_category_must_be_in_taxonomy(kb_copy: Path) -> None:
    path = write(kb_copy / SEED / "04-cat.yaml", "id: cat\ntitle: T\ncategory: no-such-category\n")
    assert messages(kb_copy) == [f"{path}:3:1: unknown category `no-such-category`; see taxonomy.yaml"]


def test_drafts_warn_and_fail_when_strict(kb_copy: Path) -> None:
    path = write(kb_copy / SEED / "04-draft.yaml", "id: draft\ntitle: T\nstatus: draft\n")
    report = check_kb(kb_copy)
    assert report.ok
    assert [(p.line, p.severity) for p in report.problems] == [(3, Severity.warning)]
    strict = check_kb(kb_copy, strict=True)
    assert not strict.ok
    assert str(strict.errors[0]) == f"{path}:3:1: draft: complete it and set `status: published`"


def test_written_totals_compared_with_records(kb_copy: Path) -> None:
    case = kb_copy / SEED / "case.yaml"
    write(case, case.read_text().replace("summary:\n", "summary:\n  written_totals: 4 (3 Critical, 1 High)\n"))
    (problem,) = check_kb(kb_copy).problems
    assert problem.severity is Severity.warning
    assert "total 4 written, 3 recorded" in problem.message
    assert "3 Critical written, 2 recorded" in problem.message


def test_unexpected_entries_and_folders(kb_copy: Path) -> None:
    (kb_copy / "empty-case").mkdir()
    write(kb_copy / SEED / "notes.txt", "x")
    found = messages(kb_copy)
    assert f"{kb_copy / 'empty-case'}:1:1: case folder without case.yaml" in found
    assert any(m.startswith(f"{kb_copy / SEED / 'notes.txt'}:1:1: unexpected entry") for m in found)


def test_missing_kb_folder(tmp_path: Path) -> None:
    assert messages(tmp_path / "nope") == [f"{tmp_path / 'nope'}:1:1: knowledge base folder not found"]


def test_check_never_writes(kb_copy: Path) -> None:
    write(kb_copy / SEED / "04-bad.yaml", "id: [unclosed\n")

    def snapshot() -> dict[str, str]:
        return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(kb_copy.rglob("*")) if p.is_file()}

    before = snapshot()
    check_kb(kb_copy, strict=True)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"id: x\ntitle: 'unclosed\n", "invalid YAML: while scanning a quoted scalar"),
        (b"id: x\n\ttitle: tab\n", "invalid YAML"),
        (b"- a list\n- not a mapping\n", "expected a mapping of keys to values, found a list"),
        (b"", "expected a mapping of keys to values, found an empty file"),
        (b"id: x\ntitle: caf\xe9\n", "not valid UTF-8 (byte 0xe9)"),
        (b"a: &a [1, 2]\nb: [*a, *a]\n", "YAML aliases (*name) are not allowed"),
    ],
)
def test_broken_files_get_one_clean_line(kb_copy: Path, content: bytes, expected: str) -> None:
    path = kb_copy / SEED / "04-broken.yaml"
    path.write_bytes(content)
    (problem,) = check_kb(kb_copy).problems
    assert problem.path == str(path)
    assert expected in problem.message


def test_bom_and_crlf_accepted(kb_copy: Path) -> None:
    path = kb_copy / SEED / "03-unused-variable-assignments.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert check_kb(kb_copy).problems == []
