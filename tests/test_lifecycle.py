"""Records that live: aliases, links, dates and withdrawal in `kb check`, stats, export and reports."""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb.aliases import names_of
from kb.check import check_kb
from kb.cli import app
from kb.dates import fix_dates
from kb.export import export_dataset
from kb.models import SCHEMA_VERSION, Case, Failure, ReferenceType, RelatedLink, TypedLink, Withdrawn
from kb.render.env import make_env
from kb.render.report import render_case
from kb.stats import compute_stats
from kb.store import load_kb, read_record
from kb.upgrade import upgrade_kb
from tests.helpers import make_failure, write_kb

runner = CliRunner()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _case(kb: Path, case_id: str, extra: str = "") -> Path:
    return _write(kb / case_id / "case.yaml", f"schema_version: 2\nid: {case_id}\ntitle: Case {case_id}\n{extra}")


def _failure(kb: Path, case_id: str, nn: int, failure_id: str, extra: str = "") -> Path:
    text = f"schema_version: 2\nid: {failure_id}\ntitle: Failure {failure_id}\nimpact: high\n{extra}"
    return _write(kb / case_id / f"{nn:02d}-{failure_id}.yaml", text)


def _errors(kb: Path) -> list[str]:
    return [str(p) for p in check_kb(kb).errors]


