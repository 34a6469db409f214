"""`kb render`: MODEL_FAILURES.md from the records (golden, layout, safety, determinism, --check)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from typer.testing import CliRunner

from kb.cli import app
from kb.errors import InvalidKbError
from kb.models import (
    Case,
    CaseLayout,
    Checklist,
    DocLink,
    Failure,
    FailureLayout,
    IdealResponse,
    Impact,
    ImpactDetail,
    Kind,
    Reference,
    Response,
    Section,
    SectionLayout,
    Summary,
    TrainingValue,
)
from kb.render.env import make_env
from kb.render.report import render_case, render_reports
from kb.store import LoadedCase, LoadedFailure, load_kb
from tests.conftest import FAILURES, ROOT
from tests.helpers import RecordedProgress, write_kb

GOLDEN = Path(__file__).resolve().parent / "golden"
MD = MarkdownIt("commonmark").enable("table")
runner = CliRunner()
ENV = make_env()  # compiled once, like one `kb render` run


def loaded(case: Case, failures: list[Failure], folder: Path = Path("/project/failures")) -> LoadedCase:
    items = [LoadedFailure(folder / case.id / f"{n:02d}-{f.id}.yaml", n, f) for n, f in enumerate(failures, 1)]
    return LoadedCase(folder / case.id, case, items)


def headings(text: str) -> list[str]:
    tokens = MD.parse(text)
    return [f"{'#' * int(t.tag[1])} {tokens[i + 1].content}" for i, t in enumerate(tokens) if t.type == "heading_open"]


def has_html(tokens: list[Token]) -> bool:
    return any(t.type.startswith("html") or any(c.type.startswith("html") for c in t.children or []) for t in tokens)


# -- the seed case ----------------------------------------------------------------------


def test_seed_case_matches_the_golden_file(update_golden: bool) -> None:
    kb = load_kb(FAILURES, cases=["pr7060"])
    text = render_case(kb.cases[0], ENV)
    golden = GOLDEN / "pr7060.md"
    if update_golden:
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), "rendered pr7060 differs; rerun with --update-golden if intended"


def test_golden_has_the_seed_structure() -> None:
    text = (GOLDEN / "pr7060.md").read_text(encoding="utf-8")
    assert headings(text) == [
        "# Model Response Failures Analysis",
        "## Critical Failures",
        "### 1. AWS Config Account-Level Resource Violation",
        "### 2. Missing IAM Permission for Lambda Dead Letter Queue",
        "## High Failures",
        "### 3. Unused Variable Assignments Causing Lint Errors",
        "## Summary",
    ]
    assert "- **Total failures**: 3 (2 Critical, 1 High)\n" in text
    assert text.endswith("deployment instructions\n") and not text.endswith("\n\n")


def test_committed_report_is_current() -> None:
    result = render_reports(FAILURES, ROOT / "reports", check=True)
    assert result.changed == [], "run `kb render` and commit reports/"


# -- layout ----------------------------------------------------------------------------


def test_missing_sections_leave_no_empty_labels() -> None:
    case = Case(id="c", title="T")
    text = render_case(loaded(case, [Failure(id="f", title="Only a title", impact=Impact.high)]), ENV)
    assert text == "# T\n\n## High Failures\n\n### 1. Only a title\n\n**Impact Level**: High\n\n---\n"


def with_example(project: Path) -> None:
    """The runnable example ``rich_case``'s reference points to (render refuses a broken reference)."""
    example = project / "examples" / "pulumi" / "fix" / "main.py"
    example.parent.mkdir(parents=True, exist_ok=True)
    example.write_text("class Stack:\n    def build(self) -> None:\n        pass\n")


