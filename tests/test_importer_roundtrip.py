"""record -> `kb render` -> `kb import` -> the same record (skipped until the renderer exists)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.importer import assemble_case
from kb.importer.assemble import slugify
from kb.importer.taxonomy import DEFAULT_CATEGORIES
from kb.models import Case, DocLink, Failure, IdealResponse, Impact, ImpactDetail, Response, TrainingValue
from kb.store import LoadedCase, LoadedFailure, load_kb, record_data

report = pytest.importorskip("generator.report")
env_module = pytest.importorskip("generator.env")
ROOT = Path(__file__).resolve().parent.parent

WORD = st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=8)
SENTENCE = st.lists(WORD, min_size=2, max_size=8).map(lambda words: " ".join(words).capitalize() + ".")
TITLE = st.lists(WORD, min_size=1, max_size=6).map(lambda words: " ".join(w.capitalize() for w in words))
CODE_LINE = st.text(alphabet=string.ascii_letters + string.digits + " =(){};`'\".", max_size=30).map(str.strip)
CODE = st.lists(CODE_LINE, min_size=1, max_size=5).map("\n".join).filter(lambda code: code.strip() != "")


@st.composite
def responses(draw: st.DrawFn, model: type[Response]) -> Response:
    code = draw(st.none() | CODE)
    return model(
        text=draw(SENTENCE), code=code, language=draw(st.sampled_from(["ts", "python", "hcl"])) if code else None
    )


@st.composite
def failures(draw: st.DrawFn) -> Failure:
    title = draw(TITLE)
    docs = draw(
        st.lists(
            st.builds(DocLink, title=TITLE, url=WORD.map(lambda w: f"https://docs.aws.amazon.com/{w}")), max_size=3
        )
    )
    details = draw(st.lists(st.builds(ImpactDetail, area=WORD.map(str.capitalize), text=SENTENCE), max_size=3))
    training = draw(
        st.none()
        | st.builds(
            TrainingValue,
            level=st.sampled_from(["High", "Medium"]),
            text=SENTENCE,
            lessons=st.lists(SENTENCE, max_size=3),
        )
    )
    return Failure(
        id=slugify(title) or "failure",
        title=title,
        impact=draw(st.sampled_from(list(Impact))),
        description=draw(st.none() | SENTENCE),
        model_response=draw(st.none() | responses(Response)),
        ideal_response=draw(st.none() | responses(IdealResponse)),
        root_cause=draw(st.none() | SENTENCE),
        docs=docs,
        impact_details=details,
        training_value=training,
    )


def render(case: Case, records: list[Failure], tmp: Path) -> str:
    folder = tmp / "kb" / case.id
    loaded = LoadedCase(
        folder, case, [LoadedFailure(folder / f"{n:02d}-{f.id}.yaml", n, f) for n, f in enumerate(records, 1)]
    )
    text: str = report.render_case(loaded, env_module.make_env(), project_root=tmp)
    return text


def reimport(text: str) -> tuple[Case, list[Failure]]:
    result = assemble_case(
        text, case_id="case", fallback_title="x", source=None, task=None, categories=DEFAULT_CATEGORIES
    )
    return result.case, result.failures


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(TITLE, st.none() | SENTENCE, st.lists(failures(), min_size=1, max_size=4, unique_by=lambda f: f.id))
def test_render_then_import_gives_the_records_back(
    tmp_path: Path, title: str, intro: str | None, drawn: list[Failure]
) -> None:
    records = sorted(drawn, key=lambda f: f.impact.rank if f.impact else 9)
    case = Case(id="case", title=title, intro=intro or "")
    got_case, got = reimport(render(case, records, tmp_path))
    assert (got_case.title, got_case.intro) == (case.title, case.intro)
    assert [record_data(f) for f in got] == [record_data(f) for f in records]


def test_bundled_seed_case_round_trips(tmp_path: Path) -> None:
    loaded = load_kb(ROOT / "failures", cases=["pr7060"]).cases[0]
    text = report.render_case(loaded, env_module.make_env())
    case, got = reimport(text)
    expected = record_data(loaded.case)
    expected.pop("task", None)
    actual = record_data(case)
    actual["summary"].pop("written_totals")
    assert actual == {**expected, "id": "case"}
    for original, imported in zip(loaded.failures, got, strict=True):
        left, right = record_data(original.failure), record_data(imported)
        for key in ("id", "category", "services"):  # not in the report
            left.pop(key, None)
            right.pop(key, None)
        assert left == right
