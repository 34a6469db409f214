"""The importer never crashes and never loses a line, whatever the bytes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.importer import import_documents
from kb.importer.blocks import parse_blocks
from kb.importer.decode import decode_document
from kb.importer.headings import SectionKind, analyse_heading, split_number
from kb.importer.impact import read_level, severity_in_title
from kb.importer.labels import Field, field_for, match_label
from kb.importer.words import kept_ratio, record_words
from kb.models import Case, Failure, Impact
from kb.store import dump_record
from tests.helpers import assemble

SEED_LIKE = """# Title

## Critical Failures

### 1. First

**Impact Level**: Critical

**MODEL_RESPONSE Issue**:
Broken.

```ts
const a = 1;
```
"""


def records(text: str) -> tuple[Case, list[Failure], list[tuple[str, str]]]:
    result = assemble(text)
    return result.case, result.failures, result.warnings


def test_decode_handles_bom_crlf_nul_and_cp1252() -> None:
    decoded = decode_document(b"\xef\xbb\xbf# T\r\n\r\ncaf\xe9 \x93quoted\x94\x00\x00")
    assert decoded.text == "# T\n\ncafé “quoted”"
    assert [kind for kind, _ in decoded.warnings] == ["encoding", "nul-bytes"]
    assert decode_document("# Tïtle\n".encode("utf-16")).text == "# Tïtle\n"
    assert decode_document(b"\x81\x8d\x8f\x90\x9d").warnings[0][0] == "encoding"  # undefined in cp1252 too


def test_every_non_blank_line_is_in_a_block() -> None:
    text = "# T\n\n[ref]: https://example.com\n\npara\n---\n\n- a\n\n  b\n```py\nunclosed\n"
    doc = parse_blocks(text)
    covered = {n for b in doc.blocks for n in range(b.start, b.end)}
    assert {n for n, line in enumerate(text.split("\n")) if line.strip()} <= covered
    assert [b.kind for b in doc.blocks][-1] == "fence" and not doc.blocks[-1].closed


def test_heading_numbering_styles() -> None:
    cases = {
        "1. Missing Tags": ("1", "Missing Tags"),
        "Issue 2: Wrong Port": ("2", "Wrong Port"),
        "Failure #3 - Bad ARN": ("3", "Bad ARN"),
        "**4. Bold Title**": ("4", "Bold Title"),
        "5\\. Escaped": ("5", "Escaped"),
        "2.1 Nested": ("2.1", "Nested"),
        "b) Lettered": ("b", "Lettered"),
        "MF001 - Identified": ("MF001", "Identified"),
        "❌ 6. Emoji First": ("6", "Emoji First"),
        "Plain Heading": (None, "Plain Heading"),
    }
    for heading, expected in cases.items():
        assert split_number(heading) == expected, heading


def test_section_kinds() -> None:
    assert analyse_heading("Critical Failures").severity is Impact.critical
    assert analyse_heading("High-Priority Issues").severity is Impact.high
    assert analyse_heading("🔴 Category B: Configuration").severity is Impact.medium
    assert analyse_heading("High Availability Design").kind is SectionKind.other
    assert analyse_heading("Strengths of MODEL_RESPONSE").kind is SectionKind.success
    assert analyse_heading("Executive Summary").kind is SectionKind.summary


def test_impact_spellings() -> None:
    assert read_level("Critical (Deployment Blocker)").impact is Impact.critical
    assert read_level("🔴 CRITICAL - lint failure").impact is Impact.critical
    assert read_level("Medium-High").impact is Impact.high
    assert read_level("B (Important)").impact is Impact.high
    assert read_level("C").impact is Impact.low
    assert read_level("P2").impact is Impact.medium
    assert read_level("Minor").impact is Impact.low
    assert read_level("N/A (No Failure)").not_a_failure
    assert read_level("None").not_a_failure
    assert not read_level("BEST_PRACTICE").known
    assert not read_level("The deployment fails without it").known
    assert severity_in_title("Unencrypted Volumes (CRITICAL)") is Impact.critical
    assert severity_in_title("HIGH: Open Security Group") is Impact.high
    assert severity_in_title("High Availability Zones") is None


def test_label_forms_and_synonyms() -> None:
    for line in (
        "**Root Cause**: x",
        "**Root Cause:** x",
        "*Root Cause*: x",
        "Root Cause: x",
        "**Root Cause** (why): x",
    ):
        label = match_label(line)
        assert label is not None and label.field is Field.root_cause and label.rest == "x", line
    assert field_for("Actual Fix (IDEAL_RESPONSE)") is Field.fix
    assert field_for("Model Response (BROKEN)") is Field.model
    assert field_for("CloudFormation Error") is Field.error
    assert field_for("Cost Impact") is Field.impact_details
    assert field_for("Lessons Learned") is Field.training
    assert match_label("**Status**: done") is not None and match_label("**Status**: done").field is None  # type: ignore[union-attr]
    assert match_label("**just bold** words") is None


def test_hazards_never_crash_and_keep_every_word() -> None:
    hazards = [
        "",
        "\n\n\n",
        "```markdown\n" + SEED_LIKE + "\n```\n",  # wrapped whole in a fence
        SEED_LIKE.replace("```\n", "", 1),  # unclosed fence
        SEED_LIKE + "\n````\n```ts\ninner\n```\n````\n",  # nested fences
        "<html><body><h1>x</h1></body></html>",
        "#No space heading\n\nText under it\n---\n",
        "### 1. Same\n\ntext\n\n### 1. Same\n\ntext\n\n### 3. Skipped\n",
        "| a | b |\n|---|---|\n| 1 | 2 |\n",
        "\t- tabbed\n\t\t- deeper\n",
        "🚨🔥✅ " * 50,
        "# T\n\n" + "> " * 200 + "deep quote\n",
        "# T\n\n" + "- " * 200 + "deep list\n",
    ]
    for text in hazards:
        case, failures, _ = records(text)
        dump_record(case)
        assert kept_ratio(text, record_words(case, failures, labelled=True)) >= 0.99, text[:60]


def test_huge_document_is_kept_whole(tmp_path: Path) -> None:
    text = "# Big\n\n" + ("### 1. Title\n\n**Impact Level**: High\n\n" + "word " * 200 + "\n\n") * 30
    _case, failures, _ = records(text)
    assert len(failures) == 30
    path = tmp_path / "MODEL_FAILURES.md"
    path.write_bytes(("x " * 2_100_000).encode())
    result = import_documents([path], tmp_path / "kb")
    assert result.ok and {k for d in result.documents for k, _ in d.warnings} == {"too-large"}
    assert "only the first 4,194,304 are imported" in str(result.warnings[0])


def test_duplicate_titles_get_unique_ids() -> None:
    _, failures, _ = records("### 1. Same\n\nA\n\n### 1. Same\n\nB\n\n### 3. Same\n\nC\n")
    assert [f.id for f in failures] == ["same", "same-2", "same-3"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=600))
def test_any_text_becomes_valid_records(text: str) -> None:
    decoded = decode_document(text.encode("utf-8", "surrogatepass"))
    case, failures, _ = records(decoded.text)
    for record in (case, *failures):
        assert type(record).model_validate(record.model_dump()) == record
        dump_record(record)
    assert kept_ratio(decoded.text, record_words(case, failures, labelled=True)) >= 0.95


MARKDOWNISH = st.lists(
    st.sampled_from(
        [
            "# Title",
            "## Critical Failures",
            "### 1. Failure",
            "#### Root Cause",
            "**Impact Level**: High",
            "**Fix**:",
            "- **Issue**: broken",
            "1. **Bold** item",
            "```ts",
            "```",
            "~~~",
            "---",
            "plain words here",
            "> quote",
            "<div>",
            "   indented",
            "",
            "**1. Bold Heading**",
            "Setext",
            "===",
            "| a | b |",
        ]
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(MARKDOWNISH, st.binary(max_size=40))
def test_markdown_like_lines_and_bytes_never_crash(lines: list[str], noise: bytes) -> None:
    decoded = decode_document("\n".join(lines).encode() + noise)
    case, failures, _ = records(decoded.text)
    for record in (case, *failures):
        dump_record(record)
    assert kept_ratio(decoded.text, record_words(case, failures, labelled=True)) >= 0.9
