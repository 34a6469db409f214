"""The site keeps old addresses: alias redirects, anchors of former ids, tombstones; and it says what changed."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from generator.pages.feed import feed_json, modified_csv
from kb.models import Case, Withdrawn
from kb.store import load_kb
from tests.helpers import build_site, make_failure, write_kb

D = datetime.date


def test_a_renamed_failure_and_case_keep_their_site_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = write_kb(
        tmp_path / "kb",
        [
            (
                Case(id="alpha", title="Alpha", aliases=["pr100"]),
                [make_failure("new-name", aliases=["old-name", "merged-case/moved"])],
            ),
            (Case(id="bravo", title="Bravo"), [make_failure("other", related=["pr100/old-name"])]),
        ],
    )
    out = build_site(kb, tmp_path / "site", monkeypatch)
    case_page = (out / "cases" / "alpha" / "index.html").read_text(encoding="utf-8")
    assert 'id="new-name"' in case_page and 'id="old-name"' in case_page  # cases/alpha/#old-name still lands
    redirect = (out / "cases" / "pr100" / "index.html").read_text(encoding="utf-8")
    assert '<meta http-equiv="refresh" content="0; url=../alpha/">' in redirect
    assert '{"old-name": "new-name"}' in redirect  # cases/pr100/#old-name -> cases/alpha/#new-name
    moved = (out / "cases" / "merged-case" / "index.html").read_text(encoding="utf-8")
    assert "url=../alpha/" in moved and '{"moved": "new-name"}' in moved


def test_a_withdrawn_case_keeps_its_page_as_a_tombstone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = Withdrawn(date=D(2026, 2, 1), reason="A near-copy of **alpha**.")
    kb = write_kb(
        tmp_path / "kb",
        [
            (
                Case(id="alpha", title="Alpha", published=D(2026, 1, 1)),
                [make_failure("kept"), make_failure("dropped", withdrawn=gone, superseded_by="alpha/kept")],
            ),
            (Case(id="bravo", title="Bravo", withdrawn=gone, superseded_by="alpha"), [make_failure("all-gone")]),
        ],
    )
    out = build_site(kb, tmp_path / "site", monkeypatch)
    tombstone = (out / "cases" / "bravo" / "index.html").read_text(encoding="utf-8")
    assert "Withdrawn" in tombstone and "A near-copy of <strong>alpha</strong>." in tombstone
    assert 'href="../alpha/"' in tombstone and 'id="all-gone"' in tombstone
    alpha = (out / "cases" / "alpha" / "index.html").read_text(encoding="utf-8")
    assert 'id="dropped"' in alpha and 'href="#kept"' in alpha  # listed under Withdrawn, linked to its successor
    assert "<strong>Published</strong>" in alpha and "2026-01-01" in alpha
    explored = json.loads((out / "data" / "facets.json").read_text(encoding="utf-8"))
    assert [case[0] for case in explored["cases"]] == ["alpha"]  # the explorer counts no withdrawn record
    titles = json.loads((out / "data" / "titles-0.json").read_text(encoding="utf-8"))
    assert [row[0] for row in titles] == ["kept"]


def _state(root: Path, *, later: bool) -> Path:
    """A knowledge base before (``later`` False) and after a month of edits: bravo edited, charlie added."""
    cases = [
        (Case(id="alpha", title="Alpha", published=D(2026, 1, 1)), [make_failure("a1")]),
        (
            Case(id="bravo", title="Bravo", published=D(2026, 1, 2)),
            [make_failure("b1", modified=D(2026, 2, 10) if later else None)],
        ),
    ]
    if later:
        cases.append((Case(id="charlie", title="Charlie", published=D(2026, 2, 3)), [make_failure("c1")]))
    return write_kb(root, cases)


def test_the_feed_lists_the_cases_changed_between_two_states(tmp_path: Path) -> None:
    before = load_kb(_state(tmp_path / "before", later=False))
    after = load_kb(_state(tmp_path / "after", later=True))
    old = json.loads(feed_json(before, title="KB", site_url=None))
    new = json.loads(feed_json(after, title="KB", site_url="https://kb.example.com/"))
    last_seen = max(item["date_modified"] for item in old["items"])
    changed = [item["id"] for item in new["items"] if item["date_modified"] > last_seen]
    assert changed == ["bravo", "charlie"]  # most recently changed first
    assert [item["id"] for item in new["items"]] == ["bravo", "charlie", "alpha"]
    assert new["items"][0] == {
        "id": "bravo",
        "url": "https://kb.example.com/cases/bravo/",
        "title": "Bravo",
        "content_text": "Failures: 1 (1 High)",
        "date_modified": "2026-02-10T00:00:00Z",
        "date_published": "2026-01-02T00:00:00Z",
    }
    assert feed_json(after, title="KB", site_url=None) == feed_json(
        load_kb(tmp_path / "after"), title="KB", site_url=None
    )
    assert modified_csv(after).splitlines() == [
        "2026-02-10,bravo",
        "2026-02-10,bravo/b1",
        "2026-02-03,charlie",
        "2026-02-03,charlie/c1",
        "2026-01-01,alpha",
        "2026-01-01,alpha/a1",
    ]


def test_the_built_site_publishes_the_feed_and_modified_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = build_site(_state(tmp_path / "kb", later=True), tmp_path / "site", monkeypatch)
    feed = json.loads((out / "feed.json").read_text(encoding="utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert [item["id"] for item in feed["items"]] == ["bravo", "charlie", "alpha"]
    assert (out / "modified.csv").read_text(encoding="utf-8").startswith("2026-02-10,bravo\n")
