"""One-line edits of hand-written YAML: the key set, every other byte kept."""

from __future__ import annotations

import datetime

import pytest
import yaml

from kb.yamledit import set_key

TEXT = "# yaml-language-server: $schema=x\n# notes\nid: one  # the id\ntitle: |-\n  Two\n  lines\nmodified: 2026-01-01 # kept\n"


def test_an_existing_value_is_replaced_in_place_keeping_its_comment() -> None:
    edited = set_key(TEXT, "modified", datetime.date(2026, 5, 6))
    assert edited == TEXT.replace("modified: 2026-01-01 # kept", "modified: 2026-05-06 # kept")


def test_a_missing_key_goes_after_the_first_one_line_key_given_or_before_the_first_key() -> None:
    edited = set_key(TEXT, "published", datetime.date(2026, 1, 1), after=("title", "id"))
    assert edited == TEXT.replace("id: one  # the id\n", "id: one  # the id\npublished: 2026-01-01\n")
    assert yaml.safe_load(edited)["published"] == datetime.date(2026, 1, 1)
    first = set_key(TEXT, "schema_version", 2)
    assert first == TEXT.replace("# notes\n", "# notes\nschema_version: 2\n")
    assert (
        set_key("id: one", "published", datetime.date(2026, 1, 1), after=("id",)) == "id: one\npublished: 2026-01-01\n"
    )


def test_a_value_of_several_lines_is_left_to_a_human() -> None:
    with pytest.raises(ValueError, match="spans several lines"):
        set_key(TEXT, "title", "One line")
