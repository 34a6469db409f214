"""kb's YAML loader against yaml.CSafeLoader: the same data for every document, the same error for every refusal.

``yamlio.parse`` builds records from libyaml's events itself and leaves anything unusual to
``yaml.CSafeLoader``; the reference below is the code it replaced (``yaml.load`` with
``CSafeLoader``, then the alias and depth checks), run on the same text.
"""

from __future__ import annotations

import datetime
import math
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb import yamlio
from kb.errors import RecordError

ROOT = Path(__file__).resolve().parent.parent


def reference(text: str) -> Any:
    """The loader before: yaml.CSafeLoader, then the shape checks (``_check_shape``)."""
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise RecordError(yamlio._mark_problem("r.yaml", exc)) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise RecordError(yamlio.Problem.at("r.yaml", f"invalid YAML: {exc}")) from None
    yamlio._check_shape("r.yaml", text, data)
    return data


def outcome(load: Any, text: str) -> tuple[str, Any]:
    try:
        return "data", typed(load(text))
    except RecordError as exc:
        return "refused", str(exc)
    except Exception as exc:  # a constructor's own error (a date out of range) goes out as before
        return "raised", (type(exc).__name__, str(exc))


def typed(value: Any) -> Any:
    """The value with every type spelled out (True == 1 == 1.0 in Python; nan != nan), key order kept."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def same(text: str) -> None:
    new = outcome(lambda t: yamlio.parse("r.yaml", t), text)
    old = outcome(reference, text)
    if old[0] == "raised":  # CSafeLoader's ValueError went out as a traceback; kb now says where instead
        assert new[0] == "refused" and old[1][1] in new[1] and "quote it" in new[1], (text, new, old)
        return
    assert new == old, text


def built(text: str) -> bool:
    """Whether the fast builder made this document itself (rather than handing it to CSafeLoader)."""
    try:
        yamlio._build(text)
    except Exception:
        return False
    return True


TRICKY_PLAIN = [
    "yes",
    "Yes",
    "YES",
    "no",
    "No",
    "on",
    "Off",
    "y",
    "n",
    "true",
    "False",
    "TRUE",
    "null",
    "Null",
    "NULL",
    "~",
    "1_000",
    "0o17",
    "017",
    "0x1F",
    "0b101",
    "-0",
    "+12",
    "190:20:30",
    "1e3",
    "1.0e+3",
    "6.8523015e+5",
    "-.5",
    ".inf",
    "-.INF",
    ".nan",
    ".NaN",
    "1.",
    "1_0.5",
    "2024-01-01",
    "2024-1-1",
    "2024-01-01 10:00:00",
    "2024-01-01T10:00:00Z",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "2024-13-45",
    "12:30",
    "0.",
    "._",
    "-",
    "--x",
    "a b",
    "héllo",
    "日本語",
    "x # not a comment?",
    "=",
    "<<",
    "v1.2.3",
    "1.2.3",
    "0",
    "00",
    "1,000",
    "Infinity",
    "NaN",
    "none",
    "nil",
    "'",
    "",
]
TRICKY_QUOTED = ["'yes'", '"1_000"', "'2024-01-01'", '"~"', "''", '""', '"a\\tb\\u00e9"', "'it''s'", '"\\x41"']


def test_tricky_scalars_resolve_as_csafeloader() -> None:
    for token in TRICKY_PLAIN + TRICKY_QUOTED:
        for text in (f"key: {token}\n", f"- {token}\n", f"{token}: value\n", f"{token}\n", f"[{token}, x]\n"):
            same(text)
    assert built("key: yes\nn: 1_000\nd: 2024-01-01\nt: 2024-01-01 10:00:00\nf: .inf\nz: ~\ne: ''\n")


BLOCKS = [
    "a: |\n  line one\n  line two\n\n",
    "a: |-\n  kept\n   indented\nb: x\n",
    "a: >\n  folded\n  text\n\n  para\n",
    "a: >+\n  keep\n\n\nb: 1\n",
    "a: |2\n    two extra\n",
    "a: 'multi\n  line single'\n",
    'a: "multi\\\n  line double"\n',
    "a: plain\n  continued\n  lines\n",
    "# comment\n---\na: 1\n...\n",
    "%YAML 1.1\n---\na: 1\n",
    "a:\n- 1\n- - 2\n  - {b: [c, {d: e}]}\n",
    "a: {}\nb: []\nc: [{}, []]\n",
    "",
    "# only a comment\n",
    "---\n",
    "--- 3\n",
    "a: 1\na: 2\n",
    "1: a\n1.0: b\ntrue: c\n",
    "? a\n: b\n",
]

REFUSED_OR_UNUSUAL = [
    "a: &x [1]\nb: *x\n",
    "a: &x 1\nb: *x\n",
    "a: &x 1\n",
    "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n",
    "m:\n  <<: {x: 1}\n  y: 2\n",
    "m:\n  =: 1\n",
    "a: =\n",
    "a: !!str 1\n",
    "a: !!int '7'\n",
    "a: !custom x\n",
    "a: ! 12\n",
    "a: !!binary aGVsbG8=\n",
    "a: !!set {x, y}\n",
    "? [a, b]\n: c\n",
    "? {a: b}\n: c\n",
    "a: 1\n---\nb: 2\n",
    "a: 1\n--- \n",
    "a: [1, 2\n",
    'title: "never closed\n',
    "id: x\ntitle: t\n  impact: high\n",
    "id: x\nmodel_response:\n\ttext: t\n",
    "a: b: c\n",
    "- a\nb: c\n",
    "a: 2024-13-45\n",
    "a: @x\n",
    "a: `x\n",
    "a: \x07\n",
    "[" * 63 + "]" * 63 + "\n",
    "[" * 64 + "]" * 64 + "\n",
    "[" * 65 + "]" * 65 + "\n",
    "[" * 66 + "]" * 66 + "\n",
    "[" * 3000 + "]" * 3000 + "\n",
]


@pytest.mark.parametrize("text", BLOCKS + REFUSED_OR_UNUSUAL)
def test_documents_load_or_fail_as_csafeloader(text: str) -> None:
    same(text)


def test_the_usual_records_are_built_without_csafeloader() -> None:
    for text in BLOCKS[:9]:
        assert built(text), text
    assert not built("a: &x 1\n") and not built("a: !!str 1\n") and not built("m:\n  <<: {x: 1}\n")


def record_files() -> list[Path]:
    roots = [ROOT / "failures", ROOT / "examples", ROOT / "tests"]
    extra = os.environ.get("KB_YAML_DIFF_DIR")  # e.g. an import of the corpus
    if extra:
        roots.append(Path(extra))
    return sorted(p for root in roots if root.exists() for p in root.rglob("*.yaml"))


def test_every_record_in_the_repository_loads_as_csafeloader() -> None:
    files = record_files()
    assert len(files) >= 5
    for path in files:
        text = yamlio.decode(path, path.read_bytes())
        same(text)


# hypothesis: documents written from pieces that stress resolution, quoting, nesting and layout.
_words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=0, max_size=12
)
_printable = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Co")), max_size=12)
_plain_token = st.one_of(st.sampled_from(TRICKY_PLAIN), st.from_regex(r"[A-Za-z0-9.+\-_:~ ]{0,10}", fullmatch=True))
_quoted = st.one_of(
    st.sampled_from(TRICKY_QUOTED),
    _printable.map(lambda w: "'" + w.replace("'", "''") + "'"),
    _printable.map(lambda w: '"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"'),
)
_scalar_text = st.one_of(_plain_token, _quoted)
_any_text = st.one_of(_plain_token, _quoted, _words)  # raw words too: YAML errors must come out as before


def _block(scalar: st.SearchStrategy[str], depth: int) -> st.SearchStrategy[str]:
    """A block-style YAML value at ``depth`` levels of two-space indentation (text after ``key:``)."""
    pad = "  " * depth
    leaf = scalar.map(lambda s: " " + s + "\n")
    literal = st.lists(_plain_token, min_size=1, max_size=3).flatmap(
        lambda lines: st.sampled_from(["|", "|-", ">", ">+"]).map(
            lambda style: f" {style}\n" + "".join(f"{pad}  {line}\n" for line in lines)
        )
    )
    if depth >= 3:
        return st.one_of(leaf, literal)
    mapping = st.lists(st.tuples(scalar, _block(scalar, depth + 1)), min_size=1, max_size=4).map(
        lambda items: "\n" + "".join(f"{pad}  {k}:{v}" for k, v in items)
    )
    sequence = st.lists(_block(scalar, depth + 1), min_size=1, max_size=3).map(
        lambda items: "\n" + "".join(f"{pad}  -{v}" for v in items)
    )
    flow = st.lists(scalar, max_size=4).map(lambda items: " [" + ", ".join(items) + "]\n")
    return st.one_of(leaf, literal, mapping, sequence, flow)


def _documents(scalar: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(st.tuples(scalar, _block(scalar, 0)), min_size=0, max_size=5).map(
        lambda items: "".join(f"{k}:{v}" for k, v in items)
    )


documents = _documents(_scalar_text)
raw_documents = _documents(_any_text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_documents)
def test_generated_raw_documents_fail_or_load_as_csafeloader(text: str) -> None:
    same(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_generated_documents_load_or_fail_as_csafeloader(text: str) -> None:
    same(text)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _words, st.dates(), st.datetimes()),
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_words, inner, max_size=4)),
        max_leaves=20,
    ),
    st.sampled_from([None, False, True]),
    st.sampled_from([None, "'", '"', "|", ">"]),
)
def test_dumped_data_loads_as_csafeloader(data: Any, flow: bool | None, style: str | None) -> None:
    same(yaml.safe_dump(data, default_flow_style=flow, default_style=style, allow_unicode=True))


@pytest.mark.parametrize(
    ("text", "where"),
    [("a: 1\nb:\n  - x\n  - 2024-13-45\n", "4:5"), ("2024-02-30: x\n", "1:1"), ("t: 2024-01-01 25:00:00\n", "1:4")],
)
def test_a_date_that_is_none_is_refused_where_it_is(text: str, where: str) -> None:
    with pytest.raises(RecordError) as caught:
        yamlio.parse("r.yaml", text)
    assert str(caught.value).startswith(f"r.yaml:{where}: invalid YAML: cannot read this value (")


def test_dates_and_times_are_the_loaders_types() -> None:
    data = yamlio.parse("r.yaml", "d: 2024-01-01\nt: 2024-01-01 10:00:00\nz: 2024-01-01T10:00:00+02:00\n")
    assert data["d"] == datetime.date(2024, 1, 1) and type(data["t"]) is datetime.datetime
    assert data["z"].utcoffset() == datetime.timedelta(hours=2)
