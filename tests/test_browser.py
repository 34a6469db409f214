"""The built site in a real browser: Debian's headless Chromium driven by Playwright (never downloaded).

A failing test leaves a screenshot of its page in ``$KB_ARTEFACTS`` (default
``artefacts/browser/``), for CI to keep.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.helpers import (
    GENERATED_PLATFORMS,
    SEED_CASE,
    SEED_FIRST,
    SEED_TITLE,
    build_site,
    generated_failures,
    write_generated_kb,
    write_hostile_kb,
)

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000
ARTEFACTS = Path(os.environ.get("KB_ARTEFACTS", ROOT / "artefacts")) / "browser"
GENERATED_CASES = 300
PAGE_BUDGET = 1_500_000
"""Bytes a page may weigh with everything it loads (the site's budget at 5,000 cases)."""

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (.ci/run installs it: apt-get install -y chromium)",
)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(directory: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def seed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        out = build_site(ROOT / "failures", tmp_path_factory.mktemp("seed") / "site", monkeypatch)
    yield from _serve(out)


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("hostile")
    with pytest.MonkeyPatch.context() as monkeypatch:
        out = build_site(write_hostile_kb(base / "kb"), base / "site", monkeypatch, strict=False)
    yield from _serve(out)


@pytest.fixture(scope="module")
def generated_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("generated")
    with pytest.MonkeyPatch.context() as monkeypatch:
        out = build_site(write_generated_kb(base / "kb", GENERATED_CASES), base / "site", monkeypatch)
    yield from _serve(out)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tab.dialogs = dialogs
    try:
        yield tab
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTEFACTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(ARTEFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()


def _search(page: Any, base: str, query: str) -> Any:
    """Open the search page and type as a user does; return the result links."""
    page.goto(f"{base}search/")
    page.locator("#kb-search[data-ready]").wait_for()
    field = page.locator("#kb-search input[type=search]")
    field.click()
    field.press_sequentially(query, delay=20)
    return page.locator("#kb-search a")


def _explore(page: Any, base: str, view: str = "") -> None:
    page.goto(f"{base}browse/{view}")
    page.locator("#kb-explorer[data-ready]").wait_for()


def _summary(page: Any) -> tuple[int, int]:
    """(matching, total) failures, as the explorer states them."""
    text = page.locator(".kb-summary").inner_text()
    found = re.match(r"(\d+) of (\d+) failures", text)
    assert found, text
    return int(found[1]), int(found[2])


def _expected(impacts: set[str | None], platforms: set[str], services: set[str] | None = None) -> int:
    count = 0
    for case, failure in generated_failures(GENERATED_CASES):
        level = failure.impact.value if failure.impact else None
        platform = GENERATED_PLATFORMS[case % len(GENERATED_PLATFORMS)][0]
        named = set(failure.services or ["EC2", "ELB"])  # a failure naming none shows its task's
        if level in impacts and platform in platforms and (services is None or named & services):
            count += 1
    return count


def test_home_page_loads_with_counts_and_chart(seed_url: str, page: Any) -> None:
    page.goto(seed_url)
    assert "IaC model failures" in page.title()
    sync_api.expect(page.locator("h1")).to_contain_text("IaC model failures knowledge base")
    sync_api.expect(page.locator("figure.kb-chart svg").first).to_be_visible()
    sync_api.expect(page.locator(".md-tabs__link", has_text="Explore")).to_have_count(1)


def test_seed_case_page_shows_its_first_failure(seed_url: str, page: Any) -> None:
    page.goto(f"{seed_url}cases/{SEED_CASE}/")
    heading = page.locator(f"h3#{SEED_FIRST}")
    sync_api.expect(heading).to_be_visible()
    sync_api.expect(heading).to_contain_text(SEED_TITLE)
    sync_api.expect(page.locator(".tabbed-labels").first).to_contain_text("IDEAL_RESPONSE")
    page.locator(".tabbed-labels label", has_text="Diff").first.click()
    sync_api.expect(page.locator("pre.kb-diff").first).to_be_visible()
    sync_api.expect(page.locator("pre.kb-diff del").first).to_contain_text("-const configRecorder")


def test_search_finds_the_first_seed_failure(seed_url: str, page: Any) -> None:
    results = _search(page, seed_url, "Account-Level Resource Violation")
    hit = results.filter(has_text=SEED_TITLE).first
    sync_api.expect(hit).to_be_visible()
    assert f"cases/{SEED_CASE}/" in (hit.get_attribute("href") or "")
    hit.click()
    sync_api.expect(page.locator(f"h3#{SEED_FIRST}")).to_be_visible()


def test_explorer_combines_facets_counts_pages_and_sorts(generated_url: str, page: Any) -> None:
    _explore(page, generated_url, "#impact=critical,high&platform=cdk,tf")
    matching, total = _summary(page)
    assert total == len(generated_failures(GENERATED_CASES))
    assert matching == _expected({"critical", "high"}, {"cdk", "tf"}) > 50
    sync_api.expect(page.locator(".kb-results tbody tr")).to_have_count(50)  # one page
    for platform in page.locator(".kb-results tbody tr td:nth-child(3)").all_inner_texts():
        assert platform in ("AWS CDK", "Terraform")
    page.locator(".kb-facet[data-facet=service] input[value=Lambda]").check()
    sync_api.expect(page.locator(".kb-summary")).to_contain_text(
        f"{_expected({'critical', 'high'}, {'cdk', 'tf'}, {'Lambda'})} of {total} failures"
    )
    assert "service=Lambda" in page.url
    page.locator(".kb-facet[data-facet=service] input[value=Lambda]").uncheck()
    page.locator(".kb-pager a", has_text="Next").first.click()
    sync_api.expect(page.locator(".kb-pager a[aria-current=page]")).to_have_text("2")
    assert "page=2" in page.url
    page.select_option("select.kb-sort", "case")
    cases = page.locator(".kb-results tbody tr td:nth-child(2) > a").all_inner_texts()
    assert cases == sorted(cases) and cases[0] == "gen-0000"


def test_explorer_view_is_in_the_address(generated_url: str, page: Any) -> None:
    _explore(page, generated_url, "#category=encryption&flag=code&sort=case&page=2")
    assert page.locator(".kb-facet[data-facet=category] input[value=encryption]").is_checked()
    assert page.locator("input[data-flag=code]").is_checked()
    sync_api.expect(page.locator(".kb-pager a[aria-current=page]")).to_have_text("2")
    matching, _ = _summary(page)
    expected = [
        f
        for _, f in generated_failures(GENERATED_CASES)
        if f.category == "encryption"
        and ((f.model_response and f.model_response.code) or (f.ideal_response and f.ideal_response.code))
    ]
    assert matching == len(expected)


def test_a_row_opens_its_failure_and_the_permalink_points_at_it(generated_url: str, page: Any) -> None:
    _explore(page, generated_url, "#sort=case")
    row = page.locator(".kb-results tbody tr").first
    link = row.locator("td:first-child a")
    title = link.inner_text()
    link.click()
    heading = page.locator("h3#failure-1")
    sync_api.expect(heading).to_be_in_viewport()
    sync_api.expect(heading).to_contain_text(title)
    permalink = page.locator("h3#failure-1 + p.kb-meta a.kb-permalink")
    assert (permalink.get_attribute("href") or "").endswith("#failure-1")
    sync_api.expect(page.locator("h1")).to_contain_text(
        "Build the generated stack number 0"
    )  # a generic title replaced


def test_search_finds_a_root_cause_and_filters_by_platform(generated_url: str, page: Any) -> None:
    results = _search(page, generated_url, "gen17x2")
    sync_api.expect(results.first).to_be_visible()
    assert "cases/gen-0017/" in (results.first.get_attribute("href") or "")
    page.select_option("select[data-filter=platform]", "AWS CDK")  # case 17 is Pulumi's
    sync_api.expect(page.locator(".kb-search-status")).to_contain_text("0 pages")


def test_pages_stay_within_their_weight(generated_url: str, page: Any) -> None:
    for path in ("", "browse/", "cases/gen-0001/", "search/"):
        page.goto(f"{generated_url}{path}")
        page.wait_for_load_state("networkidle")
        weight = page.evaluate(
            "performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
            ".reduce((n, e) => n + (e.transferSize || e.encodedBodySize || 0), 0)"
        )
        assert 0 < weight <= PAGE_BUDGET, f"{path or 'home'}: {weight} bytes"


def test_hostile_text_shows_as_text_and_runs_nothing(hostile_url: str, page: Any) -> None:
    page.goto(f"{hostile_url}cases/evil/")
    sync_api.expect(page.locator("article")).to_contain_text('<script>alert("xss1")</script>')
    sync_api.expect(page.locator("article img")).to_have_count(0)
    for tab in page.locator(".tabbed-labels label").all():
        tab.click()
    sync_api.expect(page.locator("a[href^='javascript'], a[href^='JAVASCRIPT']")).to_have_count(0)
    results = _search(page, hostile_url, "xss1")
    sync_api.expect(results.filter(has_text='<img src=x onerror=alert("xss2")>').first).to_be_visible()
    sync_api.expect(page.locator("#kb-search img")).to_have_count(0)
    _explore(page, hostile_url)
    sync_api.expect(page.locator("#kb-explorer")).to_contain_text('<script>alert("xss1")</script>')
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.evaluate("document.querySelectorAll('[onmouseover], [onerror], [onclick]').length") == 0