def rich_case() -> tuple[Case, list[Failure]]:
    case = Case(
        id="rich",
        title="Rich",
        intro="Intro.",
        extra=[
            Section(title="Context", text="Before the failures.", after="intro"),
            Section(title="Appendix", text="At the very end."),
            Section(title="Between", text="After the failures.", after="failures"),
        ],
        summary=Summary(
            written_totals="99 (99 Critical)",
            knowledge_gaps=["Gap A"],
            training_value=TrainingValue(level="High", text="Learn:", lessons=["One"]),
            production_readiness=Checklist(items=["✅ Done"]),
            sections=[Section(title="Next Steps", text="Ship it.")],
        ),
    )
    low = Failure(
        id="low-one",
        title="Low one",
        impact=Impact.low,
        description="What went wrong.",
        location="lib/stack.ts",
        model_response=Response(text="Model wrote:", code="bad()", language="ts"),
        ideal_response=IdealResponse(
            text="Fixed:",
            code="good()",
            language="ts",
            reference=Reference(path="examples/pulumi/fix/main.py", symbol="Stack.build"),
        ),
        error="Error: boom",
        root_cause="Because.",
        docs=[DocLink(title="Doc A", url="https://a.example/x"), DocLink(title="Doc B", url="https://b.example/y")],
        docs_note="See also the guide.",
        impact_details=[ImpactDetail(area="Cost", text="Money."), ImpactDetail(text="Plain\nsecond line.")],
        training_value=TrainingValue(lessons=["Lesson one", "Lesson two"]),
        extra=[
            Section(title="Status", text="Fixed", after="title"),
            Section(title="Note", text="After the root cause.", after="root_cause"),
            Section(title="Tail", text="Last."),
        ],
    )
    unlevelled = Failure(id="success", title="A success", kind=Kind.success, impact_label="N/A (Success)")
    critical = Failure(id="crit", title="Critical one", impact=Impact.critical, group="Deployment Blockers")
    return case, [low, unlevelled, critical]


def test_failures_are_grouped_by_impact_with_one_running_number() -> None:
    case, failures = rich_case()
    text = render_case(loaded(case, failures), ENV)
    assert headings(text) == [
        "# Rich",
        "## Context",
        "## Deployment Blockers",
        "### 1. Critical one",
        "## Low Failures",
        "### 2. Low one",
        "## Other Failures",
        "### 3. A success",
        "## Between",
        "## Summary",
        "## Appendix",
    ]
    # Totals are computed from the records (a success does not count), never the written line.
    assert "- **Total failures**: 2 (1 Critical, 1 Low)\n" in text
    assert "99" not in text


def test_every_block_in_order_with_extras_in_place() -> None:
    case, failures = rich_case()
    text = render_case(loaded(case, failures), ENV, report_dir=Path("/project/reports/rich"))
    start = text.index("### 2. Low one")
    body = text[start : text.index("---", start)]
    assert body == (
        "### 2. Low one\n\n"
        "**Status**:\nFixed\n\n"
        "**Impact Level**: Low\n\n"
        "**Issue**:\nWhat went wrong.\n\n"
        "**Location**:\nlib/stack.ts\n\n"
        "**MODEL_RESPONSE Issue**:\nModel wrote:\n\n```ts\nbad()\n```\n\n"
        "**IDEAL_RESPONSE Fix**:\nFixed:\n\n```ts\ngood()\n```\n\n"
        "Runnable reference: `Stack.build` in [`examples/pulumi/fix/main.py`](../../examples/pulumi/fix/main.py)\n\n"
        "**Error**:\n```\nError: boom\n```\n\n"
        "**Root Cause**:\nBecause.\n\n"
        "**Note**:\nAfter the root cause.\n\n"
        "**AWS Documentation Reference**:\n- [Doc A](https://a.example/x)\n- [Doc B](https://b.example/y)\n\n"
        "See also the guide.\n\n"
        "**Cost/Security/Performance Impact**:\n- **Cost**: Money.\n- Plain\n  second line.\n\n"
        "**Training Value**:\n1. Lesson one\n2. Lesson two\n\n"
        "**Tail**:\nLast.\n\n"
    )


def test_summary_layout() -> None:
    case, failures = rich_case()
    text = render_case(loaded(case, failures), ENV)
    summary = text[text.index("## Summary") : text.index("## Appendix")]
    assert summary == (
        "## Summary\n\n"
        "- **Total failures**: 2 (1 Critical, 1 Low)\n"
        "- **Primary knowledge gaps**:\n  1. Gap A\n\n"
        "- **Training value**: High - Learn:\n  - One\n\n"
        "**Production Readiness**:\n- ✅ Done\n\n"
        "**Next Steps**:\nShip it.\n\n"
    )


def test_reference_link_is_relative_to_where_the_report_lives(tmp_path: Path) -> None:
    case, failures = rich_case()
    kb = write_kb(tmp_path / "failures", [(case, failures)])
    with_example(tmp_path)
    render_reports(kb, tmp_path / "out" / "nested")
    text = (tmp_path / "out" / "nested" / "rich" / "MODEL_FAILURES.md").read_text()
    assert "(../../../examples/pulumi/fix/main.py#L2)" in text
    target = (tmp_path / "out" / "nested" / "rich" / "../../../examples/pulumi/fix/main.py").resolve()
    assert target == tmp_path / "examples" / "pulumi" / "fix" / "main.py"


