"""Builders shared by the tests: knowledge bases, cases, failures, progress recorders.

Tests import from here (never from each other), so one change to a record's shape is
one change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mkdocs.commands.build import build
from mkdocs.config import load_config

from generator import site
from generator.pages.build import LATE_MARKER, SiteBuild, fill_blocks
from kb.importer import Assembled, assemble_case
from kb.importer.taxonomy import DEFAULT_CATEGORIES
from kb.models import (
    Case,
    Category,
    Checklist,
    DocLink,
    Failure,
    IdealResponse,
    Impact,
    ImpactDetail,
    Reference,
    Response,
    Section,
    Summary,
    Task,
    Taxonomy,
    TrainingValue,
)
from kb.store import CASE_FILE, TAXONOMY_FILE, failure_file_name, save_record
from tests.conftest import ROOT

# -- knowledge bases -----------------------------------------------------------------------


def make_failure(failure_id: str, **fields: Any) -> Failure:
    """A complete failure record; ``fields`` override the defaults (None removes a field)."""
    data: dict[str, Any] = {
        "id": failure_id,
        "title": f"Title of {failure_id}",
        "impact": Impact.high,
        "category": "iam-permissions",
        "services": ["Lambda", "IAM"],
        "model_response": Response(text="The policy was missing a permission:", code=f"const bad = '{failure_id}';"),
        "ideal_response": IdealResponse(text="Grant it:", code=f"const good = '{failure_id}';", language="typescript"),
        "root_cause": f"ROOT-CAUSE of {failure_id}",
        "training_value": TrainingValue(level="High", lessons=[f"LESSON of {failure_id}"]),
    }
    data.update(fields)
    return Failure(**{k: v for k, v in data.items() if v is not None})


def write_case(kb: Path, case: Case, failures: list[Failure]) -> Path:
    """Write ``kb/<case.id>/case.yaml`` and one ``NN-<id>.yaml`` per failure (NN from 01); returns the folder."""
    save_record(kb / case.id / CASE_FILE, case)
    for number, failure in enumerate(failures, start=1):
        save_record(kb / case.id / failure_file_name(number, failure.id), failure)
    return kb / case.id


def write_kb(kb: Path, cases: list[tuple[Case, list[Failure]]], *, taxonomy: Taxonomy | None = None) -> Path:
    """Write a knowledge base folder (created when missing) with ``cases`` and an optional taxonomy."""
    kb.mkdir(parents=True, exist_ok=True)
    if taxonomy is not None:
        save_record(kb / TAXONOMY_FILE, taxonomy)
    for case, failures in cases:
        write_case(kb, case, failures)
    return kb


# -- the importer --------------------------------------------------------------------------


def assemble(text: str) -> Assembled:
    """The records ``kb import`` makes of one document's text (no task, no source)."""
    return assemble_case(
        text, case_id="case", fallback_title="fallback", source=None, task=None, categories=DEFAULT_CATEGORIES
    )


# -- sites ---------------------------------------------------------------------------------


def page(build_result: SiteBuild, path: str) -> str:
    """A generated page's Markdown with its HTML blocks put back (as the site hook does)."""
    found = next(p for p in build_result.pages if p.path == path)
    return fill_blocks(fill_blocks(found.text, found.blocks), found.late_blocks, LATE_MARKER)


@dataclass
class RecordedProgress:
    """A ``kb.progress.Progress`` that remembers what it was told."""

    started: list[tuple[str, int]] = field(default_factory=list)
    advanced: list[int] = field(default_factory=list)

    def start(self, label: str, total: int) -> None:
        self.started.append((label, total))

    def advance(self, n: int = 1) -> None:
        self.advanced.append(n)


SEED_CASE = "pr7060"
SEED_FIRST = "aws-config-account-level-resource-violation"
SEED_TITLE = "AWS Config Account-Level Resource Violation"

# -- hostile records ---------------------------------------------------------------------

ATTACK = (
    '<script>alert("xss1")</script> <img src=x onerror=alert("xss2")> [click](javascript:alert("xss3")) '
    "<a href=\"javascript:alert('xss4')\">a</a> {: onclick=\"alert('xss5')\" } <!-- c --> &lt;b&gt;"
)
RAW_BLOCK = (
    "<div onmouseover=\"alert('xss6')\">\n\n*raw block*\n\n</div>\n\n<iframe src=\"javascript:alert('xss7')\"></iframe>"
)
BREAKOUT_CODE = "a = 1\n````\n## BROKEN OUT\n```\n</code></pre><script>alert('xss8')</script>\n"


def hostile_md(label: str) -> str:
    """Markdown carrying every attack, labelled so a test can find where it ended up."""
    return f"{label} {ATTACK}\n\n{RAW_BLOCK}\n\n# {label} heading <b>x</b>"


