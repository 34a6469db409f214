"""What makes `kb import` fast must not change what it writes.

Categorising tries only the cues that can match a text (``Rules.candidates``); the
near-copies and ambiguous aliases found across an import are written in one rewrite of
each case, from the record in hand. These tests hold both to the plain way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb.importer import import_documents
from kb.importer.folded import Folded
from kb.models import Case
from kb.recurring.categorise import Rules, infer_category, literals, rules_for
from kb.recurring.category_rules import CUES
from kb.store import dump_record, load_kb, read_record

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("quota", ("quota",)),
        (r"limits?\b", ("limit",)),
        (r"x-?ray|tracing", ("x", "tracing")),
        (r"security groups?|\bsg\b", ("security group", "sg")),
        (r"(?<!for )tests?\b|testing", ("test", "testing")),
        (r"(?:iam |trust )polic", ("iam ", "trust ")),
        (r"0\.0\.0\.0/0|open ports?", ("0.0.0.0/0", "open port")),
        (r"nam(?:e|es)\b", ("nam",)),
        (r"(?:a|b)?c", None),  # an optional group: the match may start with `c`
        (r"[a-z]+:", None),  # a class: no literal start
        (r"\w+ per", None),
    ],
)
def test_a_cue_is_indexed_by_what_every_match_starts_with(pattern: str, expected: tuple[str, ...] | None) -> None:
    assert literals(pattern) == expected


def _every_cue(rules: Rules) -> Rules:
    """The same rules with every cue tried on every text (as before the index)."""
    return Rules(rules.categories, rules.cues, {}, frozenset(range(len(rules.cues))), ())


def _texts() -> list[dict[str, str]]:
    """Failure texts that touch every cue: the repository's own records, the cues' own
    words in and out of word starts, and the taxonomy's descriptions."""
    kb = load_kb(ROOT / "failures")
    found = [loaded.failure.model_dump(mode="json", exclude_defaults=True) for c in kb.cases for loaded in c.failures]
    for cues in CUES.values():
        for cue, _ in cues:
            words = " ".join(re.findall(r"[a-z0-9][a-z0-9 ./:_-]*", cue))
            found.append({"title": words, "root_cause": f"x{words} and {words.upper()} then {words}s"})
            found.append({"title": f"no{words}", "description": words.replace(" ", "")})
    if kb.taxonomy:
        found += [{"title": c.title, "description": c.description or ""} for c in kb.taxonomy.categories]
    return found


def test_indexed_cues_infer_what_trying_every_cue_infers() -> None:
    rules = rules_for(list(CUES))
    texts = _texts()
    assert len(texts) > 250
    inferred = [infer_category(data, rules) for data in texts]
    assert inferred == [infer_category(data, _every_cue(rules)) for data in texts]
    assert len({i.category for i in inferred if i}) == len(CUES)  # the texts reach every category


def test_custom_categories_are_indexed_by_their_words() -> None:
    rules = rules_for(["flux-capacitor", "configuration"])
    found = infer_category({"title": "The flux capacitor overheats"}, rules)
    assert found is not None and found.category == "flux-capacitor"
    assert found == infer_category({"title": "The flux capacitor overheats"}, _every_cue(rules))


DOCUMENT = """# Model Failures

### 1. Lambda execution role cannot write to its dead-letter queue

**Impact Level**: Critical

**Root Cause**: The role has no sqs:SendMessage permission on the queue, so failed events are lost
and the function retries until the event expires; every retry bills again.
"""


def test_a_near_copy_with_a_shared_alias_is_rewritten_once_as_kb_writes_it(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    for name in ("cdk-ts-Pr101", "again/cdk-ts-Pr101"):
        (tasks / name).mkdir(parents=True)
        (tasks / name / "MODEL_FAILURES.md").write_text(DOCUMENT)
        (tasks / name / "metadata.json").write_text('{"po_id": "shared"}')
    kb = tmp_path / "kb"
    result = import_documents([tasks], kb)
    assert result.ok and result.cases == 2
    original, copy = (read_record(kb / name / "case.yaml", Case) for name in ("cdk-ts-pr101", "cdk-ts-pr101-c34774"))
    assert (original.duplicate_of, original.aliases) == (None, [])
    assert (copy.duplicate_of, copy.aliases) == ("cdk-ts-pr101", [])
    for case in (original, copy):  # each rewritten file is exactly what kb writes for its record
        assert (kb / case.id / "case.yaml").read_text() == dump_record(case)
    warned = {d.case_id: [kind for kind, _ in d.warnings] for d in result.documents}
    assert warned == {
        "cdk-ts-pr101": ["alias", "alias"],
        "cdk-ts-pr101-c34774": ["duplicate", "alias", "alias", "alias"],
    }


@pytest.mark.parametrize(
    "text",
    [
        "Critical Failures",
        "HIGH PRIORITY issues",
        "What Worked Well",
        "no match here",
        "Success and Kelvin",
        "\u017fuccess, caf\u00e9",  # not ASCII: searched case-insensitively (the long s folds to s)
        "p2 bug",
    ],
)
def test_a_folded_pattern_matches_where_the_case_insensitive_one_does(text: str) -> None:
    pattern = r"\b(critical|high|p[0-3])\b|what (worked|went)|success|kelvin|\bbugs?\b"
    folded, plain = Folded(pattern), re.compile(pattern, re.IGNORECASE)
    for found, expected in ((folded.search(text), plain.search(text)), (folded.match(text), plain.match(text))):
        assert (found and (found.span(), found[0].lower())) == (expected and (expected.span(), expected[0].lower()))


def test_a_folded_pattern_is_written_in_lowercase() -> None:
    assert Folded(r"\S+\bx\W").pattern == r"\S+\bx\W"
    with pytest.raises(ValueError, match="lowercase"):
        Folded("Critical")
