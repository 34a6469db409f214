"""The record cache: unchanged files are not parsed again; any change is seen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import kb.store
from kb import cache
from kb.check import check_kb

SEED = "pr7060"
FAILURE = "03-unused-variable-assignments.yaml"


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files parsed from bytes (not served by the cache)."""
    calls: list[str] = []
    real = kb.store.parse_record

    def counting(path: Path, raw: bytes, model: type) -> tuple[object, list[object]]:
        calls.append(path.name)
        return real(path, raw, model)

    monkeypatch.setattr(kb.store, "parse_record", counting)
    return calls


def test_unchanged_kb_is_not_parsed_again(kb_copy: Path, parsed: list[str]) -> None:
    first = check_kb(kb_copy)
    assert sorted(parsed) == sorted(p.name for p in kb_copy.rglob("*.yaml"))
    parsed.clear()
    second = check_kb(kb_copy)
    assert parsed == []
    assert second == first


def test_changed_file_is_parsed_again(kb_copy: Path, parsed: list[str]) -> None:
    check_kb(kb_copy)
    parsed.clear()
    path = kb_copy / SEED / FAILURE
    path.write_text(path.read_text().replace("impact: high", "impact: extreme"))
    report = check_kb(kb_copy)
    assert parsed == [FAILURE]
    assert [p.line for p in report.errors] == [5]


def test_same_size_and_mtime_but_new_bytes_is_seen(kb_copy: Path, parsed: list[str]) -> None:
    check_kb(kb_copy)
    parsed.clear()
    path = kb_copy / SEED / FAILURE
    stat = path.stat()
    text = path.read_text()
    path.write_text(text.replace("impact: high", "impact: hugh"))  # same length
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert check_kb(kb_copy).errors
    assert parsed == [FAILURE]


def test_taxonomy_change_is_seen_without_reparsing_failures(kb_copy: Path, parsed: list[str]) -> None:
    assert check_kb(kb_copy).ok
    parsed.clear()
    taxonomy = kb_copy / "taxonomy.yaml"
    taxonomy.write_text(taxonomy.read_text().replace("- id: code-quality", "- id: code-style"))
    report = check_kb(kb_copy)
    assert parsed == ["taxonomy.yaml"]
    assert ["unknown category `code-quality`" in p.message for p in report.errors] == [True]


def test_deleted_file_is_forgotten(kb_copy: Path) -> None:
    assert check_kb(kb_copy).failures == 3
    (kb_copy / SEED / FAILURE).unlink()
    assert check_kb(kb_copy).failures == 2


def test_new_kb_version_drops_the_cache(kb_copy: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    check_kb(kb_copy)
    parsed.clear()
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "another version")
    check_kb(kb_copy)
    assert len(parsed) == 5


def test_corrupt_cache_is_a_cold_cache(kb_copy: Path, private_cache: Path) -> None:
    check_kb(kb_copy)
    (cache_file,) = private_cache.iterdir()
    cache_file.write_bytes(b"not a pickle")
    assert check_kb(kb_copy).ok


def test_unwritable_cache_dir_is_not_an_error(kb_copy: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("KB_CACHE_DIR", str(blocker / "sub"))
    assert check_kb(kb_copy).ok


def test_cache_lives_outside_the_kb(kb_copy: Path, private_cache: Path) -> None:
    check_kb(kb_copy)
    assert [p.name for p in kb_copy.iterdir() if p.name.startswith(".")] == []
    assert len(list(private_cache.iterdir())) == 1


def test_changed_example_is_seen_with_a_warm_cache(kb_copy: Path, parsed: list[str]) -> None:
    assert check_kb(kb_copy).ok
    parsed.clear()
    example = kb_copy.parent / "examples" / "pulumi" / "compliance" / "compliance.py"
    example.write_text(example.read_text().replace("def lambda_policy_document(", "def policy_document("))
    report = check_kb(kb_copy)
    assert parsed == []
    assert ["defines no `lambda_policy_document`" in p.message for p in report.errors] == [True]
