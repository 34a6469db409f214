"""Record text made safe for MkDocs pages: data shows as text, never as markup.

MkDocs renders pages with Python-Markdown, which passes raw HTML through and reads
``{: attr=...}`` lists, so record text never reaches it as Markdown. Instead:

- Markdown-valued fields (intro, root cause, ...) are rendered to HTML here with
  markdown-it-py, raw HTML disabled (``<script>`` shows as text), links limited to
  ``https``/``http``/``mailto``/``#`` (``javascript:`` links stay literal text), images
  shown as their text, headings moved below the page's own. The result is placed in
  the page as one raw HTML block (``html_block``), which Python-Markdown keeps as is.
- Single-line text (titles, names, labels) goes through ``plain``: every character
  Python-Markdown or its extensions would read is written as a numeric character
  reference, so the text can sit in a heading, a link text or a table cell.
- Code goes through ``kb.render.markdown.fence`` with a language reduced to a safe word
  (``code_language``), so a fence's info string cannot carry attributes.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import escape

__all__ = [
    "code_language",
    "html_block",
    "html_inline",
    "meta_title",
    "plain",
    "render_html",
    "title_html",
    "wrap_block",
]

_SAFE_LINK = re.compile(r"^(?:https?://|mailto:|#)", re.IGNORECASE)
_HEADING_SHIFT = 3
"""Record headings start at h4: the page uses h1 (case), h2 (failure) and labels."""

# Characters that mean something to Python-Markdown or the extensions the site enables
# (attr_list braces, tables' pipes, emphasis, links, entities, HTML, tilde/caret marks).
_MARKDOWN_SPECIAL = frozenset('\\`*_{}[]#|~^=<>&"')
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_LANGUAGE_WORD = re.compile(r"[A-Za-z0-9_+#.-]+")
# Text without these is one plain paragraph in CommonMark, so it skips the parser (most
# short fields: lessons, gaps, bullets). Line breaks, inline markup, HTML, entities and
# block starts (lists, quotes, headings, numbered items, indented code) all go to markdown-it.
_NOT_PLAIN = re.compile(r"[\\`*_\[\]<>&~]|[^\S ]")
_BLOCK_START = re.compile(r"^(?:\s|[-+*>#=|]|\d+[.)])")


class _SafeMarkdown(MarkdownIt):
    """CommonMark plus tables and strikethrough, raw HTML off, unsafe links refused."""

    def __init__(self) -> None:
        super().__init__("commonmark", {"html": False, "linkify": False, "typographer": False})
        self.enable(["table", "strikethrough"])
        self.disable(["image", "html_block", "html_inline"])  # the HTML rules do nothing with html off: skip them

    def validateLink(self, url: str) -> bool:  # markdown-it's method name
        return _SAFE_LINK.match(url.strip()) is not None


_MD = _SafeMarkdown()


def _shift_headings(tokens: list[Token]) -> None:
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1:]) + _HEADING_SHIFT)}"


def _is_plain(text: str) -> bool:
    """True when ``text`` is a single line of prose that CommonMark shows as it is."""
    stripped = text.rstrip(" ")
    return not _NOT_PLAIN.search(stripped) and not _BLOCK_START.match(stripped)


def render_html(text: str | None) -> str:
    """A Markdown field as safe HTML (raw HTML escaped, unsafe links dropped)."""
    if not text or not text.strip():
        return ""
    if _is_plain(text):
        return f"<p>{escape(text.strip(' '))}</p>\n"
    tokens = _MD.parse(text)
    _shift_headings(tokens)
    return str(_MD.renderer.render(tokens, _MD.options, {}))


def html_inline(text: str | None) -> str:
    """A one-paragraph Markdown field (a list item, a bullet) as safe inline HTML."""
    if not text or not text.strip():
        return ""
    if _is_plain(text):
        return str(escape(text.strip(" ")))
    return str(_MD.renderInline(text.strip()))


def html_block(text: str | None, css_class: str = "kb-md") -> str:
    """A Markdown field as a raw HTML block for a Markdown page: a ``div`` at column 0.

    Python-Markdown keeps such a block verbatim (it is never read as Markdown), so the
    field's own Markdown has been rendered by ``render_html`` alone. Empty text gives
    an empty string.
    """
    return wrap_block(render_html(text), css_class)


def wrap_block(html: str, css_class: str = "kb-md") -> str:
    """Rendered HTML in a ``div`` block (empty HTML gives an empty string)."""
    if not html:
        return ""
    return f'<div class="{escape(css_class)}">\n{html.rstrip()}\n</div>'


_ENCODE = {ord(char): f"&#{ord(char)};" for char in _MARKDOWN_SPECIAL}


def _encode(text: str) -> str:
    return text.translate(_ENCODE)


def plain(text: str | None, *, code_spans: bool = True) -> str:
    """Single-line text that Python-Markdown shows exactly as written.

    Line breaks become spaces. With ``code_spans``, `` `x` `` spans show as code (their
    content is still encoded); everything else that Markdown or HTML would read is a
    character reference, so ``# x``, ``<script>``, ``{: onclick=x}`` stay text.
    """
    text = " ".join((text or "").split())
    if not code_spans or "`" not in text:
        return _encode(text)
    out: list[str] = []
    pos = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_encode(text[pos : match.start()]))
        out.append(f"<code>{_encode(match[2].strip() or match[2])}</code>")
        pos = match.end()
    out.append(_encode(text[pos:]))
    return "".join(out)


def title_html(text: str | None) -> str:
    """Single-line text as HTML for raw HTML blocks: escaped, `` `x` `` spans as ``<code>``."""
    text = " ".join((text or "").split())
    if "`" not in text:
        return str(escape(text))
    out: list[str] = []
    pos = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(str(escape(text[pos : match.start()])))
        out.append(f"<code>{escape(match[2].strip() or match[2])}</code>")
        pos = match.end()
    out.append(str(escape(text[pos:])))
    return "".join(out)


def meta_title(text: str) -> str:
    """A page title for front matter: themes print ``page.meta.title`` unescaped, so escape it here."""
    return str(escape(" ".join(text.split())))


def code_language(language: str | None) -> str:
    """A fence info word: the first run of ``[A-Za-z0-9_+#.-]`` (``ts {onclick=x}`` -> ``ts``)."""
    match = _LANGUAGE_WORD.search(language or "")
    return match[0].lower() if match else ""
