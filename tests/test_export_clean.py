"""Cleaning code and answers for export: annotations, placeholders, fragments, parse checks, references."""

from __future__ import annotations

import pytest

from kb.export.clean import (
    Cleaned,
    blocks,
    clean_code,
    clean_document,
    elides_code,
    has_placeholder,
    neutral_names,
    parse_problem,
    split_comment,
    strip_annotations,
    without_comments,
)


@pytest.mark.parametrize(
    ("code", "language", "cleaned"),
    [
        ("const a = 1; // ❌ RESERVED KEY\nconst b = 2;", "ts", "const a = 1;\nconst b = 2;"),
        ("# WRONG: public\nacl = 'public-read'", "py", "acl = 'public-read'"),
        ("acl = 'private'  # ✅ FIXED", "py", "acl = 'private'"),
        ("x = 1  # Fixed: was 0\ny = 2", "py", "x = 1\ny = 2"),
        ("port: 22 # Overly permissive\nname: web", "yaml", "port: 22\nname: web"),
        ("# lib/networking.py - Line 148-150\nrule = 1", "py", "rule = 1"),
        ("// Addresses MODEL_FAILURES item 2\nnew Bucket(this, 'b');", "ts", "new Bucket(this, 'b');"),
    ],
)
def test_reviewer_annotations_in_comments_are_removed(code: str, language: str, cleaned: str) -> None:
    result = strip_annotations(code, language)
    assert result.reason is None and result.code == cleaned


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("url = 'http://example.com'  # the endpoint", "py"),
        ("const c = '#fff'; // brand colour", "ts"),
        ("class A { #secret = 1; }", "ts"),
        ("print('❌ failed')", "py"),  # a marker inside a string is program text
    ],
)
def test_ordinary_comments_strings_and_urls_stay(code: str, language: str) -> None:
    assert strip_annotations(code, language).code == code


def test_a_marker_in_the_code_itself_drops_the_snippet() -> None:
    result = strip_annotations('"Effect": "Allow",  ❌ too broad\n"Action": "*"', "json")
    assert result.reason == "annotation in the code itself"
    assert strip_annotations("MODEL_RESPONSE = load()", "py").reason is not None


def test_a_comment_starts_outside_quotes_only() -> None:
    assert split_comment("s = 'a # b'  # real", ("#",)) == ("s = 'a # b'  ", "# real")
    assert split_comment('x = "//not"; // yes', ("//", "/*")) == ('x = "//not"; ', "// yes")


@pytest.mark.parametrize(
    "code",
    [
        "bucket = Bucket('b')\n...\n",
        "# ... other configuration ...\nx = 1",
        "props: {...}",
        "new Stack(app, 'id', ...);",
        "// rest of the code unchanged",
        "# Implementation details...",
        "# Lambda functions (...)",
    ],
)
def test_placeholders_are_found(code: str) -> None:
    assert has_placeholder(code, "ts" if "//" in code else "py")


@pytest.mark.parametrize(
    "code",
    [
        "const all = [...a, ...b];",
        "f(...args)",
        "// publicKey: 'ssh-rsa AAAA...'",
        "x = {**base}",
        "// policy = new LogDataProtectionPolicy(...)",  # commented-out code: it leaves no running code out
    ],
)
def test_spreads_quoted_ellipses_and_commented_out_calls_are_not_placeholders(code: str) -> None:
    assert not has_placeholder(code, "ts")


def test_clean_code_refuses_placeholders_fragments_and_code_that_does_not_parse() -> None:
    assert clean_code("a = 1\n# ...\nb = 2", "py").reason == "placeholder in code"
    assert clean_code("a = 1", "py", min_lines=3).reason == "fragment under the minimum lines"
    assert clean_code('{"a": 1,\n"b": 2\n"c": 3}', "json").reason == "does not parse (json)"
    assert clean_code("def f(:\n    pass\n    x = 1", "python").reason == "does not parse (python)"
    assert clean_code("key: [unclosed\nother: 1\nthird: 2", "yaml").reason == "does not parse (yaml)"


def test_clean_code_accepts_indented_python_and_cloudformation_tags() -> None:
    assert clean_code("    x = 1\n    y = 2\n    z = x + y", "py", min_lines=3).reason is None
    yaml_code = "Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub '${A}-b'"
    assert clean_code(yaml_code, "yaml", min_lines=3).reason is None
    assert parse_problem("resource {", "hcl") in (None, "hcl")  # HCL only when python-hcl2 is installed


def test_comments_do_not_make_two_snippets_differ() -> None:
    assert without_comments("x = 1  # old\n\n# note\ny = 2", "py") == without_comments("x = 1\ny = 2  # new", "py")


