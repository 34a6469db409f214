"""The records of the knowledge base: a case (one analysis) and its failures.

These pydantic models are the single source of truth for the on-disk format: the
JSON Schemas in ``schemas/`` and the schema reference on the site are generated from
them, and every field's docstring becomes its description.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=120)]
"""A lowercase identifier: letters, digits and hyphens, starting with a letter or digit."""

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_LOCAL_HOSTS = {"localhost"}


def _is_local_host(host: str) -> bool:
    if host in _LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """Accept ``https`` links (and ``http`` to a local host); refuse every other scheme."""
    if url != url.strip() or any(ord(c) < 33 for c in url):
        raise ValueError("a URL may not contain spaces or control characters")
    if not _SCHEME.match(url):
        raise ValueError("a URL must be absolute and start with https://")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme == "http" and host and _is_local_host(host):
        return url
    if scheme != "https":
        raise ValueError(f"URL scheme {scheme!r} is not allowed: use https://")
    if not host:
        raise ValueError("an https URL needs a host")
    return url


HttpsUrl = Annotated[str, AfterValidator(check_url)]
"""An absolute ``https://`` URL (``http://`` only for a local host)."""


def check_relative_path(path: str) -> str:
    """Accept a forward-slash path relative to the project that stays inside it."""
    if not path or path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path):
        raise ValueError("the path must be relative to the project root")
    if "\\" in path or any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError("the path must use '/' and may not contain '.', '..' or empty parts")
    return path


RelativePath = Annotated[str, AfterValidator(check_relative_path)]


class Impact(StrEnum):
    """How badly a failure hurts, most severe first."""

    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"

    @property
    def rank(self) -> int:
        """0 for critical ... 3 for low: the order reports list failures in."""
        return list(Impact).index(self)

    @property
    def label(self) -> str:
        """The capitalised word used in reports ("Critical")."""
        return self.value.capitalize()


class Status(StrEnum):
    """Whether a record is finished. Drafts are checked but never exported."""

    draft = "draft"
    published = "published"


class Kind(StrEnum):
    """What an entry of a case reports. Only `failure` entries are counted, exported and browsed as failures."""

    failure = "failure"
    """Something the model did wrong or left out."""
    success = "success"
    """Something the model did right, or a pitfall it avoided."""
    potential = "potential"
    """A hypothetical failure scenario, or what models "often" get wrong, not seen here."""
    limitation = "limitation"
    """A known limitation of the final solution."""
    recommendation = "recommendation"
    """Advice, future work or a next step."""
    observation = "observation"
    """A remark that finds the model's work fine or reports no defect."""
    testing_gap = "testing-gap"
    """Something the tests do not cover."""
    checklist = "checklist"
    """An item of a validation checklist."""


class Record(BaseModel):
    """Base of every record: unknown keys are errors, docstrings document fields."""

    model_config = ConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        str_strip_whitespace=False,
        validate_default=False,
        defer_build=True,
    )


SCHEMA_VERSION = 2
"""The record format this kb writes. 1: records before lifecycle fields (no `schema_version` key);
2: `schema_version`, `published`, `modified`, `withdrawn`, `aliases`, `superseded_by`, typed `references`.
kb reads every version up to this one; `kb upgrade` rewrites older records."""


def _known_version(version: int) -> int:
    if version > SCHEMA_VERSION:
        raise ValueError(f"schema version {version} is newer than this kb reads ({SCHEMA_VERSION}): upgrade kb")
    return version


class Versioned(Record):
    """Base of the top-level records: the format version they were written in."""

    schema_version: Annotated[int, Field(ge=1), AfterValidator(_known_version)] | None = None
    """The record format version (currently 2). Left out in records written before versions (version 1); `kb upgrade` adds it."""

    @property
    def version(self) -> int:
        """The record's format version (1 when it states none)."""
        return self.schema_version or 1


def _move_into_layout(data: Any, keys: tuple[str, ...]) -> Any:
    """Records written before `layout` held its hints at the top level: move them into `layout`.

    A key given both ways stays at the top level, where validation names it.
    """
    if not isinstance(data, dict) or not any(key in data for key in keys):
        return data
    data = dict(data)
    layout = data.get("layout")
    if layout is None:
        layout = {}
    elif isinstance(layout, BaseModel):
        layout = layout.model_dump(exclude_unset=True)
    elif not isinstance(layout, dict):
        return data  # let validation name the bad value
    layout = dict(layout)
    for key in keys:
        if key in data and key not in layout:
            layout[key] = data.pop(key)
    data["layout"] = layout
    return data


