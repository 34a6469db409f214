"""The record schemas: what they accept, what they refuse, and that YAML round-trips them."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from kb.models import Case, CaseLayout, DocLink, Failure, Impact, Reference, Section, Status, Taxonomy
from kb.store import dump_record, record_data


def failure(**fields: Any) -> Failure:
    return Failure.model_validate({"id": "some-failure", "title": "Something broke", **fields})


def test_minimal_failure_defaults() -> None:
    record = failure()
    assert record.status is Status.published
    assert record.impact is None
    assert record.docs == [] and record.extra == []


@pytest.mark.parametrize("impact", ["critical", "high", "medium", "low"])
def test_impact_levels(impact: str) -> None:
    assert failure(impact=impact).impact is Impact(impact)


def test_impact_order_and_label() -> None:
    assert [i.rank for i in Impact] == [0, 1, 2, 3]
    assert Impact.critical.label == "Critical"


@pytest.mark.parametrize("impact", ["Critical", "severe", "", 3])
def test_impact_outside_enum_refused(impact: object) -> None:
    with pytest.raises(ValidationError):
        failure(impact=impact)


@pytest.mark.parametrize("bad_id", ["Has-Caps", "-leading", "with space", "a/b", "../x", "a.b", ""])
def test_ids_are_slugs(bad_id: str) -> None:
    with pytest.raises(ValidationError):
        failure(id=bad_id)


def test_unknown_key_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        failure(rot_cause="typo")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "vbscript:msgbox",
        "http://docs.aws.amazon.com/x",
        "//evil.example/x",
        "docs/relative.html",
        "https:///no-host",
        " https://docs.aws.amazon.com/x",
        "https://docs.aws.amazon.com/a b",
    ],
)
def test_doc_urls_must_be_https(url: str) -> None:
    with pytest.raises(ValidationError):
        DocLink(title="x", url=url)


@pytest.mark.parametrize(
    "url", ["https://docs.aws.amazon.com/config/latest/developerguide/configlimits.html", "http://localhost:8000/x"]
)
def test_https_and_local_http_accepted(url: str) -> None:
    assert DocLink(title="x", url=url).url == url


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "../outside.py", "examples/../../x.py", "a//b.py", "C:/x.py", "a\\b.py"]
)
def test_reference_paths_stay_in_project(path: str) -> None:
    with pytest.raises(ValidationError):
        Reference(path=path, symbol="fix")


def test_reference_symbol_is_identifier() -> None:
    assert Reference(path="examples/x.py", symbol="Stack.build").symbol == "Stack.build"
    with pytest.raises(ValidationError):
        Reference(path="examples/x.py", symbol="not a symbol")


def test_taxonomy_and_case_parse() -> None:
    taxonomy = Taxonomy.model_validate({"categories": [{"id": "iam", "title": "IAM", "description": "d"}]})
    assert taxonomy.categories[0].id == "iam"
    case = Case.model_validate({"id": "pr1", "title": "T", "extra": [{"title": "Notes", "text": "x"}]})
    assert case.extra == [Section(title="Notes", text="x")]


def test_every_field_is_documented() -> None:
    from kb import models

    for name in dir(models):
        model = getattr(models, name)
        if isinstance(model, type) and issubclass(model, models.Record) and model is not models.Record:
            for field_name, field in model.model_fields.items():
                assert field.description, f"{name}.{field_name} has no docstring"


# -- round trip: record -> YAML -> record -------------------------------------------------

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
slug = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
sections = st.lists(st.builds(Section, title=text, text=text, after=st.none() | st.just("root_cause")), max_size=2)
failures = st.builds(
    Failure,
    id=slug,
    title=text.filter(bool),
    impact=st.none() | st.sampled_from(Impact),
    status=st.sampled_from(Status),
    services=st.lists(text, max_size=3),
    root_cause=st.none() | text,
    docs=st.lists(st.builds(DocLink, title=text, url=st.just("https://docs.aws.amazon.com/x?a=1#b")), max_size=2),
    extra=sections,
)


@settings(max_examples=150, deadline=None)
@given(failures)
def test_failure_yaml_round_trip(record: Failure) -> None:
    dumped = dump_record(record)
    assert dumped.startswith("# yaml-language-server: $schema=")
    again = Failure.model_validate(yaml.load(dumped, Loader=yaml.CSafeLoader))
    assert again == record
    assert dump_record(again) == dumped


def test_dump_keeps_schema_order_and_leaves_out_defaults() -> None:
    record = failure(impact="high", root_cause="why\nbecause")
    assert list(record_data(record)) == ["id", "title", "impact", "root_cause"]
    assert "root_cause: |-\n  why\n  because\n" in dump_record(record)


def test_records_with_top_level_hints_load_into_layout_and_are_written_the_new_way() -> None:
    old_case = {
        "id": "c",
        "title": "C",
        "extra": [{"title": "Notes", "text": "x", "heading": 4}],
        "order": "source",
        "inline_labels": ["root_cause"],
        "colon_inside": True,
    }
    case = Case.model_validate(old_case)
    assert case.layout == CaseLayout(order="source", inline_labels=["root_cause"], colon_inside=True)
    assert case.extra[0].layout.heading == 4
    data = record_data(case)
    assert data["layout"] == {"inline_labels": ["root_cause"], "order": "source", "colon_inside": True}
    assert data["extra"] == [{"title": "Notes", "text": "x", "layout": {"heading": 4}}]
    assert not set(data) & set(CaseLayout.model_fields)
    failure = Failure.model_validate({"id": "f", "title": "F", "labels": {"title": ""}, "field_order": ["root_cause"]})
    assert (failure.layout.labels, failure.layout.field_order) == ({"title": ""}, ["root_cause"])
    assert list(record_data(failure)) == ["id", "title", "layout"]
    assert Case.model_validate(data) == case  # the new form reads back the same


def test_a_hint_given_both_ways_is_an_error() -> None:
    with pytest.raises(ValidationError, match="order"):
        Case.model_validate({"id": "c", "title": "C", "order": "source", "layout": {"order": "impact"}})


def test_native_records_have_no_layout_on_disk() -> None:
    assert "layout" not in record_data(Case(id="c", title="C"))
    assert "layout" not in record_data(Failure(id="f", title="F", extra=[Section(title="S", text="t")]))


def test_the_case_schema_keeps_hints_under_layout_only() -> None:
    top = set(Case.model_json_schema()["properties"])
    hints = set(CaseLayout.model_fields) | {"labels", "field_order", "heading"}
    assert "layout" in top and not top & hints
