"""Incremental `kb check`: findings reused per case give the same report as checking from scratch,
whatever changed (a record, another case a link points to, the taxonomy, an example)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import kb.check
import kb.store
from kb.check import check_kb, check_rules
from kb.errors import Problem
from kb.store import scan_kb

SEED = "pr7060"
FAILURE = "03-unused-variable-assignments.yaml"


@pytest.fixture
def three_cases(kb_copy: Path) -> Path:
    """The seed KB and two copies of its case; the last copy links a failure of the first copy."""
    for name in ("copy-a", "copy-b"):
        shutil.copytree(kb_copy / SEED, kb_copy / name)
        case = kb_copy / name / "case.yaml"
        case.write_text(case.read_text().replace(f"id: {SEED}", f"id: {name}"))
    linking = kb_copy / "copy-b" / FAILURE
    linking.write_text(linking.read_text() + "related:\n- copy-a/unused-variable-assignments\n")
    return kb_copy


def from_scratch(root: Path, *, strict: bool = False) -> list[Problem]:
    """What `kb check` must say: every rule run on every record, no cache."""
    kb = scan_kb(root, use_cache=False, slim=True)
    return sorted([*kb.problems, *check_rules(kb, strict=strict)], key=lambda p: (p.path, p.line, p.col, p.message))


@pytest.fixture
def loaded_cases(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The case folders whose records were loaded to check them again."""
    calls: list[str] = []
    real = kb.store.Scan.load

    def counting(self: kb.store.Scan, folders: list[kb.store.CaseFolder] | None = None) -> kb.store.KnowledgeBase:
        calls.extend(f.path.name for f in (self.layout.cases if folders is None else folders))
        return real(self, folders)

    monkeypatch.setattr(kb.store.Scan, "load", counting)
    return calls