class SectionLayout(Record):
    """How an imported section was written. Written by `kb import` for faithful round trips; authors leave it out."""

    heading: Annotated[int, Field(ge=1, le=6)] | None = None
    """The level of the heading the section had in the source (`#### Notes` = 4), when a report would print it otherwise (`**Notes**:` in a failure, `## Notes` in a case)."""


SECTION_LAYOUT_KEYS = tuple(SectionLayout.model_fields)


class Section(Record):
    """A labelled section kept verbatim: its label or heading, and its Markdown body."""

    title: str
    """The label or heading as written, without the Markdown markers (e.g. `Status`)."""
    text: str = ""
    """The section's Markdown body, verbatim."""
    after: str | None = None
    """The field this section followed in the source (e.g. `root_cause`; in a case `intro`, `failures`, `summary`, or `failure:<id>` for a section between two failures), so reports put it back in place; at the end when empty."""
    layout: SectionLayout = Field(default_factory=SectionLayout)
    """Presentation hints (see `SectionLayout`). Written by `kb import` for faithful round trips; authors leave it out."""

    @model_validator(mode="before")
    @classmethod
    def _legacy_layout(cls, data: Any) -> Any:
        return _move_into_layout(data, SECTION_LAYOUT_KEYS)


class DocLink(Record):
    """A link to the documentation that explains the failure."""

    title: str
    """The link text (e.g. `AWS Config Limits`)."""
    url: HttpsUrl
    """The address; `https://` only."""


class ReferenceType(StrEnum):
    """What a reference points at."""

    docs = "docs"
    """Documentation of the right behaviour (AWS documentation goes in `docs`, the shorthand)."""
    fix = "fix"
    """The change that fixes the failure (a commit, a pull request)."""
    report = "report"
    """A write-up of the failure (an issue, an incident report, an analysis)."""
    scanner_rule = "scanner-rule"
    """A linter or scanner rule that catches it (cfn-lint, Checkov, tfsec, ...)."""
    discussion = "discussion"
    """A discussion of it (a forum thread, a review comment)."""
    other = "other"
    """Anything else."""


class TypedLink(Record):
    """A link that says what it is (`references`)."""

    type: ReferenceType
    """`docs`, `fix`, `report`, `scanner-rule`, `discussion` or `other`."""
    url: HttpsUrl
    """The address; `https://` only."""
    title: str | None = None
    """The link text; the address is shown when it is left out."""


class Withdrawn(Record):
    """Why and when a record was withdrawn: kept (its page becomes a tombstone) but no longer counted, exported or listed."""

    date: datetime.date
    """When it was withdrawn (`YYYY-MM-DD`)."""
    reason: str = Field(min_length=1)
    """Why, in one or two sentences of Markdown (e.g. `A duplicate of pr7061/missing-dlq-permission.`)."""


class Reference(Record):
    """A pointer into a runnable program under `examples/` that implements the fix."""

    path: RelativePath
    """The file, relative to the project root (the KB folder's parent), e.g. `examples/pulumi/compliance/compliance.py`."""
    symbol: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]
    """The function, class or variable in that file that holds the fix (dotted for a method: `Stack.build`)."""


class Response(Record):
    """What a response did: prose, and optionally one code snippet."""

    text: str = ""
    """Markdown prose (may itself hold code blocks when the section is richer than prose plus one snippet)."""
    code: str | None = None
    """The code snippet, without fences."""
    language: str | None = None
    """The snippet's language as a fence info word (`typescript`, `python`, `hcl`, ...)."""


class IdealResponse(Response):
    """The fix: prose, an optional snippet and an optional link to a runnable reference."""

    reference: Reference | None = None
    """Where the fix is implemented in a runnable example program."""


class ImpactDetail(Record):
    """One bullet of the Cost/Security/Performance Impact section."""

    area: str | None = None
    """What is affected (`Deployment`, `Security`, `Cost`, ...); empty for a plain bullet."""
    text: str
    """The consequence, in Markdown."""


class TrainingValue(Record):
    """What a model should learn from the failure."""

    level: str | None = None
    """How valuable the lesson is, as written (`High`, `Medium`, ...)."""
    text: str = ""
    """The explanation in Markdown (e.g. `The model must learn to:`)."""
    lessons: list[str] = Field(default_factory=list)
    """The individual lessons, one item each, in order."""


FAILURE_REF_PATTERN = r"^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$"
"""A reference to a failure: `<case-id>/<failure-id>`."""
FailureRef = Annotated[str, StringConstraints(pattern=FAILURE_REF_PATTERN, max_length=241)]
"""`<case-id>/<failure-id>`; either part may be an alias."""
FailureAlias = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)?$", max_length=241)]
"""A former name of a failure: an id it had in its case, or `<case>/<failure>` where it used to be."""


