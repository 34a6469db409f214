"""The similarity index kept up to date: what an edit, an added file or a broken file costs,
and that the index it gives is the one a fresh build gives."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from kb.recurring import index as index_module
from kb.recurring.index import Index, index_path, load_index
from kb.recurring.similar import find_similar
from tests.recurring_kb import KMS_LOGS, TAGS, UNUSED, small_kb, with_id, write_case

QUERY = "alpha/kms-key-policy-misses-logs-principal"


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    return small_kb(tmp_path / "kb")


@pytest.fixture
def read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The failure files read from now on."""
    files: list[str] = []
    real = index_module.make_row

    def counting(item: index_module.Found):  # type: ignore[no-untyped-def]
        files.append(item.rel)
        return real(item)

    monkeypatch.setattr(index_module, "make_row", counting)
    return files


def fresh(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Index:
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}"))
    built = load_index(kb)
    monkeypatch.delenv("KB_CACHE_DIR")
    return built


def assert_same(updated: Index, built: Index) -> None:
    assert dict(updated.columns) == dict(built.columns)
    assert updated.cases.keys() == built.cases.keys()
    assert updated.terms == built.terms
    assert all(np.array_equal(a, b) for a, b in zip(updated.counts, built.counts, strict=True))
    assert np.array_equal(updated.signatures, built.signatures)
    assert updated.copy_of == built.copy_of
    assert np.array_equal(updated.case_numbers, built.case_numbers)
    assert np.array_equal(updated.groups, built.groups)


def edit(path: Path, old: str, new: str) -> None:
    """An edit in place (the folder's listing, so its mtime, unchanged)."""
    folder_mtime = path.parent.stat().st_mtime_ns
    text = path.read_text()
    assert old in text
    with open(path, "r+", encoding="utf-8") as handle:
        handle.write(text.replace(old, new))
        handle.truncate()
    assert path.parent.stat().st_mtime_ns == folder_mtime


def test_an_edit_in_place_reads_one_file_and_gives_what_a_fresh_build_gives(
    kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: list[str]
) -> None:
    load_index(kb)
    read.clear()
    path = kb / "charlie" / "01-bucket-versioning-not-enabled.yaml"
    edit(path, "bucket versioning not enabled", "KMS key policy blocks CloudWatch Logs zzyzxnewterm")
    before = find_similar(kb, QUERY, n=5).to_json()
    assert read == ["charlie/01-bucket-versioning-not-enabled.yaml"]
    assert "charlie/bucket-versioning-not-enabled" in [m["id"] for m in before["results"]]
    updated = load_index(kb)
    assert read == ["charlie/01-bucket-versioning-not-enabled.yaml"]  # stored: not read again
    assert "zzyzxnewterm" in updated.terms
    assert_same(updated, fresh(kb, tmp_path, monkeypatch))
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "fresh-again"))
    assert find_similar(kb, QUERY, n=5).to_json() == before