@pytest.fixture
def rechecked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The cases whose rules ran again (the others' findings were reused)."""
    calls: list[str] = []
    real = kb.check.case_rules

    def counting(case: kb.store.LoadedCase, context: kb.check.RuleContext) -> list[Problem]:
        calls.append(case.path.name)
        return real(case, context)

    monkeypatch.setattr(kb.check, "case_rules", counting)
    return calls


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_unchanged_kb_loads_no_record(three_cases: Path, loaded_cases: list[str]) -> None:
    first = check_kb(three_cases)
    loaded_cases.clear()
    assert check_kb(three_cases) == first
    assert loaded_cases == []
    assert first.problems == from_scratch(three_cases)


def test_one_edited_record_checks_its_case_only(three_cases: Path, rechecked: list[str]) -> None:
    check_kb(three_cases)
    rechecked.clear()
    edit(three_cases / "copy-a" / FAILURE, "impact: high", "impact: low")
    report = check_kb(three_cases)
    assert rechecked == ["copy-a"]
    assert report.problems == from_scratch(three_cases)


def test_removing_a_linked_failure_is_seen_by_the_unchanged_case_linking_it(
    three_cases: Path, rechecked: list[str]
) -> None:
    assert check_kb(three_cases).ok
    rechecked.clear()
    (three_cases / "copy-a" / FAILURE).unlink()
    report = check_kb(three_cases)
    assert sorted(rechecked) == ["copy-a", "copy-b"]  # copy-a changed; copy-b's link no longer resolves
    assert ["names no failure" in p.message for p in report.errors] == [True]
    assert report.problems == from_scratch(three_cases)


def test_taxonomy_change_checks_every_case_again(three_cases: Path, loaded_cases: list[str]) -> None:
    check_kb(three_cases)
    loaded_cases.clear()
    edit(three_cases / "taxonomy.yaml", "- id: code-quality", "- id: code-style")
    report = check_kb(three_cases)
    assert sorted(loaded_cases) == ["copy-a", "copy-b", SEED]
    assert report.problems == from_scratch(three_cases)
    assert len([p for p in report.errors if "unknown category" in p.message]) == 3


def test_example_change_checks_the_cases_referencing_it(three_cases: Path) -> None:
    assert check_kb(three_cases).ok
    example = three_cases.parent / "examples" / "pulumi" / "compliance" / "compliance.py"
    edit(example, "def lambda_policy_document(", "def policy_document(")
    report = check_kb(three_cases)
    assert report.problems == from_scratch(three_cases)
    assert len([p for p in report.errors if "defines no `lambda_policy_document`" in p.message]) == 3


def test_strict_and_lenient_findings_are_kept_apart(three_cases: Path) -> None:
    draft = three_cases / "copy-a" / FAILURE
    draft.write_text(draft.read_text() + "status: draft\n")
    for _ in range(2):
        assert check_kb(three_cases).ok
        assert not check_kb(three_cases, strict=True).ok
    assert check_kb(three_cases, strict=True).problems == from_scratch(three_cases, strict=True)


KEY_ID = "AKIA" + "Q7W3E9R2T5Y8U1I4"  # made up for these tests


def test_a_credential_is_found_when_its_file_is_read_and_kept_while_the_file_is_unchanged(
    three_cases: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = three_cases / "copy-a" / FAILURE
    edit(record, "impact: high", f"impact: high\n# the deploy key: {KEY_ID}")
    line = next(n for n, text in enumerate(record.read_text().splitlines(), 1) if KEY_ID in text)
    found = [(p.path, p.line) for p in check_kb(three_cases).errors if "credentials must not" in p.message]
    assert found == [(str(record), line)]
    scanned: list[str] = []
    real = kb.store.credentials_in
    monkeypatch.setattr(
        kb.store, "credentials_in", lambda path, text: scanned.append(Path(path).name) or real(path, text)
    )
    edit(three_cases / "copy-a" / "case.yaml", "title: ", "title: Edited ")  # the case is checked again
    again = [(p.path, p.line) for p in check_kb(three_cases).errors if "credentials must not" in p.message]
    assert (again, scanned) == (found, ["case.yaml"])  # the failure's file was not read again
    edit(record, f"# the deploy key: {KEY_ID}", "# the deploy key: in the vault")
    assert [p for p in check_kb(three_cases).errors if "credentials must not" in p.message] == []


# -- the rules of the whole KB, from each case's summary ------------------------------------------


def test_an_alias_edited_into_a_duplicate_loads_only_the_edited_case(
    three_cases: Path, loaded_cases: list[str]
) -> None:
    edit(three_cases / SEED / "case.yaml", f"id: {SEED}\n", f"id: {SEED}\naliases:\n- old-name\n")
    assert check_kb(three_cases).ok
    loaded_cases.clear()
    edit(three_cases / "copy-b" / "case.yaml", "id: copy-b\n", "id: copy-b\naliases:\n- old-name\n")
    report = check_kb(three_cases)
    assert loaded_cases == ["copy-b"]  # the seed's alias is known from its summary
    assert ["duplicate alias `old-name`" in p.message for p in report.errors] == [True]
    assert report.problems == from_scratch(three_cases)
    edit(three_cases / "copy-b" / "case.yaml", "- old-name\n", "- newer-name\n")
    assert check_kb(three_cases).problems == from_scratch(three_cases) == []


def test_a_successor_link_is_checked_against_the_summaries_of_unchanged_cases(
    three_cases: Path, loaded_cases: list[str]
) -> None:
    assert check_kb(three_cases).ok
    record = three_cases / "copy-a" / FAILURE
    edit(record, "impact: high", "impact: high\nsuperseded_by: copy-b/unused-variable-assignments")
    edit(three_cases / "copy-a" / "case.yaml", "id: copy-a\n", "id: copy-a\nsuperseded_by: pr7060\n")
    loaded_cases.clear()
    report = check_kb(three_cases)
    assert loaded_cases == ["copy-a"]
    assert report.problems == from_scratch(three_cases) == []
    (three_cases / "copy-b" / FAILURE).unlink()  # the successor goes: the unchanged copy-a's link dangles
    report = check_kb(three_cases)
    assert ["`superseded_by` names no failure" in p.message for p in report.errors] == [True]
    assert report.problems == from_scratch(three_cases)


def test_withdrawing_a_linked_failure_is_seen_by_the_unchanged_case_linking_it(
    three_cases: Path, loaded_cases: list[str]
) -> None:
    assert check_kb(three_cases).ok
    loaded_cases.clear()
    edit(
        three_cases / "copy-a" / FAILURE, "impact: high", "impact: high\nwithdrawn:\n  date: 2026-12-01\n  reason: No."
    )
    report = check_kb(three_cases)
    assert loaded_cases == ["copy-a"]  # copy-b's bare link is known from its summary
    assert ["links the withdrawn failure" in p.message for p in report.errors] == [True]
    assert report.problems == from_scratch(three_cases)
    edit(
        three_cases / "copy-b" / FAILURE,
        "- copy-a/unused-variable-assignments",
        "- ref: copy-a/unused-variable-assignments\n  note: Withdrawn.",
    )
    assert check_kb(three_cases).problems == from_scratch(three_cases) == []


def test_a_damaged_summary_is_rebuilt_from_the_records(three_cases: Path, loaded_cases: list[str]) -> None:
    from kb.cache import RecordCache

    first = check_kb(three_cases)
    with RecordCache.open(three_cases) as cache:
        stored = cache.results("case:False:")
        stored["case:False:pr7060"]["summary"] = ["not", "a", "summary"]
        cache.put_results(stored)
    edit(three_cases / "copy-a" / FAILURE, "impact: high", "impact: low")
    loaded_cases.clear()
    report = check_kb(three_cases)
    assert sorted(loaded_cases) == ["copy-a", SEED]
    assert report.problems == from_scratch(three_cases) == first.problems


def test_pooled_cold_check_checks_task_documents_in_the_pool(
    three_cases: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold check reading its records in a process pool checks the task documents there too:
    the same report as the serial check (a document that is not UTF-8, one that is a folder), and
    the rules read no document again in the main process."""
    (three_cases / "copy-a" / "PROMPT.md").write_bytes(b"ok\n\xff\n")
    (three_cases / "copy-b" / "MODEL_RESPONSE.md").mkdir()
    (three_cases / SEED / "IDEAL_RESPONSE.md").write_text("fine\n")
    expected = from_scratch(three_cases)
    assert any("not UTF-8" in p.message for p in expected) and any("not a regular" in p.message for p in expected)
    monkeypatch.setattr(kb.store, "POOL_MIN_FILES", 1)
    monkeypatch.setattr(kb.store.os, "cpu_count", lambda: 2)
    read: list[Path] = []
    real = kb.check.document_problem
    monkeypatch.setattr(kb.check, "document_problem", lambda path: read.append(path) or real(path))
    assert check_kb(three_cases).problems == expected
    assert read == []
