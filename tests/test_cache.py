"""The record cache: unchanged files are not read, let alone parsed; any change is seen; the
cache is data (a planted pickle never runs, a tampered entry is rebuilt) in a private folder."""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import kb.store
from kb import cache, fileindex
from kb.check import check_kb
from kb.render.report import render_reports
from kb.store import load_kb
from tests.conftest import ROOT

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
    cache_file.write_bytes(b"not a database" * 100)
    assert check_kb(kb_copy).ok
    assert _tables(cache_file) >= {"blobs", "payloads", "results"}  # discarded and rebuilt


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _age(kb_root: Path) -> None:
    """Make every record file and folder an hour old, so no cache entry of them is racy."""
    old = time.time_ns() - 3600 * 10**9
    for path in [*kb_root.rglob("*.yaml"), *(p for p in kb_root.iterdir() if p.is_dir())]:
        os.utime(path, ns=(old, old))


def test_files_added_to_or_removed_from_a_listed_folder_are_seen(kb_copy: Path) -> None:
    """Case folders are not listed again while their stat is unchanged; adding or removing a file changes it."""
    _age(kb_copy)
    assert check_kb(kb_copy).failures == 3
    assert check_kb(kb_copy).failures == 3  # from the cached listing
    path = kb_copy / SEED / FAILURE
    (kb_copy / SEED / "04-unused-variable-assignments.yaml").write_text(path.read_text())
    report = check_kb(kb_copy)
    assert report.failures == 4 and ["duplicate failure id" in p.message for p in report.errors] == [True]
    path.unlink()
    (kb_copy / SEED / "04-unused-variable-assignments.yaml").unlink()
    assert check_kb(kb_copy).failures == 2
    (kb_copy / SEED / "stray.txt").write_text("x")
    assert ["unexpected entry" in p.message for p in check_kb(kb_copy).errors] == [True]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files whose bytes were read to hash them (their stat did not settle it)."""
    calls: list[str] = []
    real = kb.store._read_digest

    def counting(path: str) -> bytes | None:
        calls.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(kb.store, "_read_digest", counting)
    return calls


def test_unchanged_files_are_not_even_read(kb_copy: Path, parsed: list[str], reads: list[str]) -> None:
    _age(kb_copy)
    check_kb(kb_copy)
    parsed.clear()
    assert check_kb(kb_copy).ok
    assert (parsed, reads) == ([], [])


def test_touched_file_is_hashed_not_parsed(kb_copy: Path, parsed: list[str], reads: list[str]) -> None:
    _age(kb_copy)
    check_kb(kb_copy)
    parsed.clear()
    (kb_copy / SEED / FAILURE).touch()
    assert check_kb(kb_copy).ok
    assert (parsed, reads) == ([], [FAILURE])


def test_racy_entry_is_hashed_again_next_time(kb_copy: Path, parsed: list[str], reads: list[str]) -> None:
    """A file written in the same tick as its entry could change again without its stat
    changing: its entry is not trusted on stat alone until the file is older than the entry."""
    _age(kb_copy)
    path = kb_copy / SEED / FAILURE
    path.write_text(path.read_text())  # written now, then cached at once: racy
    check_kb(kb_copy)
    parsed.clear()
    check_kb(kb_copy)
    assert (parsed, reads) == ([], [FAILURE])


def test_same_size_edit_with_mtime_restored_is_seen_without_reading_unchanged_files(
    kb_copy: Path, parsed: list[str], reads: list[str]
) -> None:
    _age(kb_copy)
    check_kb(kb_copy)
    parsed.clear()
    path = kb_copy / SEED / FAILURE
    before = path.stat()
    path.write_text(path.read_text().replace("impact: high", "impact: hugh"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_mtime_ns == before.st_mtime_ns and path.stat().st_size == before.st_size
    assert [p.line for p in check_kb(kb_copy).errors] == [5]  # the ctime told
    assert (parsed, reads) == ([FAILURE], [FAILURE])


def test_file_renamed_over_another_of_same_size_and_mtime_is_seen(kb_copy: Path, parsed: list[str]) -> None:
    """A file moved over a record, with the record's size and mtime: the inode (and ctime) tell."""
    _age(kb_copy)
    path = kb_copy / SEED / FAILURE
    check_kb(kb_copy)
    parsed.clear()
    spare = kb_copy.parent / "spare.yaml"
    spare.write_text(path.read_text().replace("impact: high", "impact: hugh"))
    before = path.stat()
    os.utime(spare, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(spare, path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert [p.line for p in check_kb(kb_copy).errors] == [5]
    assert parsed == [FAILURE]


def test_renamed_case_folder_is_seen(kb_copy: Path) -> None:
    check_kb(kb_copy)
    (kb_copy / SEED).rename(kb_copy / "renamed")
    report = check_kb(kb_copy)
    assert ["does not match its folder `renamed`" in p.message for p in report.errors] == [True]
    assert report.errors[0].path == str(kb_copy / "renamed" / "case.yaml")


def test_planted_pickle_never_runs(kb_copy: Path, private_cache: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    payload = pickle.dumps(Exploit())
    (private_cache / cache.cache_file(kb_copy).name).write_bytes(payload)
    (private_cache / cache.cache_file(kb_copy, "records").with_suffix(".pickle").name).write_bytes(payload)
    assert check_kb(kb_copy).ok
    assert load_kb(kb_copy).case(SEED) is not None
    assert not marker.exists()
    assert [p.suffix for p in private_cache.iterdir()] == [".sqlite"]  # the old-style pickle is removed


def test_tampered_record_entry_is_ignored_and_rebuilt(kb_copy: Path, parsed: list[str], tmp_path: Path) -> None:
    """A same-length edit inside a cached record must not reach a report."""
    out = tmp_path / "reports"
    render_reports(kb_copy, out)
    title = load_kb(kb_copy).case(SEED).failures[0].failure.title  # type: ignore[union-attr]
    forged = "X" * len(title)
    with sqlite3.connect(cache.cache_file(kb_copy)) as db:
        db.execute("UPDATE payloads SET payload = replace(payload, ?, ?)", (title, forged))
        db.execute("UPDATE results SET value = replace(value, 'render', 'rendxr')")
    (out / SEED / "MODEL_FAILURES.md").unlink()
    parsed.clear()
    assert load_kb(kb_copy).case(SEED).failures[0].failure.title == title  # type: ignore[union-attr]
    assert "01-aws-config-account-level-resource-violation.yaml" in parsed  # rebuilt from the file
    render_reports(kb_copy, out)
    text = (out / SEED / "MODEL_FAILURES.md").read_text()
    assert title in text and forged not in text


def test_tampered_check_findings_are_recomputed(kb_copy: Path) -> None:
    path = kb_copy / SEED / FAILURE
    path.write_text(path.read_text().replace("impact: high", "impact: hugh"))
    assert len(check_kb(kb_copy).errors) == 1
    with sqlite3.connect(cache.cache_file(kb_copy)) as db:  # the error's entry: problems gone, valid
        (body,) = db.execute("SELECT body FROM blobs WHERE name = 'files'").fetchone()
        index = fileindex.unpack(body)
        forged = {key: known._replace(problems_json="[]", valid=True) for key, known in index.items()}
        db.execute("UPDATE blobs SET body = ? WHERE name = 'files'", (fileindex.pack(forged),))
    assert len(check_kb(kb_copy).errors) == 1


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o757])
def test_cache_folder_others_can_write_is_not_used(
    kb_copy: Path, private_cache: Path, parsed: list[str], mode: int
) -> None:
    private_cache.chmod(mode)
    with pytest.warns(cache.CacheWarning, match="writable by group or others"):
        assert check_kb(kb_copy).ok
    assert list(private_cache.iterdir()) == []
    parsed.clear()
    with pytest.warns(cache.CacheWarning):
        check_kb(kb_copy)
    assert len(parsed) == 5  # nothing was cached


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_cache_folder_of_another_user_is_not_used(kb_copy: Path, private_cache: Path) -> None:
    os.chown(private_cache, 4242, -1)
    with pytest.warns(cache.CacheWarning, match="belongs to another user"):
        assert check_kb(kb_copy).ok
    assert list(private_cache.iterdir()) == []


def test_new_cache_folder_is_private(kb_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "fresh" / "kb"
    monkeypatch.setenv("KB_CACHE_DIR", str(folder))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_kb(kb_copy).ok
    assert folder.stat().st_mode & 0o777 == 0o700


def test_concurrent_runs_share_the_cache(kb_copy: Path, private_cache: Path) -> None:
    """Runs at once on one cache (cold, then changing files) all succeed and leave it sound."""
    env = {**os.environ, "KB_CACHE_DIR": str(private_cache), "PYTHONPATH": str(ROOT)}
    code = "import sys; from kb.check import check_kb; sys.exit(0 if check_kb(sys.argv[1]).ok else 3)"
    for round_ in range(3):
        procs = [subprocess.Popen([sys.executable, "-c", code, str(kb_copy)], env=env) for _ in range(4)]
        path = kb_copy / SEED / FAILURE
        path.write_text(path.read_text() + f"# round {round_}\n")
        assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    with sqlite3.connect(cache.cache_file(kb_copy)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
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