# -- safety ----------------------------------------------------------------------------

HOSTILE = ["# Heading", "- item", "> quote", "| a | b |", "<script>alert(1)</script>", "1. one", "---", "```"]


def test_hostile_plain_text_cannot_change_the_structure() -> None:
    failures = [
        Failure(
            id=f"f{i}",
            title=text,
            impact=Impact.high,
            impact_label=text,
            impact_details=[ImpactDetail(area=text, text="x")],
            training_value=TrainingValue(level=text, lessons=[text]),
            extra=[Section(title=text, text="body")],
            group=text,
        )
        for i, text in enumerate(HOSTILE)
    ]
    case = Case(
        id="hostile",
        title="<script>alert(1)</script>",
        summary=Summary(knowledge_gaps=HOSTILE, production_readiness=Checklist(items=HOSTILE)),
        extra=[Section(title=text, text="body", after="failures") for text in HOSTILE],
    )
    text = render_case(loaded(case, failures), ENV)
    tokens = MD.parse(text)
    assert not has_html(tokens)
    assert "<script>" not in "".join(t.content for t in tokens if t.type == "html_block")
    expected = ["# <script>alert(1)</script>"]
    for number, title in enumerate(HOSTILE, start=1):
        expected += [f"## {title}", f"### {number}. {title}"]
    expected += [f"## {title}" for title in HOSTILE] + ["## Summary"]
    shown = [h.replace("\\", "") for h in headings(text)]
    assert shown == expected
    assert [t.type for t in tokens].count("hr") == len(HOSTILE)
    assert [t.type for t in tokens].count("blockquote_open") == 0
    assert [t.type for t in tokens].count("table_open") == 0


codes = st.text(st.characters(blacklist_characters="\r\x00", blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=codes, ideal=codes, error=codes, language=st.sampled_from(["ts", "", "py thon"]))
def test_any_code_survives_render_then_parse(model: str, ideal: str, error: str, language: str) -> None:
    failure = Failure(
        id="f",
        title="T",
        impact=Impact.medium,
        model_response=Response(code=model, language=language),
        ideal_response=IdealResponse(code=ideal, language=language),
        error=error,
        root_cause="After the code.",
    )
    text = render_case(loaded(Case(id="c", title="Case"), [failure]), ENV)
    tokens = MD.parse(text)
    fences = [t.content for t in tokens if t.type == "fence"]
    assert fences == [code + "\n" for code in (model, ideal, error) if code.strip()]
    assert headings(text) == ["# Case", "## Medium Failures", "### 1. T"]
    assert [t.type for t in tokens][-1] == "hr"


def test_markdown_field_with_an_unclosed_fence_does_not_swallow_the_rest() -> None:
    failure = Failure(id="f", title="T", impact=Impact.low, root_cause="Broken:\n```\nno end", error="e")
    text = render_case(
        loaded(Case(id="c", title="C"), [failure, Failure(id="g", title="Next", impact=Impact.low)]), ENV
    )
    assert headings(text) == ["# C", "## Low Failures", "### 1. T", "### 2. Next"]


# -- determinism ------------------------------------------------------------------------


def test_render_is_deterministic_across_runs_and_processes(tmp_path: Path) -> None:
    case, failures = rich_case()
    kb = write_kb(tmp_path / "failures", [(case, failures)])
    first = render_case(load_kb(kb).cases[0], ENV)
    assert render_case(load_kb(kb).cases[0], make_env()) == first
    script = (
        "import sys; from pathlib import Path; from kb.render.env import make_env; "
        "from kb.render.report import render_case; from kb.store import load_kb; "
        "sys.stdout.write(render_case(load_kb(Path(sys.argv[1])).cases[0], make_env()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", script, str(kb)], cwd=ROOT, env=env, capture_output=True, check=True
    ).stdout
    assert other == first.encode("utf-8")


def test_unchanged_reports_are_not_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    first = render_reports(FAILURES, out)
    report = out / "pr7060" / "MODEL_FAILURES.md"
    assert first.created == [report]
    os.utime(report, (1, 1))
    again = render_reports(FAILURES, out)
    assert again.unchanged == [report] and again.changed == []
    assert report.stat().st_mtime == 1
    assert not [p for p in report.parent.iterdir() if p.name != "MODEL_FAILURES.md"], "no temp files left behind"


