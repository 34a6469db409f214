"""Incremental `kb render`: a case is rendered again only when something it is made from
changed, and the reports are always byte-identical to a clean build."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import kb.render.report
from kb.cache import cache_dir
from kb.errors import InvalidKbError
from kb.render.env import builtin_templates_dir
from kb.render.report import REPORT_FILE, render_reports
from kb.stats import compute_stats, crosstab
from kb.store import load_kb
from tests.conftest import FAILURES

SEED = "pr7060"


@pytest.fixture
def two_cases(kb_copy: Path) -> Path:
    """The seed KB with a second case (a copy of the seed under another id)."""
    other = kb_copy / "pr7061"
    shutil.copytree(kb_copy / SEED, other)
    case = other / "case.yaml"
    case.write_text(case.read_text().replace("id: pr7060", "id: pr7061"))
    return kb_copy


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the cases rendered from their records (not known to be up to date)."""
    calls: list[str] = []
    real = kb.render.report.render_case

    def counting(case: kb.store.LoadedCase, *args: object, **kwargs: object) -> str:
        calls.append(case.id)
        return real(case, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(kb.render.report, "render_case", counting)
    return calls


def clean_build(kb_root: Path, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The reports of a build from scratch: an empty cache, an empty output folder."""
    with monkeypatch.context() as m:
        m.setenv("KB_CACHE_DIR", str(tmp_path / "clean-cache"))
        shutil.rmtree(tmp_path / "clean-cache", ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
        render_reports(kb_root, out)
    return reports(out)


def reports(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob(REPORT_FILE))}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_nothing_changed_renders_nothing_and_writes_nothing(
    two_cases: Path, tmp_path: Path, rendered: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    first = render_reports(two_cases, out)
    assert len(first.created) == 2 and rendered == [SEED, "pr7061"]
    rendered.clear()
    writes: list[Path] = []
    monkeypatch.setattr(kb.render.report, "_write", lambda path, data: writes.append(path))
    again = render_reports(two_cases, out)
    assert (rendered, writes, again.changed) == ([], [], [])
    assert len(again.unchanged) == 2


def test_one_edited_record_renders_that_case_only(
    two_cases: Path, tmp_path: Path, rendered: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    render_reports(two_cases, out)
    rendered.clear()
    edit(two_cases / "pr7061" / "02-missing-iam-permission-for-lambda-dlq.yaml", "title: ", "title: Edited ")
    result = render_reports(two_cases, out)
    assert rendered == ["pr7061"]
    assert result.changed == [out / "pr7061" / REPORT_FILE]
    assert "Edited " in (out / "pr7061" / REPORT_FILE).read_text()
    assert reports(out) == clean_build(two_cases, tmp_path / "clean", tmp_path, monkeypatch)


@pytest.mark.parametrize("change", ["template", "taxonomy", "example"])
def test_a_changed_input_of_every_case_is_seen(
    change: str, two_cases: Path, tmp_path: Path, rendered: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    project = two_cases.parent
    render_reports(two_cases, out)
    rendered.clear()
    if change == "template":
        ours = project / "templates" / "report" / "MODEL_FAILURES.md.j2"
        ours.parent.mkdir(parents=True)
        shutil.copy(builtin_templates_dir() / "report" / "MODEL_FAILURES.md.j2", ours)
        edit(ours, "# ", "# Our ")
    elif change == "taxonomy":
        edit(two_cases / "taxonomy.yaml", "title: ", "title: Renamed ")
    else:  # three lines above the symbol a reference links to: its `#L` anchor moves
        example = project / "examples" / "pulumi" / "compliance" / "compliance.py"
        example.write_text("# one\n# two\n# three\n" + example.read_text())
    render_reports(two_cases, out)
    assert sorted(rendered) == [SEED, "pr7061"]
    assert reports(out) == clean_build(two_cases, tmp_path / "clean", tmp_path, monkeypatch)


def test_a_report_edited_or_deleted_by_hand_is_rendered_again(two_cases: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    render_reports(two_cases, out)
    good = (out / SEED / REPORT_FILE).read_bytes()
    (out / SEED / REPORT_FILE).write_bytes(good.replace(b"Critical", b"Crxtical"))  # same size
    (out / "pr7061" / REPORT_FILE).unlink()
    check = render_reports(two_cases, out, check=True)
    assert check.updated == [out / SEED / REPORT_FILE] and check.created == [out / "pr7061" / REPORT_FILE]
    render_reports(two_cases, out)
    assert (out / SEED / REPORT_FILE).read_bytes() == good
    assert (out / "pr7061" / REPORT_FILE).exists()


def test_render_check_of_an_unchanged_kb_is_up_to_date(kb_copy: Path, tmp_path: Path, rendered: list[str]) -> None:
    out = tmp_path / "reports"
    render_reports(kb_copy, out)
    rendered.clear()
    result = render_reports(kb_copy, out, check=True)
    assert (result.changed, rendered) == ([], [])
    assert result.unchanged == [out / SEED / REPORT_FILE]


def test_output_is_the_same_without_a_cache(kb_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "reports"
    render_reports(kb_copy, out)
    cached = reports(out)
    shutil.rmtree(out)
    cache_dir().chmod(0o777)  # an unsafe folder: the cache is not used at all
    with pytest.warns(UserWarning):
        render_reports(kb_copy, out)
    assert reports(out) == cached


def test_stats_from_slim_records_equal_stats_from_full_ones() -> None:
    full, slim = load_kb(FAILURES), load_kb(FAILURES, slim=True)
    assert compute_stats(slim).as_dict(details=True) == compute_stats(full).as_dict(details=True)
    assert crosstab(slim, "impact", "service").as_dict() == crosstab(full, "impact", "service").as_dict()


def test_cold_build_in_worker_processes_equals_one_in_process(
    two_cases: Path, tmp_path: Path, rendered: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold build reads and renders cases in a process pool; same bytes, and its cache is warm after."""
    alone = clean_build(two_cases, tmp_path / "alone", tmp_path, monkeypatch)
    monkeypatch.setattr(kb.render.report, "POOL_MIN_CASES", 1)
    monkeypatch.setattr(kb.render.report.os, "cpu_count", lambda: 2)
    out = tmp_path / "pooled"
    assert len(render_reports(two_cases, out).created) == 2
    assert reports(out) == alone
    rendered.clear()
    assert render_reports(two_cases, out).changed == [] and rendered == []


def test_stats_of_an_unchanged_kb_come_from_the_cache_and_equal_fresh_ones(
    two_cases: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kb import stats

    fresh = stats.stats_report(two_cases, details=True)
    counted: list[int] = []
    real = stats._stats_report
    monkeypatch.setattr(stats, "_stats_report", lambda *a: counted.append(1) or real(*a))
    again = stats.stats_report(two_cases, details=True)
    assert (again, counted) == (fresh, [])
    assert stats.stats_report(two_cases, by=["impact", "service"]).data != fresh.data and counted == [1]
    edit(two_cases / "pr7061" / "02-missing-iam-permission-for-lambda-dlq.yaml", "impact: critical", "impact: low")
    changed = stats.stats_report(two_cases, details=True)
    assert counted == [1, 1] and changed.data["by_impact"] != fresh.data["by_impact"]


def test_a_cold_build_in_worker_processes_writes_nothing_for_a_kb_with_errors(
    two_cases: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cases are rendered before `kb check` runs on the same scan; its errors still stop every write."""
    monkeypatch.setattr(kb.render.report, "POOL_MIN_CASES", 1)
    monkeypatch.setattr(kb.render.report.os, "cpu_count", lambda: 2)
    edit(two_cases / "pr7061" / "case.yaml", "id: pr7061", "id: pr7062")  # does not match its folder
    with pytest.raises(InvalidKbError, match="does not match its folder"):
        render_reports(two_cases, tmp_path / "out")
    assert not (tmp_path / "out").exists()
