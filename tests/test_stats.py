"""`kb stats`: its numbers equal a direct count of the records, on generated knowledge bases."""

from __future__ import annotations

import json
import statistics
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kb.cli import app
from kb.models import Case, Category, DocLink, Failure, IdealResponse, Impact, Kind, Status, Summary, Task, Taxonomy
from kb.names import normalise_service
from kb.stats import Dimension, Filters, compute_stats, crosstab, stats_tables
from kb.store import CASE_FILE, load_kb
from tests.helpers import write_kb

runner = CliRunner()

# Spellings the generator uses, with the name each must be counted under.
SERVICES = {
    "AWS Lambda": "Lambda",
    "lambda": "Lambda",
    "Lambda": "Lambda",
    "Amazon S3": "S3",
    "s3": "S3",
    "AWS::IAM::Role": "IAM",
    "SNS Topic": "SNS",
    "Transfer Family": "Transfer Family",  # not in the table: kept as written
}
PLATFORMS = {"cdk": "cdk", "CloudFormation": "cfn", "terraform": "tf", "pulumi": "pulumi"}
LANGUAGES = {"ts": "ts", "TypeScript": "ts", "python": "py", "hcl": "hcl"}
GAPS = {  # spelling -> group
    "IAM least privilege": "iam",
    "**IAM least privilege**.": "iam",
    "iam least privilege": "iam",
    "Naming rules": "naming",
    "`environmentSuffix` usage": "suffix",
}
SHOWN_GAPS = {"IAM least privilege": "iam", "iam least privilege": "iam", "Naming rules": "naming"}
SHOWN_GAPS["environmentSuffix usage"] = "suffix"
TAXONOMY = Taxonomy(
    categories=[
        Category(id="iam-permissions", title="IAM permissions", description="IAM."),
        Category(id="networking", title="Networking", description="Networks."),
    ]
)
CATEGORIES = ["iam-permissions", "networking", "orphan"]  # `orphan` is used but not in the taxonomy


def failure_strategy() -> st.SearchStrategy[Failure]:
    fix = st.one_of(
        st.none(),
        st.just(IdealResponse()),
        st.just(IdealResponse(text="Grant `sqs:SendMessage`.")),
        st.just(IdealResponse(code="x = 1", language="python")),
    )
    return st.builds(
        Failure,
        id=st.just("placeholder"),
        title=st.just("A failure"),
        impact=st.one_of(st.none(), st.sampled_from(list(Impact))),
        status=st.sampled_from(list(Status)),
        kind=st.sampled_from(list(Kind)),
        category=st.one_of(st.none(), st.sampled_from(CATEGORIES)),
        services=st.lists(st.sampled_from(sorted(SERVICES)), max_size=3),
        ideal_response=fix,
        root_cause=st.sampled_from([None, "", "  ", "Because."]),
        docs=st.one_of(st.just([]), st.just([DocLink(title="Docs", url="https://docs.aws.amazon.com/x")])),
    )


@st.composite
def case_strategy(draw: st.DrawFn, number: int) -> tuple[Case, list[Failure]]:
    failures = draw(st.lists(failure_strategy(), max_size=5))
    failures = [f.model_copy(update={"id": f"failure-{i}"}) for i, f in enumerate(failures)]
    platform = draw(st.one_of(st.none(), st.sampled_from(sorted(PLATFORMS))))
    language = draw(st.one_of(st.none(), st.sampled_from(sorted(LANGUAGES))))
    task = draw(st.one_of(st.none(), st.just(Task(platform=platform, language=language))))
    counted = sum(f.is_failure for f in failures)
    written = draw(st.sampled_from([None, f"Total failures: {counted}", f"Total failures: {counted + 1}"]))
    gaps = draw(st.lists(st.sampled_from(sorted(GAPS)), max_size=3))
    summary = draw(st.one_of(st.none(), st.just(Summary(written_totals=written, knowledge_gaps=gaps))))
    return Case(id=f"case-{number}", title=f"Case {number}", task=task, summary=summary), failures


@st.composite
def kb_strategy(draw: st.DrawFn) -> list[tuple[Case, list[Failure]]]:
    size = draw(st.integers(min_value=0, max_value=6))
    return [draw(case_strategy(i)) for i in range(size)]