class RelatedLink(Record):
    """A `related` link with a note (needed to keep linking a withdrawn failure)."""

    ref: FailureRef
    """The failure linked, `<case>/<failure>`."""
    note: str = Field(min_length=1)
    """Why the link is kept (e.g. `withdrawn, but the same mistake`)."""


InferredField = Literal["category", "services"]
"""A failure field whose value kb may infer."""
InferredTaskField = Literal["platform", "language"]
"""A field of a case's `task` whose value kb may infer (from the code of its failures)."""

FailureField = Literal[
    "impact",
    "description",
    "location",
    "model_response",
    "ideal_response",
    "error",
    "root_cause",
    "docs",
    "impact_details",
    "training_value",
]
"""A failure field a report prints as one labelled block, in the report's order."""


class FailureLayout(Record):
    """How an imported failure was written. Written by `kb import` for faithful round trips; authors leave it out."""

    labels: dict[str, str] = Field(default_factory=dict)
    """The labels the source used, by field name, where they differ from the report's (`ideal_response: Fixed Code`; `title`: a worded numbering such as `Issue 2:`). An empty label means the source gave the value without one: a report prints the text unlabelled (for `impact`: not at all, its heading implies it)."""
    field_order: list[FailureField] | None = None
    """The order the source gave the failure's fields in, when it differs from the report's (`[description, impact, model_response, ...]`); a report prints them in this order, then any others in its usual order."""


FAILURE_LAYOUT_KEYS = tuple(FailureLayout.model_fields)


