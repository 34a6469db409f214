"""HTML blocks the site writes itself: code tabs, diffs and long failure lists.

Record code never passes through Python-Markdown: it is escaped here and placed in
the page as raw HTML, in the markup of Material's content tabs (the markup
``pymdownx.tabbed`` produces with ``alternate_style``), so it needs no fence, cannot
carry fence attributes, and costs one escape instead of a Markdown parse and a
Pygments pass (which would triple the size of every snippet and the build time).
Diff lines get a class each, so additions and removals show in colour.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import escape

from generator.pages.text import title_html

__all__ = [
    "PROMPT_PREVIEW",
    "ListItem",
    "Tab",
    "code_html",
    "diff_html",
    "list_html",
    "page_url",
    "prompt_html",
    "relative_url",
    "squeeze",
    "tabs_html",
]


@dataclass(frozen=True)
class Tab:
    """One content tab: its label (plain text) and its HTML."""

    label: str
    html: str


def code_html(code: str, language: str = "") -> str:
    """A code block: ``<pre><code class="language-x">`` with the code escaped."""
    css = f' class="language-{escape(language)}"' if language else ""
    return f"<pre><code{css}>{escape(code.rstrip(chr(10)))}\n</code></pre>"


_DIFF_TAGS = (("+++", "b"), ("---", "b"), ("@@", "i"), ("+", "ins"), ("-", "del"))


def _diff_line(line: str) -> str:
    for prefix, tag in _DIFF_TAGS:
        if line.startswith(prefix):
            return f"<{tag}>{escape(line)}</{tag}>"
    return str(escape(line))


PROMPT_PREVIEW = 600
"""Characters of the task prompt a case page shows: its opening states the task; the rest stays in PROMPT.md."""


def prompt_html(prompt: str) -> str:
    """The opening of the task prompt, collapsed and verbatim (context for the case, not a finding)."""
    text = prompt.strip()
    if not text:
        return ""
    more = ""
    if len(text) > PROMPT_PREVIEW:
        cut = text.rfind(" ", 0, PROMPT_PREVIEW)
        keep = cut if cut > 0 else PROMPT_PREVIEW
        more = f"<p>{len(text) - keep} more characters in the case's <code>PROMPT.md</code>.</p>"
        text = text[:keep] + " …"
    return (
        '<details class="abstract"><summary>Task prompt</summary>'
        f'<pre class="kb-prompt"><code>{escape(text)}\n</code></pre>{more}</details>'
    )


def diff_html(diff: str) -> str:
    """A unified diff as a code block: added lines in ``ins``, removed in ``del``, hunks in ``i``, file lines in ``b``."""
    lines = "\n".join(_diff_line(line) for line in diff.split("\n"))
    return f'<pre class="kb-diff"><code class="language-diff">{lines}\n</code></pre>'


def tabs_html(tabs: Sequence[Tab], number: int, structure: Callable[[str], str] = str) -> str:
    """Material content tabs (alternate style); ``number`` makes the radio ids unique on the page.

    The block starts at column 0 and holds no blank line outside ``pre``, so Python-Markdown
    keeps it as one raw HTML block. Every piece of markup that is structure, not content
    (the wrapper, radio inputs, labels, block boundaries), goes through ``structure``: the
    site stashes those until search has read the page, so its parser sees the content only.
    """
    if not tabs:
        return ""
    group = f"__tabbed_kb{number}"
    inputs = "".join(
        f'<input{" checked" if i == 1 else ""} id="{group}_{i}" name="{group}" type="radio" />'
        for i in range(1, len(tabs) + 1)
    )
    labels = "".join(f'<label for="{group}_{i}">{escape(tab.label)}</label>' for i, tab in enumerate(tabs, start=1))
    opening = (
        f'<div class="tabbed-set tabbed-alternate" data-tabs="{number}:{len(tabs)}">{inputs}'
        f'<div class="tabbed-labels">{labels}</div>\n<div class="tabbed-content">\n<div class="tabbed-block">\n'
    )
    between = structure('\n</div>\n<div class="tabbed-block">\n')
    return structure(opening) + between.join(tab.html for tab in tabs) + structure("\n</div>\n</div>\n</div>")


# -- links between generated pages ---------------------------------------------------


def page_url(path: str, *, directory_urls: bool = True, file: bool = False) -> str:
    """The URL MkDocs gives the page built from ``path`` (`cases/x.md` -> `cases/x/` or `cases/x.html`; `cases/x.json`
    stays); with ``file``, the built file's path (`cases/x/index.html`)."""
    if not path.endswith(".md"):
        return path  # a data file or asset keeps its path
    stem = path.removesuffix(".md")
    if not directory_urls:
        return f"{stem}.html"
    url = "" if stem == "index" else f"{stem.removesuffix('/index')}/"
    return f"{url}index.html" if file else url


def relative_url(from_path: str, to_path: str, anchor: str = "", *, directory_urls: bool = True) -> str:
    """A link from one generated page to another (for raw HTML, which MkDocs does not rewrite)."""
    source = page_url(from_path, directory_urls=directory_urls)
    target = page_url(to_path, directory_urls=directory_urls)
    base = source.rstrip("/") if source.endswith("/") or not source else posixpath.dirname(source)
    link = posixpath.relpath(target.rstrip("/") or ".", base or ".")
    if target.endswith("/") or not target:
        link += "/"
    return f"{link}#{anchor}" if anchor else link


@dataclass(frozen=True)
class ListItem:
    """One line of a failure list: a link, its text and an optional impact level for a badge."""

    href: str
    title: str
    level: str = ""
    """The impact level (or `none`); CSS draws the badge from the item's class."""


def list_html(items: Sequence[ListItem]) -> str:
    """A ``ul`` of links as one raw HTML block: a browse page's thousands of entries cost one escape each.

    Each entry is as small as it can be (one list page holds every failure of the KB): the
    badge is drawn by CSS from the ``li`` class, the case id is in the link.
    """
    lines = ['<ul class="kb-list">']
    for item in items:
        level = f' class="kb-{escape(item.level)}"' if item.level else ""
        lines.append(f'<li{level}><a href="{escape(item.href)}">{title_html(item.title)}</a></li>')
    lines.append("</ul>")
    return "\n".join(lines)


_VERBATIM = re.compile(r"<(pre|textarea|script|style)\b")
"""Elements whose white space is content."""
_INDENT = re.compile(r"\n[ \t\n]*")


def squeeze(html: str) -> str:
    """A page with each run of line breaks and indentation cut to one line break, outside ``<pre>``, ``<textarea>``,
    ``<script>`` and ``<style>``: it renders the same (the theme's templates indent deeply; at thousands of case
    pages that is a tenth of the site)."""
    parts: list[str] = []
    at = 0
    while (found := _VERBATIM.search(html, at)) is not None:
        close = html.find(f"</{found[1]}>", found.end())
        end = len(html) if close < 0 else close + len(found[1]) + 3
        parts += (_INDENT.sub("\n", html[at : found.start()]), html[found.start() : end])
        at = end
    parts.append(_INDENT.sub("\n", html[at:]))
    return "".join(parts)
