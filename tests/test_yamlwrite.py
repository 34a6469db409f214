"""The record YAML writer: whatever it writes, libyaml reads back to the same data."""

from __future__ import annotations

import math
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.yamlwrite import to_yaml

tricky_text = st.text(alphabet=" \n\t-:#'\"|>?!&*%@`{}[],a1.e+~\r\x85\u2028\ufeff", max_size=30)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
    | tricky_text
    | st.sampled_from(["yes", "No", "on", "null", "~", "1e3", "0x1F", "1_000", ".inf", "2024-01-01", "12:30", "="])
)
data = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


def normalised(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


@settings(max_examples=1500, deadline=None)
@given(st.dictionaries(st.text(max_size=10), data, min_size=1, max_size=5))
def test_libyaml_reads_back_what_was_written(record: dict[str, Any]) -> None:
    text = to_yaml(record)
    assert normalised(yaml.load(text, Loader=yaml.CSafeLoader)) == normalised(record)


def test_readable_block_style() -> None:
    text = to_yaml(
        {"id": "x", "title": "A: colon", "impact": "high", "services": ["Lambda"], "root_cause": "line\nnext\n", "n": 3}
    )
    assert text == (
        'id: x\ntitle: "A: colon"\nimpact: high\nservices:\n- Lambda\nroot_cause: |\n  line\n  next\nn: 3\n'
    )


def test_strings_that_look_like_other_types_are_quoted() -> None:
    assert to_yaml({"a": "true", "b": "3", "c": "null", "d": "- item"}) == 'a: "true"\nb: "3"\nc: "null"\nd: "- item"\n'