class Failure(Versioned):
    """One failure the model made: what it wrote, the fix, why, and what it cost.

    Stored as `<kb>/<case-id>/<NN>-<id>.yaml`; NN orders failures within the case.
    """

    id: Slug
    """Equals the file name after `NN-` (without `.yaml`)."""
    title: str = Field(min_length=1)
    """A one-line summary of the failure."""
    impact: Impact | None = None
    """`critical`, `high`, `medium` or `low`. Left out when the source gives no level (never guessed)."""
    impact_label: str | None = None
    """The impact as the source wrote it (`Critical (Deployment Blocker)`), when it differs from the level's word."""
    status: Status = Status.published
    """`draft` until the author completes it; drafts are never exported."""
    kind: Kind = Kind.failure
    """What the entry reports: a `failure` (the default), or a non-failure kept with the case (`success`, `potential`, `limitation`, `recommendation`, `observation`, `testing-gap`, `checklist`), never counted or exported as a failure."""
    category: Slug | None = None
    """A category key from the knowledge base's `taxonomy.yaml`."""
    inferred: dict[InferredField, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    """Fields whose value kb inferred rather than an author or the source document stating it, each with its confidence from 0 to 1 (`category: 0.72`, `services: 0.9`, written by `kb import`, `kb categorise` and `kb infer`). Confirm a value by deleting its entry; an inferred value is never written over a stated one."""
    services: list[str] = Field(default_factory=list)
    """The AWS services involved (`Lambda`, `IAM`, `SQS`, ...)."""
    related: list[FailureRef | RelatedLink] = Field(default_factory=list)
    """Confirmed links to failures of other cases that are the same mistake, as `<case>/<failure>` (see `kb similar`), or `{ref, note}`; `kb check` verifies each one resolves (aliases count), and that a withdrawn failure is linked only with a note."""
    group: str | None = None
    """The heading of the section the source listed this failure under, when it is not the default `<Impact> Failures`; empty when the source listed it under no group heading (a report prints none)."""
    description: str | None = None
    """Markdown describing the problem, when the source states it apart from the model's response."""
    location: str | None = None
    """Where in the code the failure is (file, lines, resources)."""
    model_response: Response | None = None
    """What the MODEL_RESPONSE did wrong, with its faulty code."""
    ideal_response: IdealResponse | None = None
    """The IDEAL_RESPONSE fix, with its code and an optional runnable reference."""
    error: str | None = None
    """The error message seen when the faulty code ran (deployment, lint, test)."""
    root_cause: str | None = None
    """Why the model got it wrong, in Markdown."""
    docs: list[DocLink] = Field(default_factory=list)
    """Documentation links that explain the right behaviour."""
    docs_note: str | None = None
    """Text for the documentation section when it is not (only) links, e.g. `N/A - This is a code quality issue.`."""
    impact_details: list[ImpactDetail] = Field(default_factory=list)
    """The Cost/Security/Performance Impact bullets."""
    training_value: TrainingValue | None = None
    """What a model should learn from this failure."""
    references: list[TypedLink] = Field(default_factory=list)
    """Other links, each with its `type` (`fix`, `report`, `scanner-rule`, `discussion`, `docs`, `other`); AWS documentation goes in `docs`."""
    published: datetime.date | None = None
    """When the record was first published (`YYYY-MM-DD`; `kb add` sets it, `kb import` takes the task's `startedAt`)."""
    modified: datetime.date | None = None
    """When its content last changed (`kb check --fix-dates` sets it from git); the `published` date when left out."""
    withdrawn: Withdrawn | None = None
    """Set to withdraw the failure (a mistake, a duplicate): kept as a tombstone, never counted or exported."""
    superseded_by: FailureRef | None = None
    """The failure that replaces this one, `<case>/<failure>` (typically with `withdrawn`)."""
    aliases: list[FailureAlias] = Field(default_factory=list)
    """Former names that still resolve to this failure: an id it had in this case (`old-id`), or `<case>/<failure>` where it used to be. Unique across the knowledge base."""
    extra: list[Section] = Field(default_factory=list)
    """Labelled sections the schema has no field for, verbatim and in order."""
    layout: FailureLayout = Field(default_factory=FailureLayout)
    """Presentation hints (see `FailureLayout`). Written by `kb import` for faithful round trips; authors leave it out."""

    @model_validator(mode="before")
    @classmethod
    def _legacy_keys(cls, data: Any) -> Any:
        """Records written before `kind` said `not_a_failure: true` for a success or non-issue;
        records written before `layout` held its hints at the top level."""
        data = _move_into_layout(data, FAILURE_LAYOUT_KEYS)
        if isinstance(data, dict) and "not_a_failure" in data:
            data = dict(data)
            flag = data.pop("not_a_failure")
            if flag is True and "kind" not in data:
                data["kind"] = Kind.success.value
            elif not isinstance(flag, bool):
                data["not_a_failure"] = flag  # let validation name the bad value
        return data

    @property
    def is_failure(self) -> bool:
        """True when the entry counts as a failure of the model (a withdrawn one does not)."""
        return self.kind is Kind.failure and self.withdrawn is None

    @property
    def related_refs(self) -> list[str]:
        """The `related` links as `<case>/<failure>` strings (notes left out)."""
        return [link if isinstance(link, str) else link.ref for link in self.related]


class Task(Record):
    """The task the model was given, from its `metadata.json` (normalised); its documents are files beside the case."""

    platform: str | None = None
    """The IaC tool, normalised: `cdk`, `cdktf`, `cfn`, `tf`, `pulumi`, `analysis`, `cicd`, ..."""
    language: str | None = None
    """The program's language, normalised: `ts`, `py`, `go`, `java`, `js`, `hcl`, `yaml`, `json`, ..."""
    complexity: str | None = None
    """The task's difficulty as labelled (`medium`, `hard`, `expert`)."""
    subtask: str | None = None
    """The task family (e.g. `Provisioning of Infrastructure Environments`)."""
    aws_services: list[str] = Field(default_factory=list)
    """The AWS services the task uses, normalised names."""
    subject_labels: list[str] = Field(default_factory=list)
    """Free labels of the task's subject."""
    prompt: str | None = None
    """The task prompt given to the model, verbatim, for a case without a `PROMPT.md` file beside its records."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """The raw `metadata.json`, unchanged."""


class Source(Record):
    """Where an imported case came from."""

    path: str
    """The path given to `kb import` for this document."""
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    """The SHA-256 of the document's bytes."""


class Checklist(Record):
    """A short lead-in and a list of items (e.g. the production readiness checklist)."""

    text: str = ""
    """The lead-in sentence in Markdown."""
    items: list[str] = Field(default_factory=list)
    """The items verbatim, with any ✅/❌ mark they carry."""


class Summary(Record):
    """The closing summary of a case. Totals are computed from the failures, never stored."""

    written_totals: str | None = None
    """A totals line written by hand in an imported document, kept as text so `kb check` can compare it with the records."""
    knowledge_gaps: list[str] = Field(default_factory=list)
    """The primary knowledge gaps the failures reveal, one item each."""
    training_value: TrainingValue | None = None
    """The case's overall training value."""
    deployment_impact: str | None = None
    """Markdown: what the failures did to deployment, and what the fixes changed."""
    testing_impact: str | None = None
    """Markdown: test coverage and results."""
    production_readiness: Checklist | None = None
    """The production readiness checklist after the fixes."""
    sections: list[Section] = Field(default_factory=list)
    """Other summary sections, verbatim and in order."""


class CaseLayout(Record):
    """How an imported document was laid out, so `kb render` gives it back as written.

    Written by `kb import` for faithful round trips; authors leave it out (a native case
    follows the seed's format).
    """

    inline_labels: bool | list[str] = False
    """The source wrote a label's value on the label's own line (`**Root Cause**: text`) rather than below it, so a report does the same when the value opens with prose. `true` for every label; or only the labels of these fields (`root_cause`, `training_value`, ...; `extra` for other labelled sections, `summary` for the summary's)."""
    order: Literal["impact", "source"] | None = None
    """`impact` (the default) lists failures by level, then NN; `source` keeps NN order, as the imported document listed them."""
    numbering: Literal["running", "group"] | None = None
    """`running` (the default) numbers failures 1, 2, 3 across the report; `group` restarts at 1 under each group heading, as the imported document did."""
    rules: Literal["each", "between", "none"] | None = None
    """Where a `---` rule closes a failure: after `each` one (the default), only `between` failures (not after the last), or `none`, as the imported document did."""
    heading_level: Annotated[int, Field(ge=2, le=6)] | None = None
    """The level of failure headings (3, `### 1. Title`, by default; group headings go one level up), as the imported document had them."""
    bold_titles: bool = False
    """Failure titles in bold (`### 1. **Title**`), as the imported document wrote them."""
    list_labels: bool = False
    """A failure's labels open list items (`- **Issue**: text`), as the imported document wrote them."""
    detail_paragraphs: bool = False
    """A failure's lone impact detail without an area is a paragraph under its label (`**Impact**: text`), not a bullet, as the imported document wrote it."""
    colon_inside: bool = False
    """Labels with the colon inside the bold (`**Root Cause:**`), as the imported document wrote them."""


CASE_LAYOUT_KEYS = tuple(CaseLayout.model_fields)


class Case(Versioned):
    """One analysis (one MODEL_FAILURES.md document). Stored as `<kb>/<id>/case.yaml`."""

    id: Slug
    """Equals the case's folder name."""
    title: str = Field(min_length=1)
    """The document's title."""
    intro: str = ""
    """Markdown shown under the title, before the failures."""
    task: Task | None = None
    """The task the model was given."""
    source: Source | None = None
    """For an imported case: the document it came from."""
    summary: Summary | None = None
    """The closing summary."""
    extra: list[Section] = Field(default_factory=list)
    """Sections of the document the schema has no field for, verbatim and in order."""
    inferred: dict[InferredTaskField, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    """Fields of `task` whose value kb inferred from the failures' code rather than the task's metadata stating it, each with its confidence from 0 to 1 (`platform: 0.9`, written by `kb import` and `kb infer`). Confirm a value by deleting its entry; an inferred value is never written over a stated one."""
    duplicate_of: Slug | None = None
    """The case this one is a near-copy of (the same analysis, another version), as `kb import` found it: its failures are not counted as recurrences of that case's."""
    references: list[TypedLink] = Field(default_factory=list)
    """Links about the whole case, each with its `type` (`report`, `fix`, `discussion`, ...)."""
    published: datetime.date | None = None
    """When the case was first published (`YYYY-MM-DD`; `kb add case` sets it, `kb import` takes the task's `startedAt`)."""
    modified: datetime.date | None = None
    """When `case.yaml` last changed (`kb check --fix-dates` sets it from git); the `published` date when left out. The case's change date (feed, `kb stats --since`) is the latest of its own and its failures'."""
    withdrawn: Withdrawn | None = None
    """Set to withdraw the whole case: its page becomes a tombstone, its failures are never counted or exported."""
    superseded_by: Slug | None = None
    """The case that replaces this one (typically with `withdrawn`)."""
    aliases: list[Slug] = Field(default_factory=list)
    """Former ids and other names of the case that still resolve to it (`pr7060`, the source task's ids): `<alias>/<failure>` works wherever a failure is named. Unique across the knowledge base."""
    layout: CaseLayout = Field(default_factory=CaseLayout)
    """Presentation hints (see `CaseLayout`). Written by `kb import` for faithful round trips; authors leave it out."""

    @model_validator(mode="before")
    @classmethod
    def _legacy_layout(cls, data: Any) -> Any:
        return _move_into_layout(data, CASE_LAYOUT_KEYS)


class Category(Record):
    """One category of the failure taxonomy."""

    id: Slug
    """The key failures use in `category`."""
    title: str
    """A short human title."""
    description: str
    """What belongs in this category, in Markdown."""


class Taxonomy(Record):
    """The controlled vocabulary of failure categories (`<kb>/taxonomy.yaml`)."""

    categories: list[Category]
    """The categories, in display order."""
