"""What changed, for machines: the site's change feed (`feed.json`) and `modified.csv`.

`feed.json` is a JSON Feed 1.1 of the cases most recently added or modified (their change
date: the latest `modified`/`published` of the case and its failures), newest first, ties
by id; a withdrawn case stays in it, marked. `modified.csv` lists every dated record, like
osv.dev's: `<date>,<id>` (a case id, or `<case>/<failure>`), newest first. Both are
built from the records' own dates only, so the same knowledge base gives the same bytes.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

from generator.pages.html import page_url
from kb.lifecycle import case_changed, case_published, failure_changed
from kb.store import KnowledgeBase, LoadedCase
from kb.totals import totals_line

FEED_FILE = "feed.json"
MODIFIED_FILE = "modified.csv"
FEED_ITEMS = 100
"""Cases in the feed (readers poll it; `modified.csv` lists everything)."""


@dataclass(frozen=True)
class Change:
    """A case as the feed lists it."""

    case: LoadedCase
    modified: datetime.date
    published: datetime.date | None


def changes(kb: KnowledgeBase, *, limit: int | None = FEED_ITEMS) -> list[Change]:
    """The dated cases, most recently changed first (ties by id); undated cases are left out."""
    found = []
    for case in kb.cases:
        modified = case_changed(case)
        if modified is not None:
            found.append(Change(case, modified, case_published(case)))
    found.sort(key=lambda c: (-c.modified.toordinal(), c.case.id))
    return found[:limit] if limit is not None else found


def _stamp(day: datetime.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def feed_json(kb: KnowledgeBase, *, title: str, site_url: str | None, directory_urls: bool = True) -> str:
    """The JSON Feed text: links absolute under ``site_url`` when given, else relative to the site root."""
    base = (site_url or "").rstrip("/") + "/" if site_url else ""
    items = []
    for change in changes(kb):
        case = change.case.case
        url = base + page_url(f"cases/{case.id}.md", directory_urls=directory_urls)
        item: dict[str, Any] = {
            "id": case.id,
            "url": url,
            "title": f"Withdrawn: {case.title}" if case.withdrawn else case.title,
            "content_text": f"Failures: {totals_line(f.failure for f in change.case.failures)}",
            "date_modified": _stamp(change.modified),
        }
        if change.published:
            item["date_published"] = _stamp(change.published)
        if case.withdrawn:
            item["_kb"] = {"withdrawn": {"date": case.withdrawn.date.isoformat(), "reason": case.withdrawn.reason}}
        items.append(item)
    feed: dict[str, Any] = {"version": "https://jsonfeed.org/version/1.1", "title": f"{title}: changes", "items": items}
    if base:
        feed |= {"home_page_url": base, "feed_url": base + FEED_FILE}
    return json.dumps(feed, ensure_ascii=False, indent=2) + "\n"


def modified_csv(kb: KnowledgeBase) -> str:
    """`<date>,<id>` for every dated case and failure, newest first, ties by id (no header, as osv.dev's)."""
    rows: list[tuple[datetime.date, str]] = []
    for case in kb.cases:
        changed = case_changed(case)
        if changed is not None:
            rows.append((changed, case.id))
        for loaded in case.failures:
            day = failure_changed(case, loaded)
            if day is not None:
                rows.append((day, f"{case.id}/{loaded.failure.id}"))
    rows.sort(key=lambda row: (-row[0].toordinal(), row[1]))
    return "".join(f"{day.isoformat()},{ref}\n" for day, ref in rows)