def direct_count(root: Path, want: dict[str, set[str]]) -> dict[str, Any]:
    """Count what `kb stats --json` reports straight from the YAML files (no kb loading code)."""
    out: dict[str, Any] = {"by_impact": Counter(), "by_category": Counter(), "by_service": Counter()}
    out |= {"by_platform": Counter(), "by_language": Counter(), "gaps": Counter(), "status": Counter()}
    out |= {"cases": 0, "not_failures": 0, "per_case": [], "integrity": Counter()}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        case = yaml.safe_load((folder / CASE_FILE).read_text())
        task = case.get("task") or {}
        platform = PLATFORMS.get(task.get("platform"), "none")
        language = LANGUAGES.get(task.get("language"), "none")
        if want["platform"] and platform not in want["platform"]:
            continue
        records = [yaml.safe_load(p.read_text()) for p in sorted(folder.glob("[0-9]*.yaml"))]
        chosen = []
        for record in records:
            services = {SERVICES[s] for s in record.get("services", [])} or {"none"}
            if want["impact"] and record.get("impact", "none") not in want["impact"]:
                continue
            if want["category"] and record.get("category", "none") not in want["category"]:
                continue
            if want["service"] and not services & want["service"]:
                continue
            chosen.append((record, services))
        counted = [(r, s) for r, s in chosen if r.get("kind", "failure") == "failure"]
        if (want["impact"] or want["category"] or want["service"]) and not chosen:
            continue
        out["cases"] += 1
        out["not_failures"] += len(chosen) - len(counted)
        out["per_case"].append(len(counted))
        summary = case.get("summary") or {}
        out["gaps"].update({GAPS[g] for g in summary.get("knowledge_gaps", [])})
        written = summary.get("written_totals")
        all_counted = sum(r.get("kind", "failure") == "failure" for r in records)
        if written and int(written.split(": ")[1]) != all_counted:
            out["integrity"]["totals_disagree"] += 1
        for record, services in counted:
            out["status"][record.get("status", "published")] += 1
            out["by_impact"][record.get("impact", "none")] += 1
            out["by_category"][record.get("category", "none")] += 1
            out["by_service"].update(services)
            out["by_platform"][platform] += 1
            out["by_language"][language] += 1
            fix = record.get("ideal_response") or {}
            if not (fix.get("text") or fix.get("code")):
                out["integrity"]["without_fix"] += 1
            if not (record.get("root_cause") or "").strip():
                out["integrity"]["without_root_cause"] += 1
            if not record.get("docs"):
                out["integrity"]["without_docs"] += 1
    return out


