"""Safe Markdown helpers: fences nothing can close, inline text that opens no block, diffs."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from kb.render.markdown import block, code_span, diff, fence, inline, link

MD = MarkdownIt("commonmark").enable("table")

# CommonMark reads CR as a line break and NUL as U+FFFD; everything else must survive.
code_text = st.text(st.characters(blacklist_characters="\r\x00", blacklist_categories=("Cs",)))
markdownish = st.text(alphabet="#->+*=|_~`[]:()!?/0123456789.) \t<abcXY\\&;", max_size=40)
# Plain text without inline markup, so its rendered text must equal the input.
plain_structural = st.text(alphabet="#->+=|~:()0123456789.) \t<abc/!?", max_size=40)


def block_types(tokens: list[Token]) -> list[str]:
    return [t.type for t in tokens]


def inline_text(tokens: list[Token]) -> str:
    """The text a reader sees in the inline tokens of a parse."""
    parts = []
    for token in tokens:
        for child in token.children or []:
            if child.type in ("text", "code_inline"):
                parts.append(child.content)
            elif child.type == "softbreak":
                parts.append("\n")
    return "".join(parts)


def no_html(tokens: list[Token]) -> bool:
    for token in tokens:
        if token.type.startswith("html"):
            return False
        if any(child.type.startswith("html") for child in token.children or []):
            return False
    return True


# -- fence ----------------------------------------------------------------------------


@given(code=code_text, language=st.sampled_from([None, "", "typescript", "c++", "a`b"]))
@example(code="```", language="ts")
@example(code="~~~\nx\n~~~", language=None)
@example(code="a\n````\n`````` b", language="md")
@example(code="ends with newline\n", language=None)
@example(code="", language=None)
@example(code="    indented\n\ttab", language=None)
def test_any_code_survives_a_fence_round_trip(code: str, language: str | None) -> None:
    text = fence(code, language) + "\n\n# After\n"
    tokens = MD.parse(text)
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 1
    assert fences[0].content == code + "\n"
    # Nothing leaked out: the heading after the fence is still a heading.
    assert block_types(tokens)[-3:] == ["heading_open", "inline", "heading_close"]


def test_fence_is_longer_than_any_backtick_run() -> None:
    assert fence("x", "ts") == "```ts\nx\n```"
    assert fence("a ```` b", "md") == "`````md\na ```` b\n`````"
    assert fence("x", "a b\nc`") == "```a b c\nx\n```"


# -- inline ---------------------------------------------------------------------------


HOSTILE = [
    "# heading",
    "###### six",
    "- item",
    "+ item",
    "* item",
    "> quote",
    "| a | b |",
    "<script>alert(1)</script>",
    "</div>",
    "<!-- comment",
    "1. ordered",
    "2) ordered",
    "---",
    "***",
    "___",
    "--",
    "* *",
    "===",
    "```js",
    "~~~",
    "[ref]: https://evil.example",
    "    indented code",
    "title ending with #",
    "line one\n# line two",
    "a \\<b>",
]


def _contexts(text: str) -> dict[str, str]:
    safe = inline(text)
    return {
        "heading": f"# {safe}\n",
        "failure": f"### 1. {safe}\n",
        "bullet": f"- {safe}\n",
        "numbered": f"1. {safe}\n",
        "label": f"**{safe}**:\nbody\n",
        "line": f"para\n{safe}\n",
    }


def _assert_structure_kept(text: str) -> None:
    for name, doc in _contexts(text).items():
        tokens = MD.parse(doc)
        types = block_types(tokens)
        assert no_html(tokens), (name, doc)
        expected = {
            "heading": ["heading_open", "inline", "heading_close"],
            "failure": ["heading_open", "inline", "heading_close"],
            "bullet": ["bullet_list_open", "list_item_open"],
            "numbered": ["ordered_list_open", "list_item_open"],
            "label": ["paragraph_open", "inline", "paragraph_close"],
            "line": ["paragraph_open", "inline", "paragraph_close"],
        }[name]
        assert types[: len(expected)] == expected, (name, doc, types)
        allowed = set(expected) | {"paragraph_open", "paragraph_close", "inline", "list_item_close"}
        allowed |= {"bullet_list_close", "ordered_list_close"}
        assert set(types) <= allowed, (name, doc, types)
        assert types.count("inline") <= 1, (name, doc, types)


def test_hostile_text_opens_no_block_and_no_html() -> None:
    for text in HOSTILE:
        _assert_structure_kept(text)


@given(markdownish)
def test_any_single_line_text_keeps_the_structure(text: str) -> None:
    _assert_structure_kept(text)


@given(plain_structural)
@example("# x #")
@example("<script>")
@example("1) a")
def test_readers_see_the_original_text(text: str) -> None:
    expected = " ".join(text.split())
    for name in ("heading", "failure", "bullet", "numbered"):
        tokens = MD.parse(_contexts(text)[name])
        want = f"1. {expected}".strip() if name == "failure" else expected
        assert " ".join(inline_text(tokens).split()) == want, (name, text, inline(text))


def test_inline_escapes_only_what_is_needed() -> None:
    assert inline("AWS Config Account-Level Resource Violation") == "AWS Config Account-Level Resource Violation"
    assert inline("Use `<Tags>` in C#") == "Use `<Tags>` in C#"
    assert inline("**bold** start") == "**bold** start"
    assert inline("# x") == "\\# x"
    assert inline("<script>x</script>") == "\\<script>x\\</script>"
    assert inline("1. x") == "1\\. x"
    assert inline("x #") == "x \\#"
    assert inline("  a\n b  ") == "a b"
    assert inline("\\<b>") == "\\<b>"  # already escaped: left alone


# -- link, code span, block -----------------------------------------------------------


@given(title=markdownish, path=st.text(alphabet="abc()<> _", max_size=10))
def test_link_text_and_target_cannot_break_out(title: str, path: str) -> None:
    url = "https://example.com/" + path.replace(" ", "")
    tokens = MD.parse(link(title, url) + "\n")
    children = tokens[1].children or []
    opens = [c for c in children if c.type == "link_open"]
    assert len(opens) == 1
    assert children[-1].type == "link_close"
    assert no_html(tokens)
    assert "https://example.com/" in str(opens[0].attrGet("href"))


def test_link_keeps_balanced_parentheses() -> None:
    assert link("Doc", "https://x.example/a_(b)") == "[Doc](https://x.example/a_(b))"
    assert link("a [b]", "https://x.example/c)") == "[a \\[b\\]](https://x.example/c\\))"


@given(st.text(alphabet="`ab ", max_size=12).filter(lambda s: s.strip() and s == s.strip()))
def test_code_span_round_trips(text: str) -> None:
    children = MD.parse(code_span(text) + "\n")[1].children or []
    assert [c.type for c in children] == ["code_inline"]
    assert children[0].content == text


def test_block_trims_and_closes_an_open_fence() -> None:
    assert block("\n\nText\n\n") == "Text"
    assert block("Text:\n```py\nx = 1") == "Text:\n```py\nx = 1\n```"
    assert block("a\n~~~~\n```\n~~~~\nb") == "a\n~~~~\n```\n~~~~\nb"
    assert block("inline ```code``` only") == "inline ```code``` only"


@given(st.text(alphabet="`~ab\n", max_size=40))
def test_block_never_leaves_a_fence_open(text: str) -> None:
    tokens = MD.parse(block(text) + "\n\n# After\n")
    assert block_types(tokens)[-3:] == ["heading_open", "inline", "heading_close"]


# -- diff -----------------------------------------------------------------------------


def test_diff_is_a_unified_diff_of_the_two_snippets() -> None:
    result = diff("a\nb\nc", "a\nB\nc")
    assert result.splitlines() == [
        "--- MODEL_RESPONSE",
        "+++ IDEAL_RESPONSE",
        "@@ -1,3 +1,3 @@",
        " a",
        "-b",
        "+B",
        " c",
    ]
    assert diff("same", "same") == ""
    assert re.search(r"^\+new$", diff("", "new"), re.MULTILINE)