# -- templates --------------------------------------------------------------------------


def test_project_templates_override_one_file(tmp_path: Path) -> None:
    case, failures = rich_case()
    kb = write_kb(tmp_path / "failures", [(case, failures)])
    with_example(tmp_path)
    override = tmp_path / "templates" / "report" / "MODEL_FAILURES.md.j2"
    override.parent.mkdir(parents=True)
    override.write_text("{{ case.title | upper }}: {{ totals }}\n{{ 'x' | fence('py') }}\n")
    render_reports(kb, tmp_path / "reports")
    text = (tmp_path / "reports" / "rich" / "MODEL_FAILURES.md").read_text()
    assert text == "RICH: 2 (1 Critical, 1 Low)\n```py\nx\n```\n"


def test_templates_option_wins_over_the_project_folder(tmp_path: Path) -> None:
    case, failures = rich_case()
    kb = write_kb(tmp_path / "failures", [(case, failures)])
    with_example(tmp_path)
    (tmp_path / "templates" / "report").mkdir(parents=True)
    (tmp_path / "templates" / "report" / "MODEL_FAILURES.md.j2").write_text("project\n")
    chosen = tmp_path / "team"
    (chosen / "report").mkdir(parents=True)
    (chosen / "report" / "MODEL_FAILURES.md.j2").write_text("team {{ case.id }}\n")
    render_reports(kb, tmp_path / "reports", templates=chosen)
    assert (tmp_path / "reports" / "rich" / "MODEL_FAILURES.md").read_text() == "team rich\n"


def test_project_without_the_report_template_uses_the_built_in_one(kb_copy: Path, tmp_path: Path) -> None:
    (tmp_path / "templates" / "site").mkdir(parents=True)
    render_reports(kb_copy, tmp_path / "reports")
    assert (tmp_path / "reports" / "pr7060" / "MODEL_FAILURES.md").read_text() == (GOLDEN / "pr7060.md").read_text()


# -- errors and the command line -----------------------------------------------------------


def test_invalid_kb_raises_with_every_problem(kb_copy: Path, tmp_path: Path) -> None:
    (kb_copy / "pr7060" / "04-bad.yaml").write_text("id: bad\ntitle: T\nimpact: huge\n")
    with pytest.raises(InvalidKbError) as info:
        render_reports(kb_copy, tmp_path / "reports")
    assert [p.line for p in info.value.problems] == [3]
    assert not (tmp_path / "reports").exists()


