"""The MkDocs site: pages generated from the records, counts shared with `kb stats`, hostile text inert."""

from __future__ import annotations

import gzip
import html
import json
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2
import markdown
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape
from mkdocs.commands import build as build_module
from mkdocs.config import load_config
from mkdocs.exceptions import Abort

from generator import site
from generator.pages import session as session_module
from generator.pages.build import SiteBuild, build_pages, front_matter
from generator.pages.charts import Bar, bar_chart
from generator.pages.code import CodeFile, Snippet, snippet
from generator.pages.html import squeeze
from generator.pages.reference import cli_docs, schema_docs
from generator.pages.text import _MD, _is_plain, code_language, html_block, meta_title, plain, render_html
from generator.pages.titles import case_title
from kb.models import (
    Case,
    Failure,
    Impact,
    Reference,
    Section,
    Task,
)
from kb.render.env import make_env
from kb.render.report import render_case
from kb.stats import compute_stats
from kb.store import CASE_FILE, failure_file_name, load_kb, save_record, scan_kb
from tests.conftest import ROOT
from tests.helpers import (
    SEED_CASE,
    SEED_FIRST,
    SEED_TITLE,
    build_site,
    page,
    write_generated_kb,
    write_hostile_kb,
)


class InertChecker(HTMLParser):
    """Collects every place where record text became live markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.stack: list[str] = []
        self.script = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action", "formaction", "xlink:href") and re.match(
                r"\s*(javascript|vbscript|data):", value or "", re.I
            ):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag in ("img", "iframe", "object", "embed"):
            self.found.append(f"<{tag}>")
        self.script = tag == "script"
        if tag not in ("br", "hr", "input", "meta", "link", "img", "path", "rect"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.script = False
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self.script and "xss" in data:
            self.found.append(f"<script>{data[:40]}")
        if "BROKEN OUT" in data and any(t in ("h1", "h2", "h3", "h4", "h5", "h6") for t in self.stack):
            self.found.append("a code fence was broken out of")
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        if " c " in data:
            self.found.append("<!-- record comment -->")


def inert_report(html: str) -> tuple[list[str], str]:
    checker = InertChecker()
    checker.feed(html)
    checker.close()
    return checker.found, "".join(checker.text)


def pagefind_fragment(path: Path) -> dict[str, Any]:
    """One page of Pagefind's index (a gzipped JSON document after a signature)."""
    data = gzip.decompress(path.read_bytes())
    return dict(json.loads(data[data.index(b"{") :]))


def broken_links(out: Path) -> list[str]:
    """Every relative link of the built site whose page or anchor does not exist."""
    broken = []
    for page_file in sorted(out.rglob("*.html")):
        if page_file.name == "404.html":  # MkDocs writes it with absolute links
            continue
        text = page_file.read_text(encoding="utf-8")
        for href in re.findall(r'<a [^>]*?href="([^"]+)"', text):
            parts = urlsplit(html.unescape(href))
            if parts.scheme or parts.netloc or (href.startswith("#") and not parts.fragment):
                continue
            target = (page_file.parent / unquote(parts.path)).resolve() if parts.path else page_file
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page_file.relative_to(out)}: {href}")
            elif "=" in parts.fragment:  # an explorer view (#service=Lambda): the filter must name a known value
                data = json.loads((out / "data" / "facets.json").read_text(encoding="utf-8"))
                facet, _, value = parts.fragment.partition("=")
                if unquote(value) not in [key for key, _ in data["facets"].get(facet, [])]:
                    broken.append(f"{page_file.relative_to(out)}: {href} (no such {facet} in the explorer)")
            elif parts.fragment and f'id="{parts.fragment}"' not in target.read_text(encoding="utf-8"):
                broken.append(f"{page_file.relative_to(out)}: {href} (no such anchor)")
    return broken


# -- text helpers ------------------------------------------------------------------------