def test_an_edit_that_drops_a_term_drops_its_column(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_case(kb, "golf", [with_id(KMS_LOGS, "rare", title="KMS key policy quuxwordonly")])
    assert "quuxwordonly" in load_index(kb).terms
    edit(kb / "golf" / "01-rare.yaml", "quuxwordonly", "again")
    updated = load_index(kb)
    assert "quuxwordonly" not in updated.terms
    assert_same(load_index(kb), fresh(kb, tmp_path, monkeypatch))


def test_a_file_added_to_a_known_folder_is_found(kb: Path, read: list[str]) -> None:
    load_index(kb)
    read.clear()
    (kb / "charlie" / "02-kms-again.yaml").write_text(
        (kb / "alpha" / "01-kms-key-policy-misses-logs-principal.yaml")
        .read_text()
        .replace("id: kms-key-policy-misses-logs-principal", "id: kms-again")
    )
    assert "charlie/kms-again" in load_index(kb).positions
    assert read == ["charlie/02-kms-again.yaml"]
    (kb / "charlie" / "02-kms-again.yaml").unlink()
    assert "charlie/kms-again" not in load_index(kb).positions


def test_a_file_that_is_not_a_record_is_not_read_again_until_it_changes(kb: Path, read: list[str]) -> None:
    broken = kb / "charlie" / "02-broken.yaml"
    broken.write_text("id: [unclosed\n")
    load_index(kb)
    assert "charlie/02-broken.yaml" in read
    load_index(kb)
    read.clear()
    stored = index_path(kb).stat().st_mtime_ns
    load_index(kb)
    assert read == []
    assert index_path(kb).stat().st_mtime_ns == stored  # nothing changed, nothing written
    edit(broken, "id: [unclosed", "id: fixed\ntitle: KMS key policy misses the logs principal")
    assert "charlie/fixed" in load_index(kb).positions
    assert read == ["charlie/02-broken.yaml"]


def test_a_damaged_or_truncated_index_is_a_cold_cache(kb: Path) -> None:
    built = load_index(kb)
    whole = index_path(kb).read_bytes()
    for damaged in (b"", whole[: len(whole) // 2], b"x" * len(whole)):
        index_path(kb).write_bytes(damaged)
        assert [r.id for r in load_index(kb).rows] == [r.id for r in built.rows]
    os.utime(index_path(kb), ns=(1, 1))
    assert index_path(kb).read_bytes() == whole  # rebuilt the same, byte for byte


@pytest.mark.parametrize(
    "text",
    [
        "id: a\ntitle: 12\nn: ~\nq: 'null'\nyes_: yes\nno_: Off\nlist: [1, '2', null]\ncreated: 2024-05-01\n",
        "id: a\ntitle: !!str null\nblock: |\n  two\n  lines\nfolded: >\n  one\n  line\n",
        "{id: a, id: b, m: {k: [x, {y: z}]}}\n",
        "---\nid: a\n...\n",
    ],
)
def test_records_are_read_with_the_types_kb_check_reads(text: str) -> None:
    assert index_module._parse(text.encode()) == yaml.load(text, Loader=yaml.CSafeLoader)


@pytest.mark.parametrize(
    "text",
    [
        "",  # nothing
        "---\n",  # an empty document
        "- id: a\n",  # not a mapping
        "id: a\n---\nid: b\n",  # two documents
        "id: a\nservices: &s [S3]\nagain: *s\n",  # a shared list (refused by kb check)
        "id: a\ntitle: *nowhere\n",  # an undefined alias
        "id: [a\n",  # broken
        "? [a]\n: b\n",  # a key that is not text
        "id: \xff\n",
    ],
)
def test_a_file_that_is_not_one_records_mapping_is_left_out(text: str) -> None:
    raw = text.encode("latin-1") if "\xff" in text else text.encode()
    assert index_module._parse(raw) is None


def rewrite(path: Path, text: str) -> None:
    """A file's whole text replaced in place (its folder's listing unchanged)."""
    folder_mtime = path.parent.stat().st_mtime_ns
    with open(path, "r+", encoding="utf-8") as handle:
        handle.write(text)
        handle.truncate()
    os.utime(path.parent, ns=(folder_mtime, folder_mtime))


def test_an_edit_that_makes_a_near_copy_regroups_the_cases(
    kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_case(kb, "golf", [with_id(UNUSED, "kms-x"), TAGS])
    assert "golf" not in load_index(kb).copy_of
    alpha_kms = next((kb / "alpha").glob("01-*.yaml")).read_text().split("\n")
    as_golfs = [("id: kms-x" if line.startswith("id: ") else line) for line in alpha_kms]
    rewrite(kb / "golf" / "01-kms-x.yaml", "\n".join(as_golfs))  # alpha's text: golf is alpha again
    updated = load_index(kb)
    assert updated.copy_of.get("golf") == "alpha"
    assert_same(updated, fresh(kb, tmp_path, monkeypatch))


def test_a_stated_duplicate_regroups_the_cases(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "delta" not in load_index(kb).copy_of
    case_file = kb / "delta" / "case.yaml"
    rewrite(case_file, case_file.read_text() + "duplicate_of: bravo\n")
    updated = load_index(kb)
    assert updated.copy_of.get("delta") == "bravo"
    assert_same(updated, fresh(kb, tmp_path, monkeypatch))


def test_an_edit_that_leaves_its_cases_text_signature_keeps_the_groups(
    kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kb.recurring import copies

    load_index(kb)
    grouped: list[int] = []
    real = copies.copy_groups

    def counting(*args: Any) -> dict[str, str]:
        grouped.append(1)
        return real(*args)

    monkeypatch.setattr(copies, "copy_groups", counting)
    edit(kb / "alpha" / "01-kms-key-policy-misses-logs-principal.yaml", "impact: critical", "impact: high")
    updated = load_index(kb)
    assert updated.row(updated.positions[QUERY]).impact == "high"
    assert grouped == []  # words unchanged: the groups are the old ones, not computed again
    assert_same(updated, fresh(kb, tmp_path, monkeypatch))
    assert grouped == [1]
