"""What search indexes: a small HTML page per case holding only what people search for.

Pagefind reads HTML, and parsing every full case page (code, diffs, prompts, the theme's
chrome) is most of its time. So the site gives it, per case, a page of its own under
kb's cache folder: the case's display title, and for each failure its title (a heading
with the failure's anchor, so a result links to the failure), services, error and root
cause, with impact, platform, language and service as filters. Pagefind indexes those
and writes its index into the built site; result URLs are the case pages'.
"""

from __future__ import annotations

from markupsafe import escape

from generator.pages.browse import PLATFORM_NAMES
from generator.pages.titles import case_title, plain_title
from kb.facets import facets_of
from kb.names import NONE
from kb.store import LoadedCase

__all__ = ["search_page"]

_CHARS = 2000
"""Characters of a root cause or error indexed: the mistake is stated early."""


def _filter(name: str, value: str) -> str:
    return f'<span data-pagefind-filter="{name}">{escape(value)}</span>'


def search_page(case: LoadedCase) -> str:
    """The page Pagefind indexes for a case (kept at the case page's path, so results link to it)."""
    title = case_title(case.case)
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title></head><body data-pagefind-body>",
        f"<h1>{escape(title)}</h1>",
    ]
    task = case.case.task
    if task and task.platform:
        parts.append(_filter("platform", PLATFORM_NAMES.get(task.platform, task.platform)))
    if task and task.language:
        parts.append(_filter("language", task.language))
    for loaded in case.failures:
        failure = loaded.failure
        if not failure.is_failure:
            continue
        facets = facets_of(failure, case.case)
        parts.append(f'<h3 id="{escape(failure.id)}">{escape(plain_title(failure.title))}</h3>')
        if failure.impact:
            parts.append(_filter("impact", failure.impact.value))
        services = [s for s in facets.services if s != NONE]
        if services:
            parts.append(f"<p>Services: {escape(', '.join(services))}</p>")
        if failure.error:
            parts.append(f"<p>Error: {escape(failure.error[:_CHARS])}</p>")
        if failure.root_cause:
            parts.append(f"<p>{escape(failure.root_cause[:_CHARS])}</p>")
    parts.append("</body></html>\n")
    return "".join(parts)