def test_plain_text_is_shown_as_written_never_read_as_markdown() -> None:
    text = plain("# Title *x* <b>y</b> {: .c onclick=z } [l](u) a|b `c <d>`")
    assert "<b>" not in text and "{:" not in text and "|" not in text and "[" not in text
    assert text.startswith("&#35; Title &#42;x&#42; &#60;b&#62;")
    assert text.endswith("<code>c &#60;d&#62;</code>")
    assert plain("AWS Config Account-Level (x): y.") == "AWS Config Account-Level (x): y."  # readable source


def test_markdown_fields_render_with_raw_html_and_script_links_disabled() -> None:
    html = render_html(
        "Hi <script>x()</script> [a](javascript:x()) [b](https://ok.example/) ![i](https://t.example/p.png)\n\n# Top"
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html and "[a](javascript:x())" in html
    assert '<a href="https://ok.example/">b</a>' in html
    assert "<img" not in html
    assert "<h4>Top</h4>" in html  # record headings sit below the page's own


def test_html_block_is_a_single_raw_block_and_empty_text_gives_nothing() -> None:
    assert html_block("  \n") == ""
    block = html_block("a\n\n```\n\n\n```")
    assert block.startswith('<div class="kb-md">\n') and block.endswith("\n</div>")


def test_code_language_keeps_one_safe_word() -> None:
    assert code_language('ts {onclick="x"}') == "ts"
    assert code_language("C#") == "c#"
    assert code_language(None) == ""
    assert code_language("{}") == ""


MARKDOWNISH = st.text(
    alphabet=st.sampled_from([*list("ab1 .,:;()-+*_#>|=~^`<>&[]{}!\\\"'\n\t"), "é", "\u2028", "🚀"]), max_size=40
)


@settings(max_examples=300, deadline=None)
@given(MARKDOWNISH)
def test_the_plain_paragraph_shortcut_renders_what_markdown_it_renders(text: str) -> None:
    if text.strip() and _is_plain(text):
        expected = _MD.render(text).replace("&quot;", "&#34;")
        assert render_html(text).replace("&#39;", "'") == expected


@settings(max_examples=300, deadline=None)
@given(MARKDOWNISH)
def test_plain_text_stays_one_piece_of_text_in_a_python_markdown_heading(text: str) -> None:
    out = markdown.markdown(f"## 1. {plain(text)} {{ #anchor }}", extensions=["attr_list", "toc", "tables"])
    tags = re.findall(r"<(/?[a-z0-9]+)([^>]*)>", out)
    assert tags[0] == ("h2", ' id="anchor"') and tags[-1] == ("/h2", "")
    assert {tag for tag, _ in tags[1:-1]} <= {"code", "/code"}
    if "`" not in text:
        assert html.unescape(re.sub(r"<[^>]+>", "", out)) == f"1. {' '.join(text.split())}".rstrip()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_front_matter_reads_back_as_the_escaped_title(title: str) -> None:
    meta = yaml.safe_load(front_matter(title, template="kb-case.html").split("---\n")[1])
    expected = "".join(c if ord(c) <= 0xFFFF else f"&#{ord(c)};" for c in meta_title(title))
    assert meta == {"title": expected, "template": "kb-case.html"}


def test_squeeze_cuts_indentation_but_keeps_code_and_scripts_as_written() -> None:
    page = "<div>\n    <p>a\n\n   b</p>\n  <pre><code>x\n    y\n</code></pre>\n <textarea>\n  t</textarea><script>\n  f()\n</script>"
    assert squeeze(page) == (
        "<div>\n<p>a\nb</p>\n<pre><code>x\n    y\n</code></pre>\n<textarea>\n  t</textarea><script>\n  f()\n</script>"
    )
    assert squeeze("<p>\n  a</p><pre>\n  open to the end") == "<p>\na</p><pre>\n  open to the end"


def test_a_case_without_a_prompt_is_titled_by_its_platform_and_services() -> None:
    def title(platform: str | None, services: list[str]) -> str:
        return case_title(Case(id="x", title="MODEL_FAILURES.md", task=Task(platform=platform, aws_services=services)))

    assert title("cdk", []) == "An AWS CDK task"
    assert title("tf", ["VPC", "EC2"]) == "A Terraform task on VPC, EC2"
    assert title(None, ["S3"]) == "An AWS task on S3"


def test_bar_chart_is_offline_svg_with_escaped_labels() -> None:
    svg = bar_chart([Bar("<b>Lambda</b>", 4), Bar("S3", 2, "high")], title="By <service>")
    assert (
        svg.startswith('<figure class="kb-chart">')
        and "<svg" in svg
        and "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert "&lt;b&gt;Lambda&lt;/b&gt;" in svg and "<b>" not in svg
    assert "\n\n" not in svg  # one raw HTML block for Python-Markdown
    assert bar_chart([], title="x") == ""
    assert bar_chart([Bar("a", 3)], title="t") == bar_chart([Bar("a", 3)], title="t")


def test_snippet_shows_the_symbols_lines_with_decorators() -> None:
    source = "X = 1\n\nclass Stack:\n    @staticmethod\n    def build():\n        return 2\n"
    code = CodeFile("examples/x.py", source, "python")
    found = snippet(code, Reference(path="examples/x.py", symbol="Stack.build"))
    assert found == Snippet(4, 6, "@staticmethod\ndef build():\n    return 2")
    assert snippet(code, Reference(path="examples/x.py", symbol="Stack.missing")) is None
    assert snippet(CodeFile("examples/x.py", "def (", "python"), Reference(path="examples/x.py", symbol="x")) is None


# -- pages from the bundled KB ------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_site() -> SiteBuild:
    return build_pages(load_kb(ROOT / "failures"), make_env())


def test_every_kb_page_is_generated(seed_site: SiteBuild) -> None:
    paths = {p.path for p in seed_site.pages}
    expected = {"index.md", "taxonomy.md", "reference/schema.md", "reference/cli.md", f"cases/{SEED_CASE}.md"}
    expected |= {"browse/index.md", "browse/reports.md", "search.md"}
    assert expected <= paths
    assert {"data/facets.json", "data/titles-0.json", f"cases/{SEED_CASE}.json", "assets/explorer.js"} <= set(
        seed_site.files
    )
    assert seed_site.problems == []


def test_case_page_has_anchors_badges_code_tabs_diff_and_reference(seed_site: SiteBuild) -> None:
    text = page(seed_site, f"cases/{SEED_CASE}.md")
    kb = load_kb(ROOT / "failures")
    for loaded in kb.cases[0].failures:
        assert f"{{ #{loaded.failure.id} }}" in text
    assert f"### 1. {SEED_TITLE} {{ #{SEED_FIRST} }}" in text
    assert '<span class="kb-badge kb-badge--critical">Critical</span>' in text
    assert (
        '<label for="__tabbed_kb1_1">MODEL_RESPONSE</label><label for="__tabbed_kb1_2">IDEAL_RESPONSE</label>' in text
    )
    assert '<pre><code class="language-typescript">const configRecorder = new aws.cfg.Recorder(' in text
    assert (
        '<pre class="kb-diff"><code class="language-diff"><b>--- MODEL_RESPONSE</b>\n<b>+++ IDEAL_RESPONSE</b>' in text
    )
    assert (
        "<del>-const configRecorder" in text
        and "<ins>+const configRecorderName = &#39;config-recorder-pr7060&#39;;</ins>" in text
    )
    assert (
        "<h5>Root cause</h5>" in text
        and 'href="https://docs.aws.amazon.com/config/latest/developerguide/configlimits.html"' in text
    )
    assert "<h5>Training value: High</h5>" in text
    assert "<strong>Total failures</strong>: 3 (2 Critical, 1 High)" in text
    assert '<a href="../../browse/#category=service-limits">Service quotas and account-level resources</a>' in text
    assert f'<a class="kb-permalink" href="#{SEED_FIRST}"' in text
    seed_first = kb.cases[0].failures[0].failure
    if seed_first.ideal_response and seed_first.ideal_response.reference:
        assert "<strong>Runnable reference</strong>" in text and 'href="../../code/examples/' in text


def test_explorer_data_counts_what_kb_stats_counts(seed_site: SiteBuild) -> None:
    stats = compute_stats(load_kb(ROOT / "failures"))
    data = json.loads(seed_site.files["data/facets.json"])
    impacts = [key for key, _ in data["facets"]["impact"]]
    for level, count in stats.by_impact.items():
        assert sum(1 for i in data["rows"]["impact"] if impacts[i] == level) == count
    services = [key for key, _ in data["facets"]["service"]]
    own = [row for row, source in zip(data["rows"]["services"], data["rows"]["from"], strict=True) if source < 2]
    for name, count in stats.by_service.items():  # stated or inferred from the failure (2: the task's, shown apart)
        if name != "none":
            assert sum(1 for row in own if name in [services[i] for i in row]) == count
    titles = json.loads(seed_site.files["data/titles-0.json"])
    assert len(titles) == stats.failures == len(data["rows"]["case"])
    assert titles[0] == [SEED_FIRST, SEED_TITLE]
    home = page(seed_site, "index.md")
    assert f"**{stats.cases}** case" in home and f"**{stats.failures}** failure" in home
    assert "<svg" in home and "](browse/index.md#impact=critical)" in home


def test_pages_are_deterministic(seed_site: SiteBuild) -> None:
    again = build_pages(load_kb(ROOT / "failures"), make_env())
    assert [(p.path, p.text) for p in again.pages] == [(p.path, p.text) for p in seed_site.pages]


def test_references_document_every_command_and_record_key(seed_site: SiteBuild) -> None:
    cli = page(seed_site, "reference/cli.md")
    commands = cli_docs()
    assert {"kb check", "kb schema"} <= {c.name for c in commands}
    for command in commands:
        assert f"## {command.name} {{ #{command.anchor} }}" in cli
        for option in command.options:
            assert option.names.split(",")[0].split(" ")[0] in cli
    schema = page(seed_site, "reference/schema.md")
    names = {m.name for m in schema_docs()}
    assert {"Case", "Failure", "Taxonomy", "IdealResponse", "Reference", "Impact"} <= names
    for key in set(Failure.model_fields) - {"layout"}:
        assert f"<code>{key}</code>" in schema
    authors, hints = schema.split("## Layout hints", 1)
    assert "<code>layout</code>" not in authors and "<code>field_order</code>" not in authors
    assert "## CaseLayout" in hints and "<code>field_order</code>" in hints


def test_project_templates_override_the_built_in_ones(tmp_path: Path) -> None:
    kb = tmp_path / "failures"
    shutil.copytree(ROOT / "failures", kb)
    custom = tmp_path / "templates" / "site"
    custom.mkdir(parents=True)
    (custom / "taxonomy.md.j2").write_text("{{ front_matter('T') }}\n# Our own taxonomy page\n", encoding="utf-8")
    result = build_pages(load_kb(kb), make_env(tmp_path / "templates"))
    assert "# Our own taxonomy page" in page(result, "taxonomy.md")


def test_a_missing_reference_is_reported_and_the_case_still_shows(tmp_path: Path) -> None:
    result = build_pages(scan_kb(write_hostile_kb(tmp_path / "kb")), make_env())
    assert any("examples/missing.py: cannot read the runnable reference" in p for p in result.problems)
    assert "(not found)" in page(result, "cases/evil.md")


def test_kb_path_comes_from_the_environment_or_sits_beside_mkdocs_yml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(site.KB_ENV, raising=False)
    assert site.kb_path(str(ROOT / "mkdocs.yml")) == ROOT / "failures"
    monkeypatch.setenv(site.KB_ENV, str(tmp_path))
    assert site.kb_path(str(ROOT / "mkdocs.yml")) == tmp_path.resolve()


def test_serve_watches_the_templates_and_the_kb_through_notifications(
    monkeypatch: pytest.MonkeyPatch, kb_copy: Path
) -> None:
    monkeypatch.setenv(site.KB_ENV, str(kb_copy))
    watched: list[str] = []

    class Server:
        def watch(self, path: str) -> None:
            watched.append(path)

    config = load_config(config_file=str(ROOT / "mkdocs.yml"))
    site.on_serve(Server(), config=config, builder=None)
    signals = site.site_cache_dir(kb_copy) / "watch"
    try:
        assert watched == [str((ROOT / "templates").resolve()), str(signals)]  # the KB folder itself is not polled
        record = next(kb_copy.glob("*/case.yaml"))
        record.write_text(record.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        deadline = time.monotonic() + 10
        while not (signals / "changed").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        site.on_shutdown()
    assert (signals / "changed").exists()  # the edit rewrote the file MkDocs polls


# -- whole builds --------------------------------------------------------------------------


def test_strict_build_of_the_bundled_kb_shows_the_seed_case_outside_the_nav(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = build_site(ROOT / "failures", tmp_path / "site", monkeypatch)
    case_html = (out / "cases" / SEED_CASE / "index.html").read_text(encoding="utf-8")
    assert f'id="{SEED_FIRST}"' in case_html and SEED_TITLE in case_html
    seed_case = load_kb(ROOT / "failures").case(SEED_CASE)
    assert seed_case is not None
    code = seed_case.failures[0].failure.model_response.code or ""  # type: ignore[union-attr]
    assert "\n  " in code and str(escape(code)) in case_html  # code keeps its indentation; the page's is squeezed
    assert "\n  <" not in re.sub(r"<pre\b.*?</pre>", "", case_html, flags=re.S)
    assert 'class="tabbed-set' in case_html and "<svg" in (out / "index.html").read_text(encoding="utf-8")
    nav = re.search(r'<nav class="md-nav md-nav--primary.*?</nav>', case_html, re.S)
    assert nav is not None and "Explore" in nav.group(0) and SEED_CASE not in nav.group(0)
    assert SEED_CASE not in (out / "taxonomy" / "index.html").read_text(encoding="utf-8")  # the nav on every page
    fragments = [pagefind_fragment(p) for p in (out / "pagefind" / "fragment").glob("*")]  # the chunked index
    assert [f["url"] for f in fragments] == [f"/cases/{SEED_CASE}/"]  # cases only: listings would echo them
    assert SEED_TITLE in fragments[0]["content"] and "configRecorder" not in fragments[0]["content"]  # no code
    assert (out / "cases" / f"{SEED_CASE}.json").is_file()
    assert f"cases/{SEED_CASE}/" in (out / "sitemap.xml").read_text(encoding="utf-8")
    assert broken_links(out) == []


def test_links_between_generated_pages_work_without_directory_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = build_site(ROOT / "failures", tmp_path / "site", monkeypatch, directory_urls=False)
    assert (out / "cases" / f"{SEED_CASE}.html").is_file()
    explorer = (out / "browse" / "index.html").read_text(encoding="utf-8")
    assert 'data-cases="../cases/"' in explorer and 'data-dirs="0"' in explorer
    assert broken_links(out) == []


def test_strict_build_fails_on_an_invalid_record_and_serve_still_shows_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kb_copy: Path
) -> None:
    (kb_copy / "broken").mkdir()
    (kb_copy / "broken" / CASE_FILE).write_text("id: broken\ntitle: <script>x</script>\nnope: 1\n", encoding="utf-8")
    with pytest.raises(Abort):
        build_site(kb_copy, tmp_path / "strict", monkeypatch)
    out = build_site(kb_copy, tmp_path / "lenient", monkeypatch, strict=False)
    home = (out / "index.html").read_text(encoding="utf-8")
    assert "broken/case.yaml" in home and "record problem" in home
    assert (out / "cases" / SEED_CASE / "index.html").exists()


def _pages_of(out: Path) -> dict[str, bytes]:
    """The built pages and data files (Pagefind's index aside), by path."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.suffix in (".html", ".json") and "pagefind" not in p.parts
    }


def test_cached_and_dirty_builds_equal_a_clean_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = write_generated_kb(tmp_path / "kb", cases=8)
    cold = _pages_of(build_site(kb, tmp_path / "cold", monkeypatch))
    warm_out = build_site(kb, tmp_path / "warm", monkeypatch)  # every case page from the page cache
    assert _pages_of(warm_out) == cold
    edited = kb / "gen-0003" / "01-failure-1.yaml"
    edited.write_text(edited.read_text().replace("Failure 1 of case 3", "An edited title"))
    untouched = warm_out / "cases" / "gen-0005" / "index.html"
    stamp = untouched.stat().st_mtime_ns
    dirty = _pages_of(build_site(kb, warm_out, monkeypatch, dirty=True, strict=False))  # as `serve --dirty` does
    clean = _pages_of(build_site(kb, tmp_path / "clean", monkeypatch))
    assert [k for k in clean if dirty.get(k) != clean[k]] == []
    assert "An edited title" in clean["cases/gen-0003/index.html"].decode()
    assert untouched.stat().st_mtime_ns == stamp  # an unchanged case page is not rebuilt
    assert dirty["cases/gen-0005/index.html"] == cold["cases/gen-0005/index.html"]


def test_the_whole_kb_downloads_as_one_case_json_per_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = write_generated_kb(tmp_path / "kb", cases=3)
    out = build_site(kb, tmp_path / "one", monkeypatch)
    packed = (out / "data" / "kb.jsonl.gz").read_bytes()
    lines = gzip.decompress(packed).decode("utf-8").splitlines()
    cases = sorted((out / "cases").glob("*.json"))
    assert [json.loads(line) for line in lines] == [json.loads(p.read_text(encoding="utf-8")) for p in cases]
    assert [json.loads(line)["case"]["id"] for line in lines] == ["gen-0000", "gen-0001", "gen-0002"]
    assert 'href="../data/kb.jsonl.gz"' in (out / "browse" / "index.html").read_text(encoding="utf-8")
    assert (build_site(kb, tmp_path / "two", monkeypatch) / "data" / "kb.jsonl.gz").read_bytes() == packed


def test_serve_indexes_search_once_and_then_skips_its_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = write_generated_kb(tmp_path / "kb", cases=4)
    monkeypatch.setenv(site.KB_ENV, str(kb))
    plugins = load_config(config_file=str(ROOT / "mkdocs.yml")).plugins  # MkDocs loads the hooks once per process
    plugins.on_startup(command="serve", dirty=True)
    try:
        out = build_site(kb, tmp_path / "site", monkeypatch)  # serve's first build indexes
        entry = out / "pagefind" / "pagefind-entry.json"
        searched = next((site.site_cache_dir(kb) / "search").rglob("gen-0001/index.html"))
        stamps = entry.stat().st_mtime_ns, searched.stat().st_mtime_ns
        edited = kb / "gen-0001" / "01-failure-1.yaml"
        edited.write_text(edited.read_text().replace("Failure 1 of case 1", "An edited title"))
        build_site(kb, out, monkeypatch, dirty=True, strict=False)  # a rebuild after the edit
    finally:
        plugins.on_startup(command="build", dirty=False)
    assert "An edited title" in (out / "cases" / "gen-0001" / "index.html").read_text(encoding="utf-8")
    assert (entry.stat().st_mtime_ns, searched.stat().st_mtime_ns) == stamps  # search's work is not redone


def test_serve_rebuilds_after_edits_equal_clean_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = write_generated_kb(tmp_path / "kb", cases=8)
    monkeypatch.setattr(session_module, "_RACY_NS", 0)  # the records were written just now; each edit changes a size
    monkeypatch.setenv(site.KB_ENV, str(kb))
    plugins = load_config(config_file=str(ROOT / "mkdocs.yml")).plugins
    plugins.on_startup(command="serve", dirty=True)
    edits = [
        ("gen-0003/01-failure-1.yaml", "Failure 1 of case 3", "An edited title"),  # the figures stay
        ("gen-0005/02-failure-2.yaml", "impact: ", "impact: critical\nold_impact: "),  # the figures change
        ("gen-0001/case.yaml", "Generated case 1", "A renamed case"),
        ("gen-0002/case.yaml", "id: gen-0002\n", "id: gen-0002\naliases:\n- old-two\n"),  # a redirect page more
    ]
    try:
        out = build_site(kb, tmp_path / "served", monkeypatch, dirty=True, strict=False)
        for number, (path, old, new) in enumerate(edits):
            untouched = session_module.session(kb).kb.cases[6]
            record = kb / path
            text = record.read_text(encoding="utf-8")
            assert old in text
            record.write_text(text.replace(old, new, 1).replace("old_impact: ", "# was: "), encoding="utf-8")
            served = _pages_of(build_site(kb, out, monkeypatch, dirty=True, strict=False))
            assert session_module.session(kb).kb.cases[6] is untouched  # only the edited case was loaded again
            plugins.on_startup(command="build", dirty=False)
            clean = _pages_of(build_site(kb, tmp_path / f"clean-{number}", monkeypatch))
            plugins.on_startup(command="serve", dirty=True)
            assert [k for k in clean if served.get(k) != clean[k]] == []
            assert served.keys() == clean.keys()
    finally:
        plugins.on_startup(command="build", dirty=False)
    assert "An edited title" in served["cases/gen-0003/index.html"].decode()
    assert "A renamed case" in served["cases/gen-0001/index.html"].decode()
    assert "cases/old-two/index.html" in served


def test_a_serve_rebuild_hands_mkdocs_only_the_generated_files_an_edit_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = write_generated_kb(tmp_path / "kb", cases=6)
    monkeypatch.setattr(session_module, "_RACY_NS", 0)
    monkeypatch.setenv(site.KB_ENV, str(kb))
    sources = str(site.site_cache_dir(kb) / "docs")
    handed: list[dict[str, bool]] = []
    real = build_module.set_exclusions

    def spy(files: Any, config: Any) -> None:  # what on_files handed MkDocs: generated path -> "rebuild it?"
        real(files, config)
        handed.append({f.src_uri: f.is_modified() for f in files if f.abs_src_path.startswith(sources)})

    monkeypatch.setattr(build_module, "set_exclusions", spy)
    plugins = load_config(config_file=str(ROOT / "mkdocs.yml")).plugins
    plugins.on_startup(command="serve", dirty=True)
    try:
        out = build_site(kb, tmp_path / "served", monkeypatch, dirty=True, strict=False)
        edited = kb / "gen-0003" / "01-failure-1.yaml"
        edited.write_text(edited.read_text().replace("Failure 1 of case 3", "An edited title"), encoding="utf-8")
        build_site(kb, out, monkeypatch, dirty=True, strict=False)
    finally:
        plugins.on_startup(command="build", dirty=False)
    first, rebuilt = handed
    assert {"cases/gen-0003.json", "cases/gen-0005.json", "cases/gen-0005.md"} <= first.keys()
    assert all(first.values())  # the first build writes everything
    assert rebuilt["cases/gen-0003.md"] and rebuilt["cases/gen-0003.json"]  # the edited case: page and JSON
    assert rebuilt["cases/gen-0005.md"] is False  # an untouched page: known, never rebuilt
    assert "cases/gen-0005.json" not in rebuilt  # an untouched file: already in the site folder
    assert len([path for path in rebuilt if not path.endswith(".md")]) < len(first) // 4
    assert "An edited title" in (out / "cases" / "gen-0003" / "index.html").read_text(encoding="utf-8")
    assert (out / "cases" / "gen-0005.json").is_file()


def test_serve_keeps_the_theme_environment_while_the_theme_is_the_same(tmp_path: Path) -> None:
    custom = tmp_path / "theme"
    custom.mkdir()
    (custom / "main.html").write_text("{% extends 'base.html' %}", encoding="utf-8")
    theme = type(
        "Theme",
        (),
        {"custom_dir": str(custom), "dirs": [str(custom)], "locale": "en", "static_templates": {"404.html"}},
    )
    made: list[object] = []

    def make() -> Any:
        made.append(jinja2.Environment(loader=jinja2.FileSystemLoader(str(custom))))
        return made[-1]

    key = site._theme_key(theme)
    env = session_module.theme_env(key, make)
    assert (
        session_module.theme_env(site._theme_key(theme), make) is env
    )  # a rebuild: the same, compiled templates and all
    assert env.list_templates() == ["main.html"]
    (custom / "extra.html").write_text("x", encoding="utf-8")
    assert env.list_templates() == ["main.html"]  # listed once per environment
    changed = session_module.theme_env(site._theme_key(theme), make)  # an override added: a new environment
    assert changed is not env and len(made) == 2
    assert changed.list_templates() == ["extra.html", "main.html"]


def test_hostile_records_stay_inert_in_every_page_and_in_the_search_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = write_hostile_kb(tmp_path / "kb")
    out = build_site(kb, tmp_path / "site", monkeypatch, strict=False)
    shown = ""
    written = {p.stem for p in (ROOT / "docs").glob("*.md")}  # hand-written pages may hold images
    for html_file in sorted(out.rglob("*.html")):
        if html_file.parent.name in written and html_file.parent.parent == out:
            continue
        found, text = inert_report(html_file.read_text(encoding="utf-8"))
        assert found == [], f"{html_file.relative_to(out)}: {found}"
        shown += text
    for needle in (
        '<script>alert("xss1")</script>',
        "<img src=x onerror=",
        "[click](javascript:",
        "# Case <script>",
        "## BROKEN OUT",
    ):
        assert needle in shown, f"record text lost: {needle}"
    fragments = [pagefind_fragment(path) for path in sorted((out / "pagefind" / "fragment").glob("*"))]
    assert any("xss1" in f["content"] or "xss1" in f["meta"].get("title", "") for f in fragments)
    # Pagefind keeps page text as text (not HTML) and its UI escapes it: tests/test_browser.py searches it.
    data = (out / "data" / "facets.json").read_text(encoding="utf-8") + (out / "data" / "titles-0.json").read_text(
        encoding="utf-8"
    )
    assert "xss1" in data  # the explorer shows it with textContent (tests/test_browser.py checks it stays text)


def test_the_inert_check_catches_live_markup() -> None:
    for live in (
        "<script>alert('xss')</script>",
        '<img src="x">',
        '<a href=" javascript:alert(1)">x</a>',
        '<div onmouseover="x()">y</div>',
        "<h2>## BROKEN OUT</h2>",
        "<!-- c -->",
    ):
        found, _ = inert_report(live)
        assert found, live
    assert inert_report("<p>&lt;script&gt;alert('xss')&lt;/script&gt;</p>")[0] == []


@pytest.fixture(scope="module")
def corpus_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os
    import subprocess
    import sys

    corpus = os.environ.get("KB_CORPUS")
    if not corpus or not Path(corpus).is_dir():
        pytest.skip("set KB_CORPUS to the folder of real task folders to build the site from them")
    tasks = sorted(p for p in Path(corpus).iterdir() if p.is_dir())[:60]
    into = tmp_path_factory.mktemp("corpus") / "kb"
    done = subprocess.run(
        [sys.executable, "-m", "kb.cli", "import", *map(str, tasks), "--into", str(into)],
        capture_output=True,
        text=True,
    )
    assert len([p for p in into.iterdir() if p.is_dir()]) == len(tasks), done.stderr
    return into


def test_real_documents_build_strictly_with_working_links_and_inert_text(
    corpus_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = build_site(corpus_kb, tmp_path / "site", monkeypatch)
    kb = load_kb(corpus_kb)
    for case in kb.cases:
        assert (out / "cases" / case.id / "index.html").is_file()
    assert broken_links(out) == []
    for page_file in (out / "cases").rglob("*.html"):
        found, _ = inert_report(page_file.read_text(encoding="utf-8"))
        assert found == [], f"{page_file}: {found}"


def test_a_section_between_two_failures_is_placed_there_on_the_page_as_in_the_report(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    between = Section(title="Between Note", text="Said between the failures.", after="failure:first")
    save_record(kb / "c" / CASE_FILE, Case(id="c", title="C", extra=[between]))
    for number, failure_id in enumerate(("first", "second"), start=1):
        failure = Failure(id=failure_id, title=f"The {failure_id} one", impact=Impact.high)
        save_record(kb / "c" / failure_file_name(number, failure_id), failure)
    text = page(build_pages(load_kb(kb), make_env()), "cases/c.md")
    assert text.index("The first one") < text.index("Between Note") < text.index("The second one")
    report = render_case(load_kb(kb).cases[0], make_env())
    assert report.index("The first one") < report.index("Between Note") < report.index("The second one")
