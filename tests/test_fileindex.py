"""The cache's file index: one blob that gives back exactly the entries packed into it,
refuses anything else, and merges what runs at once store."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kb.cache import RecordCache, Stat, Stored
from kb.errors import Problem, Severity
from kb.fileindex import DIGEST_SIZE, Known, pack, problems_json, unpack

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_JSON = st.lists(st.tuples(st.integers(1, 999), st.integers(1, 99), st.text(max_size=20))).map(
    lambda found: problems_json(Problem("x", line, col, message, Severity.error) for line, col, message in found)
)
_KNOWN = st.builds(
    Known,
    _INT64,
    _INT64,
    _INT64,
    _INT64,
    _INT64,
    st.binary(min_size=DIGEST_SIZE, max_size=DIGEST_SIZE),
    st.booleans(),
    _JSON,
    st.none() | st.text(max_size=30),
    _JSON,
)
_KEYS = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), min_size=1, max_size=40)


@given(st.dictionaries(_KEYS, _KNOWN, max_size=30))
def test_unpack_gives_back_what_pack_packed(index: dict[str, Known]) -> None:
    assert unpack(pack(index)) == index


def test_an_entry_without_a_whole_digest_is_left_out() -> None:
    good = Known(1, 2, 3, 4, 5, b"d" * DIGEST_SIZE, True, "[]", "a", "[]")
    assert unpack(pack({"a.yaml": good, "b.yaml": good._replace(digest=b"short")})) == {"a.yaml": good}


@pytest.mark.parametrize("cut", [0, 1, 10, -1])
def test_a_truncated_or_padded_blob_is_refused(cut: int) -> None:
    blob = pack({"a.yaml": Known(1, 2, 3, 4, 5, b"d" * DIGEST_SIZE, True, "[]", "a", "[]")})
    with pytest.raises(ValueError):
        unpack(blob[:cut] if cut >= 0 else blob + b"x")


def _stored(key: str) -> Stored:
    return Stored(key, Stat(1, 2, 3, 4), b"d" * DIGEST_SIZE, (), key, {"slim": "{}"})


def test_runs_at_once_keep_each_others_entries(tmp_path: Path) -> None:
    """Two runs read the index, each stores its own file: both entries are there after."""
    root = tmp_path / "kb"
    root.mkdir()
    with RecordCache.open(root) as first:
        first.store([_stored("base.yaml")])
    with RecordCache.open(root) as one, RecordCache.open(root) as other:
        assert set(one.known()) == set(other.known()) == {"base.yaml"}
        one.store([_stored("one.yaml")])
        other.store([_stored("other.yaml")], forget=["base.yaml"])
        one.flush()
        other.flush()
    with RecordCache.open(root) as after:
        assert set(after.known()) == {"one.yaml", "other.yaml"}
        assert after.payloads("slim", {"one.yaml": b"d" * DIGEST_SIZE}) == {"one.yaml": "{}"}


def test_entries_are_written_when_the_cache_is_closed(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    with RecordCache.open(root) as cache:
        cache.store([_stored("a.yaml")])
        with RecordCache.open(root) as meanwhile:
            assert meanwhile.known() == {}  # not written yet
    with RecordCache.open(root) as after:
        assert set(after.known()) == {"a.yaml"}