filters_strategy = st.fixed_dictionaries(
    {
        "impact": st.sets(st.sampled_from([*(i.value for i in Impact), "none"]), max_size=2),
        "category": st.sets(st.sampled_from(["iam-permissions", "networking", "none"]), max_size=2),
        "service": st.sets(st.sampled_from(["Lambda", "S3", "IAM", "none"]), max_size=2),
        "platform": st.sets(st.sampled_from(["cdk", "cfn", "tf"]), max_size=1),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cases=kb_strategy(),
    want=st.one_of(st.just({k: set() for k in ("impact", "category", "service", "platform")}), filters_strategy),
)
def test_json_numbers_equal_a_direct_count(cases: list[tuple[Case, list[Failure]]], want: dict[str, set[str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "kb"
        write_kb(root, cases, taxonomy=TAXONOMY)
        args = ["stats", "--kb", str(root), "--json", "--top", "100"]
        for name, values in want.items():
            for value in sorted(values):
                args += [f"--{name}", value]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        got = json.loads(result.stdout)
        expected = direct_count(root, want)

    assert got["cases"] == expected["cases"]
    assert got["failures"] == sum(expected["per_case"])
    assert got["published"] == expected["status"]["published"]
    assert got["drafts"] == expected["status"]["draft"]
    assert got["published"] + got["drafts"] == got["failures"]
    assert got["not_failures"] == expected["not_failures"]
    assert got["by_impact"] == {k: expected["by_impact"][k] for k in ("critical", "high", "medium", "low", "none")}
    assert {k: v["count"] for k, v in got["by_category"].items() if v["count"]} == dict(expected["by_category"])
    assert got["by_category"]["iam-permissions"]["title"] == "IAM permissions"
    assert got["by_service"] == dict(expected["by_service"])
    assert got["by_platform"] == dict(expected["by_platform"])
    assert got["by_language"] == dict(expected["by_language"])
    assert {SHOWN_GAPS[text]: n for text, n in got["knowledge_gaps"].items()} == dict(expected["gaps"])
    per_case = expected["per_case"]
    assert got["failures_per_case"] == {
        "median": float(statistics.median(per_case)) if per_case else 0.0,
        "max": max(per_case, default=0),
    }
    for name in ("totals_disagree", "without_fix", "without_root_cause", "without_docs"):
        assert got["integrity"][name] == expected["integrity"][name], name


@settings(max_examples=25, deadline=None)
@given(cases=kb_strategy(), dims=st.tuples(st.sampled_from(list(Dimension)), st.sampled_from(list(Dimension))))
def test_crosstab_cells_equal_a_direct_count(
    cases: list[tuple[Case, list[Failure]]], dims: tuple[Dimension, Dimension]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "kb"
        write_kb(root, cases, taxonomy=TAXONOMY)
        table = crosstab(load_kb(root), dims[0], dims[1])
    expected: Counter[tuple[str, str]] = Counter()
    total = 0
    for case, failures in cases:
        for failure in failures:
            if not failure.is_failure:
                continue
            total += 1
            values = {
                Dimension.impact: {failure.impact.value if failure.impact else "none"},
                Dimension.category: {failure.category or "none"},
                Dimension.service: {SERVICES[s] for s in failure.services} or {"none"},
                Dimension.platform: {PLATFORMS[case.task.platform] if case.task and case.task.platform else "none"},
                Dimension.language: {LANGUAGES[case.task.language] if case.task and case.task.language else "none"},
                Dimension.case: {case.id},
            }
            expected.update((a, b) for a in values[dims[0]] for b in values[dims[1]])
    assert table.cells == dict(expected)
    assert table.total == total
    assert sum(table.row_totals.values()) >= total
    assert set(table.rows) == {a for a, _ in expected}


def test_narrowed_crosstab_counts_each_failure_once_under_other(tmp_path: Path) -> None:
    failure = Failure(id="f", title="F", impact=Impact.high, services=["Lambda", "S3", "IAM", "SNS"])
    write_kb(tmp_path, [(Case(id="c", title="C"), [failure])], taxonomy=TAXONOMY)
    table = crosstab(load_kb(tmp_path), "impact", "service", max_cols=2)
    assert table.cols == ["IAM", "(other)"]
    assert table.count("high", "(other)") == 1
    assert table.row_totals == {"high": 1}


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("AWS Lambda", "Lambda"),
        ("lambda", "Lambda"),
        ("Lambda", "Lambda"),
        ("AWS::S3::Bucket", "S3"),
        ("S3Bucket", "S3"),
        ("Amazon Simple Notification Service", "Simple Notification Service"),
        ("SNS Topic", "SNS"),
        ("Application Load Balancer (ALB)", "ELB"),
        ("CloudWatch Logs", "CloudWatch Logs"),
        ("CloudWatch LogGroup", "CloudWatch Logs"),
        ("cloudwatch", "CloudWatch"),
        ("Route53", "Route 53"),
        ("Route 53", "Route 53"),
        ("X-ray", "X-Ray"),
        ("Sessions", "Sessions"),
        ("elastic IP", "EC2"),  # an Elastic IP is an EC2 resource
        ("  Secrets   Manager ", "Secrets Manager"),
    ],
)
def test_service_names_are_normalised(written: str, expected: str) -> None:
    assert normalise_service(written) == expected


def seed_like(tmp_path: Path, **case: Any) -> Path:
    failures = [
        Failure(id="open-bucket", title="Open bucket", impact=Impact.critical, services=["s3"], root_cause="x"),
        Failure(id="no-level", title="No level", services=["AWS Lambda"]),
        Failure(id="fine", title="Fine", kind=Kind.success),
    ]
    write_kb(tmp_path, [(Case(id="c1", title="C1", **case), failures)], taxonomy=TAXONOMY)
    return tmp_path


def test_no_level_is_counted_never_guessed_and_non_failures_apart(tmp_path: Path) -> None:
    stats = compute_stats(load_kb(seed_like(tmp_path)))
    assert stats.by_impact == {"critical": 1, "high": 0, "medium": 0, "low": 0, "none": 1}
    assert stats.failures == 2
    assert stats.not_failures == 1
    assert stats.by_service == {"Lambda": 1, "S3": 1}


def test_details_list_the_paths_behind_integrity_figures(tmp_path: Path) -> None:
    root = seed_like(tmp_path, summary=Summary(written_totals="Total failures: 5 (5 Critical)"))
    result = runner.invoke(app, ["stats", "--kb", str(root), "--json", "--details"])
    assert result.exit_code == 0, result.output
    details = json.loads(result.stdout)["integrity_details"]
    assert [d["path"] for d in details["without_root_cause"]] == [str(root / "c1" / "02-no-level.yaml")]
    assert details["totals_disagree"][0]["path"] == str(root / "c1" / "case.yaml")
    assert "total 5 written, 2 recorded" in details["totals_disagree"][0]["note"]
    plain = json.loads(runner.invoke(app, ["stats", "--kb", str(root), "--json"]).stdout)
    assert "integrity_details" not in plain
    lines = runner.invoke(app, ["stats", "--kb", str(root), "--details"]).stdout.splitlines()
    assert f"{root / 'c1' / '02-no-level.yaml'}: without root cause" in lines


def test_terminal_view_fits_80_columns_and_shows_record_text_verbatim(tmp_path: Path) -> None:
    gap = "[bold red]Injected[/] markup and a very long knowledge gap " * 4
    many = [f"Service{i:02d}" for i in range(30)]
    failures = [Failure(id=f"f{i}", title="F", impact=Impact.low, services=many[i::3]) for i in range(3)]
    write_kb(tmp_path, [(Case(id="c", title="C", summary=Summary(knowledge_gaps=[gap])), failures)], taxonomy=TAXONOMY)
    for args in ([], ["--details"], ["--by", "case", "--by", "service"], ["--by", "service"]):
        result = runner.invoke(app, ["stats", "--kb", str(tmp_path), *args], env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        table_lines = [line for line in result.stdout.splitlines() if not line.startswith(str(tmp_path))]
        assert max(len(line) for line in table_lines) <= 80, args
    text = runner.invoke(app, ["stats", "--kb", str(tmp_path)], env={"COLUMNS": "80"}).stdout
    assert "[bold" in text  # shown as written, not interpreted as rich markup
    assert "... and 20 more" in text  # 30 services, 10 shown


def test_output_is_deterministic(tmp_path: Path) -> None:
    root = seed_like(tmp_path)
    first = runner.invoke(app, ["stats", "--kb", str(root), "--json"]).stdout
    assert first == runner.invoke(app, ["stats", "--kb", str(root), "--json"]).stdout
    assert list(json.loads(first)) == sorted(json.loads(first))


def test_bad_choices_are_usage_errors(tmp_path: Path) -> None:
    root = seed_like(tmp_path)
    result = runner.invoke(app, ["stats", "--kb", str(root), "--impact", "hihg"])
    assert result.exit_code == 2
    assert "unknown impact `hihg` in the filter; did you mean `high`?" in result.stderr
    result = runner.invoke(app, ["stats", "--kb", str(root), "--by", "colour"])
    assert result.exit_code == 2
    assert "cannot count by `colour`; choose from impact, category, service, platform, language, case" in result.stderr
    result = runner.invoke(app, ["stats", "--kb", str(root), "--by", "impact", "--by", "case", "--by", "service"])
    assert result.exit_code == 2


def test_an_invalid_kb_is_reported_with_locations(tmp_path: Path) -> None:
    root = seed_like(tmp_path)
    (root / "c1" / "01-open-bucket.yaml").write_text("id: open-bucket\ntitle: x\nimpact: huge\n")
    result = runner.invoke(app, ["stats", "--kb", str(root)])
    assert result.exit_code == 1
    assert f"{root / 'c1' / '01-open-bucket.yaml'}:3:" in result.stderr
    assert "Traceback" not in result.output


def test_filters_narrow_cases_to_those_with_matching_failures(tmp_path: Path) -> None:
    root = seed_like(tmp_path)
    stats = compute_stats(load_kb(root), filters=Filters(impact=["none"]))
    assert (stats.cases, stats.failures, stats.by_service) == (1, 1, {"Lambda": 1})
    stats = compute_stats(load_kb(root), filters=Filters(service=["Amazon DynamoDB"]))
    assert (stats.cases, stats.failures, stats.failures_per_case.max) == (0, 0, 0)


def test_tables_show_every_impact_level_and_only_used_categories(tmp_path: Path) -> None:
    tables = {t.title: t for t in stats_tables(compute_stats(load_kb(seed_like(tmp_path))))}
    assert [row[0] for row in tables["Failures by impact"].rows] == ["Critical", "High", "Medium", "Low", "no level"]
    assert [row[1:] for row in tables["Failures by category"].rows] == [("none", "2")]