def test_check_rejects_a_dangling_link_a_duplicate_alias_and_dates_out_of_order(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    _case(kb, "alpha", "aliases: [pr1]\n")
    _case(kb, "bravo", "aliases:\n  - pr1\n")
    one = _failure(kb, "alpha", 1, "one", "superseded_by: bravo/nope\npublished: 2026-02-01\nmodified: 2026-01-15\n")
    two = _failure(kb, "bravo", 1, "two", "aliases: [old]\nwithdrawn:\n  date: 2026-01-01\n  reason: A mistake.\n")
    _write(two, two.read_text() + "published: 2026-01-05\n")
    assert _errors(kb) == [
        f"{one}:5:1: `superseded_by` names no failure of the knowledge base: `bravo/nope`",
        f"{one}:7:1: `modified` 2026-01-15 is before `published` 2026-02-01",
        f"{two}:7:3: `withdrawn.date` 2026-01-01 is before `published` 2026-01-05",
        f"{kb / 'bravo' / 'case.yaml'}:5:5: duplicate alias `pr1` (also an alias in {kb / 'alpha' / 'case.yaml'})",
    ]


def test_an_alias_may_not_shadow_an_id_and_related_links_resolve_through_aliases(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    _case(kb, "alpha", "aliases: [bravo]\n")
    _case(kb, "bravo")
    one = _failure(kb, "alpha", 1, "one", "aliases: [two]\n")
    _failure(kb, "alpha", 2, "two")
    three = _failure(kb, "bravo", 1, "three", "related: [alpha/one, bravo/nothing, alpha/one]\n")
    assert _errors(kb) == [
        f"{one}:5:11: alias `two` shadows the id of the failure `alpha/two` ({kb / 'alpha' / '02-two.yaml'})",
        f"{kb / 'alpha' / 'case.yaml'}:4:11: alias `bravo` shadows the id of the case `bravo` ({kb / 'bravo' / 'case.yaml'})",
        f"{three}:5:22: `related` names no failure of the knowledge base: `bravo/nothing`",
        f"{three}:5:37: `related` links `alpha/one` twice (`alpha/one` and `alpha/one`)",
    ]


def test_linking_a_withdrawn_failure_needs_a_note(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    _case(kb, "alpha")
    _case(kb, "bravo")
    _failure(kb, "alpha", 1, "gone", "withdrawn: {date: 2026-01-01, reason: Not a failure after all.}\n")
    bare = _failure(kb, "bravo", 1, "bare", "related: [alpha/gone]\n")
    _failure(kb, "bravo", 2, "noted", "related:\n  - ref: alpha/gone\n    note: the same mistake, reported twice\n")
    assert _errors(kb) == [
        f"{bare}:5:11: `related` links the withdrawn failure `alpha/gone`: remove the link, or write it as {{ref, note}}"
    ]


def _renamed_kb(tmp_path: Path) -> Path:
    """A failure renamed from `old-name` to `new-name` (alias kept), and a link still using the old name."""
    kb = tmp_path / "kb"
    write_kb(
        kb,
        [
            (Case(id="alpha", title="Alpha", aliases=["pr100"]), [make_failure("new-name", aliases=["old-name"])]),
            (Case(id="bravo", title="Bravo"), [make_failure("other", related=["pr100/old-name"])]),
        ],
    )
    return kb


def test_renaming_a_failure_with_an_alias_keeps_links_reports_and_similar_working(tmp_path: Path) -> None:
    kb = _renamed_kb(tmp_path)
    assert check_kb(kb).errors == []
    names = names_of(load_kb(kb))
    assert names.resolve("alpha/old-name") == names.resolve("pr100/new-name") == "alpha/new-name"
    result = runner.invoke(app, ["similar", "pr100/old-name", "--kb", str(kb), "--format", "json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert [match["id"] for match in found["results"]] == ["bravo/other"]
    report = render_case(load_kb(kb).cases[0], make_env(None))
    assert "### 1. Title of new-name" in report


def _withdrawn_kb(tmp_path: Path) -> Path:
    kb = tmp_path / "kb"
    gone = Withdrawn(date=datetime.date(2026, 1, 2), reason="A duplicate of alpha/kept.")
    write_kb(
        kb,
        [
            (
                Case(id="alpha", title="Alpha"),
                [
                    make_failure("kept"),
                    make_failure("gone", withdrawn=gone, superseded_by="alpha/kept"),
                    make_failure("also-gone", withdrawn=gone),
                ],
            ),
            (Case(id="bravo", title="Bravo", withdrawn=gone), [make_failure("all-gone")]),
        ],
    )
    return kb


def test_withdrawn_records_leave_stats_exports_and_totals_but_stay_in_the_report(tmp_path: Path) -> None:
    kb = _withdrawn_kb(tmp_path)
    assert check_kb(kb).errors == []
    stats = compute_stats(load_kb(kb))
    assert (stats.cases, stats.failures, stats.withdrawn) == (1, 1, 3)
    result = export_dataset(kb, "sft", tmp_path / "out", license="mit", allow_no_task=True, min_lines=1)
    rows = [
        json.loads(line)
        for name in ("train", "validation", "test")
        for line in (tmp_path / "out" / f"{name}.jsonl").open()
    ]
    assert [row["id"] for row in rows] == ["alpha/kept"]
    assert result.skipped == {"withdrawn": 3}
    report = render_case(load_kb(kb).cases[0], make_env(None))
    assert "### 2." not in report
    bravo = render_case(load_kb(kb).cases[1], make_env(None))
    assert bravo.startswith(
        "# Bravo\n\n> **Withdrawn** on 2026-01-02: A duplicate of alpha/kept.\n\n## High Failures\n"
    )
    assert report.endswith(
        "## Withdrawn\n\n- ~~Title of gone~~ (`gone`), withdrawn on 2026-01-02: A duplicate of alpha/kept. "
        "Superseded by `alpha/kept`.\n"
        "- ~~Title of also-gone~~ (`also-gone`), withdrawn on 2026-01-02: A duplicate of alpha/kept.\n"
    )


def test_stats_since_counts_what_changed(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    write_kb(
        kb,
        [
            (
                Case(id="alpha", title="Alpha", published=datetime.date(2026, 1, 1)),
                [make_failure("old"), make_failure("new", modified=datetime.date(2026, 3, 1))],
            ),
            (Case(id="bravo", title="Bravo"), [make_failure("undated")]),
        ],
    )
    result = runner.invoke(app, ["stats", "--kb", str(kb), "--since", "2026-02-01", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["cases"], data["failures"]) == (1, 1)
    bad = runner.invoke(app, ["stats", "--kb", str(kb), "--since", "March"])
    assert bad.exit_code == 2
    assert "--since 'March': give a date as YYYY-MM-DD" in bad.output


def test_upgrade_adds_the_version_keeping_comments_and_rewrites_older_layouts(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    case = _write(kb / "alpha" / "case.yaml", "# my notes\nid: alpha  # keep me\ntitle: Alpha\n")
    legacy = _write(kb / "alpha" / "01-one.yaml", "id: one\ntitle: One\nnot_a_failure: true\n")
    assert check_kb(kb).outdated == 2
    noted = runner.invoke(app, ["check", "--kb", str(kb)])
    assert f"note: 2 record(s) in an older format; kb reads them, `kb upgrade --kb {kb}` rewrites them" in noted.output
    result = upgrade_kb(kb)
    assert (result.edited, result.rewritten) == ([case], [legacy])
    assert case.read_text() == f"# my notes\nschema_version: {SCHEMA_VERSION}\nid: alpha  # keep me\ntitle: Alpha\n"
    assert "kind: success" in legacy.read_text()
    assert (check_kb(kb).problems, check_kb(kb).outdated) == ([], 0)
    assert upgrade_kb(kb).current == 2


def test_a_newer_schema_version_is_refused(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    case = _write(kb / "alpha" / "case.yaml", "schema_version: 99\nid: alpha\ntitle: Alpha\n")
    assert _errors(kb) == [
        f"{case}:1:1: `schema_version`: schema version 99 is newer than this kb reads ({SCHEMA_VERSION}): upgrade kb"
    ]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_fix_dates_dates_what_changed_since_the_last_commit(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    case = _case(kb, "alpha", "published: 2026-01-01  # first\n")
    same = _failure(kb, "alpha", 1, "same", "published: 2026-01-01\n")
    edited = _failure(kb, "alpha", 2, "edited", "published: 2026-01-01\n")
    undated = _failure(kb, "alpha", 4, "undated")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "x", "--allow-empty")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "records")
    edited.write_text(edited.read_text().replace("impact: high", "impact: low"))
    new = _failure(kb, "alpha", 3, "new")
    renamed = undated.rename(undated.with_name("04-renamed.yaml"))
    renamed.write_text(renamed.read_text().replace("id: undated", "id: renamed\naliases: [undated]"))
    day = datetime.date(2026, 4, 1)
    written, problems = fix_dates(kb, on=day)
    assert (sorted(written), problems) == (sorted([edited, new, renamed]), [])
    assert renamed.read_text().endswith("title: Failure undated\nmodified: 2026-04-01\nimpact: high\n")  # not new
    assert edited.read_text().endswith("published: 2026-01-01\nmodified: 2026-04-01\n")
    assert "title: Failure new\npublished: 2026-04-01\nmodified: 2026-04-01\n" in new.read_text()
    assert "modified" not in same.read_text() + case.read_text()
    assert fix_dates(kb, on=day)[0] == []  # already dated: nothing to do


def test_fix_dates_outside_git_says_so(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    _case(kb, "alpha")
    result = runner.invoke(app, ["check", "--kb", str(kb), "--fix-dates"])
    assert result.exit_code == 1
    assert "not in a git repository" in result.output


@pytest.mark.parametrize("field", ["case", "failure"])
def test_the_seed_case_carries_the_lifecycle_fields(field: str) -> None:
    kb = load_kb(Path(__file__).parent.parent / "failures")
    case = kb.case("pr7060")
    assert case is not None
    records = [case.case] if field == "case" else [f.failure for f in case.failures]
    for record in records:
        assert record.schema_version == SCHEMA_VERSION
        assert record.published is not None and record.modified is not None


def test_a_withdrawn_case_can_be_read_back(tmp_path: Path) -> None:
    kb = _withdrawn_kb(tmp_path)
    case = read_record(kb / "bravo" / "case.yaml", Case)
    assert case.withdrawn == Withdrawn(date=datetime.date(2026, 1, 2), reason="A duplicate of alpha/kept.")


def _task(root: Path, name: str, metadata: str) -> Path:
    folder = root / name
    _write(folder / "metadata.json", metadata)
    _write(folder / "MODEL_FAILURES.md", "# Failures\n\n### 1. Missing DLQ permission\n\n**Impact Level**: High\n")
    return folder


def test_import_fills_published_and_aliases_and_drops_ambiguous_ones(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    _task(tasks, "cdk-ts-Pr101", '{"startedAt": "2025-12-01T23:59:59.5Z", "po_id": "shared", "task_id": "T-9"}')
    _task(tasks, "cdk-py-Pr102", '{"startedAt": "not a date", "po_id": "shared", "migrated_from": {"pr": "Pr55"}}')
    kb = tmp_path / "kb"
    result = runner.invoke(app, ["import", str(tasks), "--into", str(kb)])
    assert result.exit_code == 0, result.output
    first = read_record(kb / "cdk-ts-pr101" / "case.yaml", Case)
    second = read_record(kb / "cdk-py-pr102" / "case.yaml", Case)
    assert (first.published, first.aliases) == (datetime.date(2025, 12, 1), ["pr101", "t-9"])
    assert (second.published, second.aliases) == (None, ["pr102", "pr55"])
    assert "alias `shared` is also a name of `cdk-ts-pr101`; left out" in result.output
    assert check_kb(kb).errors == []
    assert names_of(load_kb(kb)).resolve("pr101/missing-dlq-permission") == "cdk-ts-pr101/missing-dlq-permission"


def test_typed_references_are_listed_after_the_docs(tmp_path: Path) -> None:
    links = [
        TypedLink(type=ReferenceType.scanner_rule, url="https://example.com/ckv-116", title="Checkov [CKV_AWS_116]"),
        TypedLink(type=ReferenceType.fix, url="https://github.com/org/repo/pull/1"),
    ]
    kb = write_kb(tmp_path / "kb", [(Case(id="alpha", title="Alpha"), [make_failure("one", references=links)])])
    report = render_case(load_kb(kb).cases[0], make_env(None))
    assert (
        "**References**:\n"
        "- [Checkov \\[CKV_AWS_116\\]](https://example.com/ckv-116) (scanner-rule)\n"
        "- [https://github.com/org/repo/pull/1](https://github.com/org/repo/pull/1) (fix)\n"
    ) in report
    with pytest.raises(ValueError, match="scheme 'javascript' is not allowed"):
        TypedLink(type=ReferenceType.other, url="javascript:alert(1)")


def test_a_withdrawn_failure_is_never_a_similar_match(tmp_path: Path) -> None:
    gone = Withdrawn(date=datetime.date(2026, 1, 2), reason="Wrong.")
    kb = write_kb(
        tmp_path / "kb",
        [
            (Case(id="alpha", title="Alpha"), [make_failure("one")]),
            (Case(id="charlie", title="Charlie"), [make_failure("two", withdrawn=gone)]),
            (Case(id="delta", title="Delta"), [make_failure("three")]),
        ],
    )
    result = runner.invoke(app, ["similar", "alpha/one", "--kb", str(kb), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [match["id"] for match in json.loads(result.stdout)["results"]] == ["delta/three"]


def test_upgrade_check_writes_nothing_and_fails_when_records_are_old(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    case = _write(kb / "alpha" / "case.yaml", "id: alpha\ntitle: Alpha\n")
    result = runner.invoke(app, ["upgrade", "--kb", str(kb), "--check"])
    assert (result.exit_code, case.read_text()) == (1, "id: alpha\ntitle: Alpha\n")
    assert f"would upgrade {case}\n" in result.output
    assert runner.invoke(app, ["upgrade", "--kb", str(kb)]).exit_code == 0
    assert runner.invoke(app, ["upgrade", "--kb", str(kb), "--check"]).exit_code == 0


def test_lifecycle_fields_round_trip_through_yaml(tmp_path: Path) -> None:
    failure = make_failure(
        "one",
        schema_version=SCHEMA_VERSION,
        published=datetime.date(2026, 1, 1),
        modified=datetime.date(2026, 2, 1),
        withdrawn=Withdrawn(date=datetime.date(2026, 3, 1), reason="Merged into `beta/two`."),
        superseded_by="beta/two",
        aliases=["old-one", "gamma/one"],
        related=["beta/two", RelatedLink(ref="gamma/three", note="kept: the same mistake")],
        references=[TypedLink(type=ReferenceType.discussion, url="https://example.com/t/1")],
    )
    kb = write_kb(tmp_path / "kb", [(Case(id="alpha", title="Alpha"), [failure])])
    assert read_record(kb / "alpha" / "01-one.yaml", Failure) == failure