def write_hostile_kb(root: Path) -> Path:
    """A KB whose every text field carries script, raw HTML, `javascript:` links and fence breakouts."""
    root.mkdir(parents=True)
    save_record(
        root / TAXONOMY_FILE,
        Taxonomy(categories=[Category(id="hostile", title=f"# Cat {ATTACK}", description=hostile_md("catdesc"))]),
    )
    case_dir = root / "evil"
    case_dir.mkdir()
    save_record(
        case_dir / CASE_FILE,
        Case(
            id="evil",
            title=f"# Case {ATTACK}",
            intro=hostile_md("intro"),
            task=Task(
                platform=f"pulumi{ATTACK}",
                language="ts",
                aws_services=[ATTACK],
                subtask=ATTACK,
                prompt=hostile_md("prompt"),
            ),
            summary=Summary(
                written_totals=ATTACK,
                knowledge_gaps=[ATTACK],
                training_value=TrainingValue(level=ATTACK, text=hostile_md("stv"), lessons=[ATTACK]),
                deployment_impact=hostile_md("deploy"),
                testing_impact=hostile_md("testing"),
                production_readiness=Checklist(text=hostile_md("ready"), items=[ATTACK]),
                sections=[Section(title=ATTACK, text=hostile_md("ssec"))],
            ),
            extra=[
                Section(title=ATTACK, text=hostile_md("cextra"), after="intro"),
                Section(title=ATTACK, text=hostile_md("cend")),
            ],
        ),
    )
    failure = Failure(
        id="bad",
        title=f"# {ATTACK}",
        impact=Impact.critical,
        impact_label=ATTACK,
        category="hostile",
        services=[ATTACK, "Lambda"],
        group=f"## {ATTACK}",
        description=hostile_md("description"),
        location=ATTACK,
        model_response=Response(
            text=hostile_md("model"), code=BREAKOUT_CODE, language="ts {onclick=\"alert('xss9')\"}"
        ),
        ideal_response=IdealResponse(
            text=hostile_md("ideal"),
            code=BREAKOUT_CODE + "b = 2\n",
            language="python",
            reference=Reference(path="examples/missing.py", symbol="nowhere"),
        ),
        error=ATTACK + "\n```\n## BROKEN OUT\n",
        root_cause=hostile_md("root"),
        docs=[DocLink(title=ATTACK, url="https://example.com/\"onmouseover=\"alert('xss10')")],
        docs_note=hostile_md("docsnote"),
        impact_details=[ImpactDetail(area=ATTACK, text=ATTACK)],
        training_value=TrainingValue(level=ATTACK, text=hostile_md("tv"), lessons=[ATTACK]),
        extra=[Section(title=ATTACK, text=hostile_md("fextra"), after="root_cause")],
    )
    save_record(case_dir / failure_file_name(1, "bad"), failure)
    return root


def build_site(
    kb_root: Path,
    site_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    strict: bool = True,
    directory_urls: bool = True,
    dirty: bool = False,
) -> Path:
    """Build the real mkdocs.yml for ``kb_root`` into ``site_dir`` (in process, as `mkdocs build [--dirty]`)."""
    monkeypatch.setenv(site.KB_ENV, str(kb_root))
    config = load_config(
        config_file=str(ROOT / "mkdocs.yml"), site_dir=str(site_dir), strict=strict, use_directory_urls=directory_urls
    )
    build(config, dirty=dirty)
    return site_dir


# -- a generated knowledge base for the browser ---------------------------------------------

GENERATED_PLATFORMS = (("cdk", "ts"), ("pulumi", "py"), ("tf", "hcl"), ("cfn", "yaml"))
GENERATED_SERVICES = ("Lambda", "S3", "IAM", "DynamoDB", "SQS", "KMS", "VPC")
GENERATED_CATEGORIES = ("iam-permissions", "encryption", "networking", "naming", "configuration")
GENERATED_IMPACTS = (Impact.critical, Impact.high, Impact.medium, Impact.low, None)


def generated_failure(case: int, k: int) -> Failure:
    """Failure ``k`` of generated case ``case``: facets vary with both, so every combination occurs."""
    n = (case * 2654435761 + k * 40503) % 2**32  # a cheap hash: the facets vary independently
    service = GENERATED_SERVICES[(n // 25) % len(GENERATED_SERVICES)]
    code = (n // 700) % 3 != 0
    return Failure(
        id=f"failure-{k}",
        title=f"Failure {k} of case {case}: {service} set up wrongly",
        impact=GENERATED_IMPACTS[n % len(GENERATED_IMPACTS)],
        category=GENERATED_CATEGORIES[(n // 5) % len(GENERATED_CATEGORIES)],
        services=[service] if (n // 175) % 4 else [],
        model_response=Response(text=f"The model configured {service} without care.", code="x = 1" if code else None),
        ideal_response=IdealResponse(text="Configure it properly.", code="x = 2" if code else None)
        if (n // 2100) % 5
        else None,
        root_cause=f"The model did not know {service}'s limits (marker gen{case}x{k}).",
    )


def write_generated_kb(root: Path, cases: int = 300, failures: int = 3) -> Path:
    """A KB of ``cases`` generated cases of ``failures`` failures each (none for every 25th case)."""
    root.mkdir(parents=True)
    for c in range(cases):
        platform, language = GENERATED_PLATFORMS[c % len(GENERATED_PLATFORMS)]
        folder = root / f"gen-{c:04d}"
        folder.mkdir()
        save_record(
            folder / CASE_FILE,
            Case(
                id=folder.name,
                title=f"Generated case {c}" if c % 2 else "Model Response Failures Analysis",
                task=Task(
                    platform=platform,
                    language=language,
                    aws_services=["EC2", "ELB"],
                    prompt=f"Build the generated stack number {c} on AWS.",
                ),
            ),
        )
        for k in range(1, (0 if c % 25 == 24 else failures) + 1):
            failure = generated_failure(c, k)
            save_record(folder / failure_file_name(k, failure.id), failure)
    return root


def generated_failures(cases: int = 300, failures: int = 3) -> list[tuple[int, Failure]]:
    """The (case number, failure) pairs ``write_generated_kb`` writes, to compute expected counts."""
    return [(c, generated_failure(c, k)) for c in range(cases) for k in range(1, (0 if c % 25 == 24 else failures) + 1)]