def test_a_whole_answer_loses_marks_and_sections_about_the_other_documents() -> None:
    document = "\n".join(
        [
            "# IDEAL_RESPONSE - Bucket stack (CORRECTED)",
            "",
            "The stack, corrected.",
            "",
            "- ✅ Encryption at rest",
            "",
            "## Key Improvements Over MODEL_RESPONSE",
            "",
            "- fixed the ACL",
            "",
            "### Details",
            "",
            "more about the fixes",
            "",
            "## Status: FIXED",
            "",
            "all green",
            "",
            "## Files",
            "",
            "```python",
            "bucket = Bucket('b')  # FIXED: private",
            "print('✅ done')",
            "```",
            "",
            "Compared with the MODEL_RESPONSE, nothing else changed.",
        ]
    )
    cleaned = clean_document(document, check_code=True)
    assert cleaned.reason is None
    assert cleaned.text == (
        "# Bucket stack\n\nThe stack, corrected.\n\n- Encryption at rest\n\n## Files\n\n"
        "```python\nbucket = Bucket('b')\nprint('✅ done')\n```\n"
    )


def test_a_preferred_answer_with_a_placeholder_is_refused() -> None:
    document = "Here it is:\n\n```ts\nconst a = 1;\n// ... rest of implementation\n```\n"
    assert clean_document(document, check_code=True).reason == "placeholder in code"
    assert clean_document(document, check_code=False).reason is None  # the rejected side may be incomplete


def test_an_analysis_names_the_documents_plainly_and_marks_its_elided_quotes_as_excerpts() -> None:
    assert neutral_names("The MODEL_RESPONSE used X; IDEAL_RESPONSE.md uses Y.") == (
        "The model's response used X; the corrected response uses Y."
    )
    report = (
        "## Issues in MODEL_RESPONSE\n\n```ts\nconst a = 1;\n// ...\nconst b = 2;\n```\n\n```ts\nconst c = 3;\n```\n"
    )
    cleaned = clean_document(report, check_code=False, references="rename")
    assert cleaned.text == (
        "## Issues in the model's response\n\n```ts excerpt\nconst a = 1;\n// ...\nconst b = 2;\n```\n\n"
        "```ts\nconst c = 3;\n```\n"
    )
    assert not elides_code(cleaned.text)
    assert elides_code(report)


def test_a_placeholder_is_code_left_out_not_an_elision_in_prose_or_output() -> None:
    assert not elides_code('The prompt says: "two files [...] a CSV". Use `new S3Backend(...)`.\n')
    assert not elides_code("```text\nDeploying...\n...\n```\n")
    assert elides_code("Done:\n\n```python\nstack = Stack(app, 'id', ...)\n```\n")


def test_a_code_block_that_copies_another_task_document_is_not_part_of_the_answer() -> None:
    document = "\n".join(
        [
            "# VPC stack",
            "",
            "```hcl",
            'resource "aws_vpc" "main" {',
            '  cidr_block = "10.0.0.0/16"',
            "}",
            "```",
            "",
            "```python",
            "# lib/MODEL_RESPONSE.md (represented)",
            "# Content omitted here to avoid nested code fences.",
            "```",
            "",
            "```markdown",
            "# lib/PROMPT.md (excerpt)",
            "We need a VPC.",
            "```",
        ]
    )
    cleaned = clean_document(document, check_code=True)
    assert cleaned.reason is None
    assert "PROMPT" not in cleaned.text and "omitted" not in cleaned.text and 'resource "aws_vpc"' in cleaned.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```py\na = 1\n```\nafter", [("code", "a = 1", "```"), ("prose", "after", "")]),
        ("  ```\nx\n\t```  \n", [("code", "x", "\t```  ")]),  # closed by an indented fence
        ("```\nx\r\n\r```\ny", [("code", "x\r", "\r```"), ("prose", "y", "")]),  # `\r` is white space
        ("```\nx\n\u00a0```\n", [("code", "x", "\u00a0```")]),  # so is a no-break space (`str.strip`)
        ("```\na ```\n````\n", [("code", "a ```", "````")]),  # a fence inside a line does not close
        ("````\n```\n````\nz", [("code", "```", "````"), ("prose", "z", "")]),  # a shorter one neither
        ("~~~\n```\n~~~", [("code", "```", "~~~")]),
        ("```\n\n```", [("code", "", "```")]),
        ("```\n```", [("code", "", "```")]),
        ("text\n```ts\nopen", [("prose", "text", ""), ("code", "open", "```")]),  # never closed
        ("```", [("code", "", "```")]),
    ],
)
def test_blocks_end_a_code_block_at_the_first_closing_fence(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert [(b.kind, b.text, b.fences[1]) for b in blocks(text)] == expected


def test_annotations_are_found_on_any_line_however_many_needles_it_holds() -> None:
    code = "a = 1  # ❌ wrong\nb = '#'  # WRONG: x\n# MODEL_RESPONSE had this\nc = 3\n✅ d = 4"
    assert strip_annotations(code, "py", keep_marks=True) == Cleaned("a = 1\nb = '#'\nc = 3\n✅ d = 4")
    assert strip_annotations(code, "py").reason == "annotation in the code itself"
    assert has_placeholder("x = 1\ny = {...}", "py") and not has_placeholder("x = 1\ny = 2 # ok", "py")
