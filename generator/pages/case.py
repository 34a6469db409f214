"""A case page: the case, each failure with its facets, code tabs, links and permalink, from the page cache when unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from generator.pages import browse
from generator.pages.cache import PageCache
from generator.pages.code import CodeFile, Snippet, load_code_file, snippet
from generator.pages.html import Tab, code_html, diff_html, tabs_html
from generator.pages.render import EXPLORER, Pages, SitePage
from generator.pages.session import PerCase
from generator.pages.text import code_language
from generator.pages.titles import case_title
from generator.pages.tombstones import withdrawn_views
from kb.aliases import Names
from kb.documents import PROMPT
from kb.facets import facets_of
from kb.lifecycle import case_changed, case_published
from kb.models import Failure, Reference, Response
from kb.names import NONE, normalise_language, normalise_platform
from kb.render.markdown import diff
from kb.render.report import FailureEntry, case_sections, failure_entries
from kb.store import KnowledgeBase, LoadedCase, record_data
from kb.totals import totals_line

__all__ = ["CaseContext", "Link", "RecordLinks", "References", "case_page"]


@dataclass(frozen=True)
class Link:
    """A name shown on a case page and its anchor on a browse page."""

    title: str
    anchor: str


@dataclass(frozen=True)
class RecordLinks:
    """Where a record can be viewed and edited (from MkDocs' ``repo_url`` and ``edit_uri``), by its path in the repository."""

    view: str
    edit: str

    def of(self, path: str) -> dict[str, str]:
        return {"view": self.view + path, "edit": self.edit + path}


@dataclass(frozen=True)
class FailureView:
    """What a case page shows for one failure, beyond the record itself."""

    entry: FailureEntry
    category: Link | None
    services: list[Link]
    services_from: str
    """`record`, `inferred` (from the failure's text and code) or `task` (inherited from the task's services)."""
    links: dict[str, str]
    """`view` and `edit` URLs of the record, when the site has a ``repo_url``."""
    tabs: str
    """MODEL_RESPONSE, IDEAL_RESPONSE and Diff as content tabs (an HTML block), or empty."""
    reference: Reference | None
    code: CodeFile | None
    snippet: Snippet | None


def _response_html(response: Response | None, markdown: Callable[[str | None], str]) -> str:
    if response is None:
        return ""
    parts = [markdown(response.text)]
    if response.code and response.code.strip():
        parts.append(code_html(response.code, code_language(response.language)))
    return "".join(parts).strip()


def _tabs(failure: Failure, number: int, pages: Pages) -> str:
    """The model's and the ideal response side by side in tabs, with the diff of their code."""
    tabs = [
        Tab(label, html)
        for label, html in (
            ("MODEL_RESPONSE", _response_html(failure.model_response, pages.markdown)),
            ("IDEAL_RESPONSE", _response_html(failure.ideal_response, pages.markdown)),
        )
        if html
    ]
    model = failure.model_response.code if failure.model_response else None
    ideal = failure.ideal_response.code if failure.ideal_response else None
    if model and ideal and model.strip() and ideal.strip():
        changes = diff(model, ideal)
        tabs.append(
            Tab("Diff", pages.stash_late(diff_html(changes)) if changes else "<p>The two snippets are the same.</p>")
        )
    return tabs_html(tabs, number, pages.stash_late)


class References:
    """Each referenced example file, read once; problems collected for the build log."""

    def __init__(self, project_root: Path, problems: list[str]) -> None:
        self.root = project_root
        self.problems = problems
        self.files: dict[str, CodeFile | None] = {}
        self.users: dict[str, list[dict[str, Any]]] = {}

    def get(self, reference: Reference, entry: browse.Entry) -> CodeFile | None:
        if reference.path not in self.files:
            loaded = load_code_file(self.root, reference.path)
            if isinstance(loaded, str):
                self.problems.append(f"{entry.loaded.path}: {loaded}")
            self.files[reference.path] = loaded if isinstance(loaded, CodeFile) else None
        code = self.files[reference.path]
        if code is not None:
            self.users.setdefault(code.path, []).append({"entry": entry, "symbol": reference.symbol})
        return code


class CaseContext:
    """What every case page of a build shares: the facet links, references, record links and the page cache."""

    def __init__(
        self,
        kb: KnowledgeBase,
        maps: dict[str, dict[str, Link]],
        refs: References,
        record_links: RecordLinks | None,
        cache: PageCache | None,
        names: Names,
        prompts: PerCase[str] | None = None,
    ) -> None:
        self.maps = maps
        self.refs = refs
        self.record_links = record_links
        self.cache = cache
        self.titles = {case.id: case_title(case.case) for case in kb.cases}
        self.names = names
        """Every id and alias, withdrawn records' too (for successors)."""
        self.prompts = prompts
        root = kb.root.resolve()
        try:
            self.kb_in_repo: str | None = root.relative_to(refs.root.resolve()).as_posix()
        except ValueError:
            self.kb_in_repo = None

    def prompt(self, case: LoadedCase) -> str:
        """The case's task prompt (kept in ``prompts`` while the case object is loaded)."""
        kept = self.prompts.get(case) if self.prompts is not None else None
        if kept is None:
            kept = case.document(PROMPT) or ""
            if self.prompts is not None:
                self.prompts.put(case, kept)
        return kept

    def links(self, path: Path) -> dict[str, str]:
        if self.record_links is None or self.kb_in_repo is None:
            return {}
        return self.record_links.of(f"{self.kb_in_repo}/{path.parent.name}/{path.name}")


def _failure_views(case: LoadedCase, context: CaseContext, pages: Pages) -> list[FailureView]:
    refs, maps = context.refs, context.maps
    by_id = {loaded.failure.id: loaded for loaded in case.failures}
    views = []
    for entry in failure_entries(case, report_dir=refs.root / "reports" / case.id, project_root=refs.root):
        failure = entry.failure
        reference = failure.ideal_response.reference if failure.ideal_response else None
        code = refs.get(reference, browse.Entry(case, by_id[failure.id])) if reference else None
        facets = facets_of(failure, case.case)
        views.append(
            FailureView(
                entry=entry,
                category=maps["category"].get(failure.category) if failure.category else None,
                services=[maps["service"].get(s) or Link(s, f"service={quote(s, safe='')}") for s in facets.services],
                services_from=facets.services_from,
                links=context.links(by_id[failure.id].path),
                tabs=_tabs(failure, entry.number, pages),
                reference=reference,
                code=code,
                snippet=snippet(code, reference) if code and reference else None,
            )
        )
    return views


def case_page(pages: Pages, case: LoadedCase, context: CaseContext) -> None:
    task = case.case.task
    platform = normalise_platform(task.platform if task else None)
    language = normalise_language(task.language if task else None)
    path = f"cases/{case.id}.md"
    data = f"cases/{case.id}.json"
    original = case.case.duplicate_of
    referenced = any(f.failure.ideal_response and f.failure.ideal_response.reference for f in case.failures)
    cache = context.cache if not referenced else None  # reference pages list their users: render those every time
    prompt = context.prompt(case)
    withdrawn = withdrawn_views(case, context.names)
    # what the page shows beyond the case's records: the original's title, the prompt, withdrawn failures' successors
    shown = f"{original}\0{context.titles.get(original or '', '')}\0{prompt}\0{withdrawn!r}"
    key = cache.key(case, shown) if cache else ""
    entry = cache.hit(key) if cache else None
    if entry is not None:
        pages.build.pages.append(SitePage(path, "", cached=entry))
        pages.build.files[data] = entry
        return
    pages.begin(path)
    pages.render(
        "site/case.md.j2",
        case=case.case,
        title=context.titles[case.id],
        prompt=prompt,
        withdrawn=withdrawn,
        published=case_published(case),
        modified=case_changed(case),
        totals=totals_line(f.failure for f in case.failures),
        platform=context.maps["platform"].get(platform),
        language=None if language == NONE else language,
        failures=_failure_views(case, context, pages),
        sections=case_sections(case),
        original={"id": original, "title": context.titles.get(original)} if original else None,
        links=context.links(case.path / "case.yaml"),
        json_url=pages.url(data),
        explorer=EXPLORER,
    )
    pages.build.files[data] = _case_json(case)
    if cache is not None:
        page = pages.build.pages[-1]
        cache.put(
            key, {"text": page.text, "blocks": page.blocks, "late": page.late_blocks, "json": pages.build.files[data]}
        )


def _case_json(case: LoadedCase) -> str:
    """A case and its failures as one JSON document (``cases/<id>.json``): the records as stored, without the
    import's layout hints and the task's prompt and raw metadata (they stay in case.yaml and the exports)."""
    described = _without_layout(record_data(case.case))
    if isinstance(described.get("task"), dict):
        described["task"] = {k: v for k, v in described["task"].items() if k not in ("prompt", "metadata")}
    data = {
        "case": described,
        "failures": [
            {"file": loaded.path.name, **_without_layout(record_data(loaded.failure))} for loaded in case.failures
        ],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _without_layout(data: dict[str, Any]) -> dict[str, Any]:
    """A record's data without the import's presentation hints (``layout``): what a reader of the JSON wants."""
    data.pop("layout", None)
    for section in data.get("extra", []) or []:
        if isinstance(section, dict):
            section.pop("layout", None)
    return data