def test_cli_render_then_check(kb_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    report = out / "pr7060" / "MODEL_FAILURES.md"
    missing = runner.invoke(app, ["render", "--kb", str(kb_copy), "--out", str(out), "--check"])
    assert missing.exit_code == 1
    assert missing.stderr == f"{report}: missing; run `kb render`\n1 of 1 report(s) would change\n"
    assert not out.exists(), "--check writes nothing"

    written = runner.invoke(app, ["render", "--kb", str(kb_copy), "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert written.stdout == f"wrote {report}\nrendered 1 case(s): 1 written, 0 unchanged\n"
    assert report.read_text() == (GOLDEN / "pr7060.md").read_text()

    current = runner.invoke(app, ["render", "--kb", str(kb_copy), "--out", str(out), "--check"])
    assert current.exit_code == 0
    assert current.stdout == "ok: 1 report(s) up to date\n"


def test_cli_check_lists_a_stale_report_and_keeps_it(kb_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    assert runner.invoke(app, ["render", "pr7060", "--kb", str(kb_copy), "--out", str(out)]).exit_code == 0
    case_file = kb_copy / "pr7060" / "case.yaml"
    case_file.write_text(case_file.read_text().replace("title: Model Response", "title: Changed"))
    report = out / "pr7060" / "MODEL_FAILURES.md"
    before = report.read_bytes()
    stale = runner.invoke(app, ["render", "--kb", str(kb_copy), "--out", str(out), "--check"])
    assert stale.exit_code == 1
    assert stale.stderr.splitlines()[0] == f"{report}: out of date; run `kb render`"
    assert report.read_bytes() == before


def test_cli_errors_are_messages_not_tracebacks(kb_copy: Path, tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["render", "nope", "--kb", str(kb_copy), "--out", str(tmp_path)])
    assert unknown.exit_code == 1
    assert unknown.stderr.splitlines()[0] == f"{kb_copy / 'nope'}:1:1: no case `nope` in {kb_copy}"

    no_templates = runner.invoke(app, ["render", "--kb", str(kb_copy), "--templates", str(tmp_path / "none")])
    assert no_templates.exit_code == 2
    assert no_templates.stderr == f"error: {tmp_path / 'none'}: templates folder not found\n"

    broken = tmp_path / "broken" / "report"
    broken.mkdir(parents=True)
    (broken / "MODEL_FAILURES.md.j2").write_text("# {{ case.title }}\n{{ missing_name }}\n")
    result = runner.invoke(
        app, ["render", "--kb", str(kb_copy), "--out", str(tmp_path), "--templates", str(broken.parent)]
    )
    assert result.exit_code == 1
    assert result.stderr == f"error: {broken / 'MODEL_FAILURES.md.j2'}:2: 'missing_name' is undefined (case pr7060)\n"
    assert "Traceback" not in result.output


# -- presentation hints (set by `kb import` so an imported document renders back as it was) --


def hinted(case: Case, failures: list[Failure]) -> str:
    return render_case(loaded(case, failures), ENV)


def block_of(text: str, heading: str) -> str:
    """The lines of one failure: from its heading to the next heading or rule."""
    start = text.index(heading)
    ends = [i for i in (text.find("\n#", start + 1), text.find("\n---", start)) if i >= 0]
    return text[start : min(ends) if ends else len(text)].strip("\n")


def prose_failure(**changes: object) -> Failure:
    data: dict[str, object] = {
        "id": "f",
        "title": "Queue too short",
        "impact": Impact.high,
        "model_response": Response(text="Set 30 seconds:", code="timeout = 30", language="py"),
        "ideal_response": IdealResponse(code="timeout = 720", language="py"),
        "root_cause": "Jobs outlive the timeout.",
        "docs": [DocLink(title="SQS", url="https://docs.aws.amazon.com/sqs")],
        "impact_details": [ImpactDetail(area="Cost", text="Jobs run twice.")],
        "training_value": TrainingValue(level="High", text="Match timeouts."),
        "extra": [Section(title="Status", text="Fixed.", after="root_cause")],
    }
    return Failure.model_validate({**data, **changes})


def test_inline_labels_put_prose_on_the_label_line_and_code_below() -> None:
    text = hinted(Case(id="c", title="C", layout=CaseLayout(inline_labels=True)), [prose_failure()])
    assert block_of(text, "### 1.") == (
        "### 1. Queue too short\n\n"
        "**Impact Level**: High\n\n"
        "**MODEL_RESPONSE Issue**: Set 30 seconds:\n\n```py\ntimeout = 30\n```\n\n"
        "**IDEAL_RESPONSE Fix**:\n```py\ntimeout = 720\n```\n\n"
        "**Root Cause**: Jobs outlive the timeout.\n\n"
        "**Status**: Fixed.\n\n"
        "**AWS Documentation Reference**: [SQS](https://docs.aws.amazon.com/sqs)\n\n"
        "**Cost/Security/Performance Impact**:\n- **Cost**: Jobs run twice.\n\n"
        "**Training Value**: High - Match timeouts."
    )


def test_inline_labels_for_some_fields_only() -> None:
    case = Case(id="c", title="C", layout=CaseLayout(inline_labels=["root_cause", "extra"]))
    text = hinted(case, [prose_failure()])
    assert "**Root Cause**: Jobs outlive the timeout.\n" in text
    assert "**Status**: Fixed.\n" in text
    assert "**MODEL_RESPONSE Issue**:\nSet 30 seconds:\n" in text
    assert "**Training Value**:\nHigh - Match timeouts.\n" in text


def test_source_labels_qualifiers_and_unlabelled_values() -> None:
    failure = prose_failure(
        description="Poison messages loop.",
        layout=FailureLayout(
            labels={
                "impact": "Severity",
                "description": "",  # the source wrote the text straight under the heading
                "model_response": "MODEL_RESPONSE Issue (Line 33)",
                "root_cause": "Why This Fails",
                "title": "Issue 7:",
            }
        ),
    )
    text = hinted(Case(id="c", title="C"), [failure])
    assert "### Issue 1: Queue too short\n" in text  # the source's words, the report's number
    assert "**Severity**: High\n\nPoison messages loop.\n\n**MODEL_RESPONSE Issue** (Line 33):\n" in text
    assert "**Why This Fails**:\nJobs outlive the timeout.\n" in text
    implied = hinted(Case(id="c", title="C"), [prose_failure(layout=FailureLayout(labels={"impact": "", "title": ""}))])
    assert "Impact Level" not in implied  # implied by its group heading, as in the source
    assert "## High Failures\n\n### Queue too short\n" in implied  # an unnumbered heading stays unnumbered


def test_source_order_group_numbering_and_rules() -> None:
    failures = [
        Failure(id="a", title="A", impact=Impact.low),
        Failure(id="b", title="B", impact=Impact.critical),
        Failure(id="c", title="C", impact=Impact.critical),
    ]
    default = hinted(Case(id="c", title="C"), failures)
    assert headings(default)[1:] == ["## Critical Failures", "### 1. B", "### 2. C", "## Low Failures", "### 3. A"]
    assert default.count("\n---\n") == 3
    case = Case(id="c", title="C", layout=CaseLayout(order="source", numbering="group", rules="between"))
    text = hinted(case, failures)
    assert headings(text)[1:] == ["## Low Failures", "### 1. A", "## Critical Failures", "### 1. B", "### 2. C"]
    assert text.count("\n---\n") == 2 and not text.rstrip().endswith("---")
    assert "---" not in hinted(
        case.model_copy(update={"layout": CaseLayout(order="source", numbering="group", rules="none")}), failures
    )


def test_heading_level_ungrouped_bold_titles_colons_and_list_labels() -> None:
    case = Case(
        id="c", title="C", layout=CaseLayout(heading_level=2, bold_titles=True, colon_inside=True, list_labels=True)
    )
    failure = prose_failure(group="", impact_details=[], docs=[], extra=[], model_response=None, ideal_response=None)
    text = hinted(case, [failure])
    assert text == (
        "# C\n\n## 1. **Queue too short**\n\n- **Impact Level:** High\n"
        "- **Root Cause:**\nJobs outlive the timeout.\n- **Training Value:**\nHigh - Match timeouts.\n\n---\n"
    )
    listed = hinted(Case(id="c", title="C", layout=CaseLayout(list_labels=True, inline_labels=True)), [prose_failure()])
    assert "- **AWS Documentation Reference**: [SQS](https://docs.aws.amazon.com/sqs)\n" in listed
    assert "- **Cost/Security/Performance Impact**:\n  - **Cost**: Jobs run twice.\n" in listed  # nested
    assert "- **MODEL_RESPONSE Issue**: Set 30 seconds:\n\n```py\ntimeout = 30\n```\n" in listed


def test_field_order_and_section_headings() -> None:
    failure = prose_failure(
        layout=FailureLayout(field_order=["root_cause", "impact", "training_value"]),
        extra=[
            Section(title="Deployment Notes", text="Redeployed.", after="root_cause", layout=SectionLayout(heading=4))
        ],
        docs=[],
        impact_details=[],
        model_response=None,
        ideal_response=None,
    )
    case = Case(
        id="c",
        title="C",
        extra=[
            Section(title="Between", text="Placed after the failure.", after="failure:f"),
            Section(title="Appendix", text="Deep.", layout=SectionLayout(heading=3)),
        ],
    )
    text = hinted(case, [failure, Failure(id="g", title="Next", impact=Impact.high)])
    assert block_of(text, "### 1.") == ("### 1. Queue too short\n\n**Root Cause**:\nJobs outlive the timeout.")
    assert "#### Deployment Notes\n\nRedeployed.\n\n**Impact Level**: High\n\n**Training Value**:" in text
    assert "---\n\n## Between\n\nPlaced after the failure.\n\n### 2. Next" in text
    assert text.endswith("### Appendix\n\nDeep.\n")


def test_hostile_source_labels_stay_labels() -> None:
    labels = {name: text for name, text in zip(["root_cause", "impact", "title"], HOSTILE, strict=False)}
    failure = prose_failure(
        layout=FailureLayout(labels={**labels, "description": "<script>x</script>"}), description="Plain."
    )
    tokens = MD.parse(
        hinted(Case(id="c", title="C", layout=CaseLayout(inline_labels=True, list_labels=True)), [failure])
    )
    assert not has_html(tokens)
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h1", "h2", "h3"]


def test_render_reports_progress_through_the_one_protocol(kb_copy: Path, tmp_path: Path) -> None:
    progress = RecordedProgress()
    render_reports(kb_copy, tmp_path / "reports", progress=progress)
    assert progress.started == [("render", 1)] and sum(progress.advanced) == 1
