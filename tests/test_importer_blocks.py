"""The importer's block parse: the Rust parser gives the blocks markdown-it-py gives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.importer import blocks
from kb.importer.blocks import parse_blocks

pytest.importorskip("markdown_it_pyrs")

CORPUS_LIKE = [
    "# Title\n\nIntro.\n\n## 1. Missing KMS key\n\n**Impact Level**: High\n\n```hcl\nresource {}\n```\n",
    "Setext\n======\n\ntext\nover a rule\n---\n\n***\n",
    "- **Missing tag**: text\n  continued\n\n  second paragraph\n- next\n\n1) one\n2) two\n\n10. ten\n",
    "    indented code\n\n<div>\nhtml\n</div>\n\n<!-- comment\n-->\n\n## Closing ##\n#\n",
    "```\nunclosed fence\n\nto the end\n",
    "~~~~ py {x}\ncode\n~~~\n~~~~\n\n``` a`b\nnot a fence\n",
    "- a\n    - b\n        - c\n\n  lazy\nline\n\n* star\n+ plus\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n\nÜnïcödé ✅ heading\n===\n\n## ❌ Wrong\n",
    "1. x\n\n   ```yaml\n   a: b\n   ```\n2. y\n\n###NoSpace\n",
    "<pre>\n\n</pre>\n<script>\nx\n</script>\n\n<a href='x'>\n\ntext  \nbreak\\\nend",
]

DIFFERENT = [
    '[foo]: /url "\nhello\n\\\n\\\n\\\nworld\n"\n\n[foo]',  # a reference's title over lines
    "> q\n  10.  foo\n\n           bar\n",  # a lazy line that looks like a list item
    "```\ncode\n\n  ",  # an open fence, a last line of spaces
    "<a href='x'>\x1c\n",  # U+001C is a space to Python's `\s`
]


def _markdown_it_py(text: str) -> list[blocks.Block]:
    return parse_blocks(text, rust=False).blocks


@pytest.mark.parametrize("text", CORPUS_LIKE)
def test_rust_parser_reads_the_documents_as_markdown_it_py_does(text: str) -> None:
    assert not blocks._rust_unsure(text)
    assert parse_blocks(text).blocks == _markdown_it_py(text)


@pytest.mark.parametrize("text", DIFFERENT)
def test_what_the_rust_parser_reads_differently_goes_to_markdown_it_py(text: str) -> None:
    lines = text.split("\n")
    assert blocks._rust_blocks(text, lines, blocks._line_starts(text, lines)) != _markdown_it_py(text)
    assert blocks._rust_unsure(text)
    assert parse_blocks(text).blocks == _markdown_it_py(text)


def test_lone_surrogate_and_multibyte_lines() -> None:
    text = "## é\n\n- \ud800 item\n\n## 2. 😀 next\n\ntext\n"
    assert parse_blocks(text).blocks == _markdown_it_py(text)
    text = "## é 😀\n\n```py\nprint('ü')\n```\n\n- ß\n- ∂\n"
    assert not blocks._rust_unsure(text)
    assert parse_blocks(text).blocks == _markdown_it_py(text)


_PIECES = [
    "# ", "## x", "### 2. T ##", "- ", "* ", "+ ", "1. ", "10) ", "```", "~~~", "```py", "    ", "  ",
    "\n", "\n\n", "***", "---", "===", "- - -", "<div>", "</div>", "<!--", "-->", "<pre>", "</pre>",
    "<?", "?>", "<![CDATA[", "]]>", "<a href='x'>", "</a>", "text", "**Bold**:", "*", "_", "`",
    "|a|b|", "|-|-|", "[a]", "(b)", "\\", "é", "✅", ">", "]:", "\t",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=40))
def test_random_mixes_of_block_syntax_parse_the_same(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert parse_blocks(text).blocks == _markdown_it_py(text)


def test_fixture_and_corpus_documents_parse_the_same() -> None:
    documents = sorted((Path(__file__).parent / "fixtures" / "import").rglob("*.md"))
    assert documents
    corpus = os.environ.get("KB_CORPUS")
    if corpus and Path(corpus).is_dir():
        documents += sorted(Path(corpus).rglob("MODEL_FAILURES.md"))
    for path in documents:
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        assert parse_blocks(text).blocks == _markdown_it_py(text), path
