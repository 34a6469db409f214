"""The built site in a real browser: Debian's headless Chromium driven by Playwright (never downloaded)."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.helpers import SEED_CASE, SEED_FIRST, SEED_TITLE, build_site, write_hostile_kb

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
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tab.dialogs = dialogs
    try:
        yield tab
    finally:
        context.close()


def _search(page: Any, query: str) -> Any:
    """Type into the search box as a user does (the search reacts to key presses); return the result links."""
    field = page.locator("input.md-search__input")
    field.click()
    field.press_sequentially(query, delay=20)
    return page.locator("a.md-search-result__link")


def test_home_page_loads_with_counts_and_chart(seed_url: str, page: Any) -> None:
    page.goto(seed_url)
    assert "IaC model failures" in page.title()
    sync_api.expect(page.locator("h1")).to_contain_text("IaC model failures knowledge base")
    sync_api.expect(page.locator("figure.kb-chart svg").first).to_be_visible()
    sync_api.expect(page.locator(".md-tabs__link", has_text="Browse")).to_have_count(1)


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
    page.goto(seed_url)
    results = _search(page, "Account-Level Resource Violation")
    hit = results.filter(has=page.locator("h2", has_text=SEED_TITLE)).first
    sync_api.expect(hit).to_be_visible()
    assert f"cases/{SEED_CASE}/" in (hit.get_attribute("href") or "")
    assert (hit.get_attribute("href") or "").endswith(f"#{SEED_FIRST}")
    hit.click()
    sync_api.expect(page.locator(f"h3#{SEED_FIRST}")).to_be_in_viewport()


def test_hostile_text_shows_as_text_and_runs_nothing(hostile_url: str, page: Any) -> None:
    page.goto(f"{hostile_url}cases/evil/")
    sync_api.expect(page.locator("article")).to_contain_text('<script>alert("xss1")</script>')
    sync_api.expect(page.locator("article img")).to_have_count(0)
    for tab in page.locator(".tabbed-labels label").all():
        tab.click()
    sync_api.expect(page.locator("a[href^='javascript'], a[href^='JAVASCRIPT']")).to_have_count(0)
    results = _search(page, "description")  # a word of the hostile failure's description
    sync_api.expect(results.filter(has_text='<img src=x onerror=alert("xss2")>').first).to_be_visible()
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.evaluate("document.querySelectorAll('[onmouseover], [onerror], [onclick]').length") == 0
