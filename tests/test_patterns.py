"""`kb patterns`: the same mistake across cases becomes one pattern, stable run to run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb.cli import app
from kb.errors import UsageError
from kb.recurring.patterns import find_patterns
from tests.recurring_kb import small_kb

runner = CliRunner()


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    return small_kb(tmp_path / "kb")


def test_the_same_mistake_in_three_cases_is_one_pattern(kb: Path) -> None:
    found = find_patterns(kb)
    kms = next(p for p in found.patterns if "alpha/kms-key-policy-misses-logs-principal" in p.members)
    assert kms.cases == 3 and kms.failures == 3
    assert set(kms.members) == {
        "alpha/kms-key-policy-misses-logs-principal",
        "bravo/log-group-cannot-use-cmk",
        "delta/logs-kms-permissions",
    }
    assert kms.example == "alpha/kms-key-policy-misses-logs-principal"  # model code, fix, root cause, docs
    assert kms.platforms == {"cdk": 1, "pulumi": 1, "tf": 1}
    assert kms.impacts == {"critical": 2, "none": 1}
    assert "KMS" in kms.services and "CloudWatch Logs" in kms.services
    assert kms.name in {
        p
        for p in (
            "KMS key policy misses the CloudWatch Logs principal",
            "Log group cannot use the customer managed KMS key",
            "CloudWatch Logs KMS key permissions missing",
        )
    }
    unrelated = "charlie/bucket-versioning-not-enabled"
    assert all(unrelated not in p.members for p in found.patterns)


def test_patterns_are_ordered_and_stable(kb: Path) -> None:
    first = find_patterns(kb).to_json()
    assert find_patterns(kb).to_json() == first
    counts = [(p["cases"], p["failures"]) for p in first["patterns"]]
    assert counts == sorted(counts, reverse=True)
    assert first["failures"] == 8 and first["in_patterns"] == sum(p["failures"] for p in first["patterns"])


def test_min_cases(kb: Path) -> None:
    assert [p.cases for p in find_patterns(kb, min_cases=3).patterns] == [3]
    assert find_patterns(kb, min_cases=4).patterns == []
    with pytest.raises(UsageError):
        find_patterns(kb, min_cases=1)


def test_cli_text_and_json(kb: Path) -> None:
    text = runner.invoke(app, ["patterns", "--kb", str(kb)])
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[0].startswith("3 pattern(s) of 2+ cases cover")
    assert "[3 cases, 3 failures]" in text.stdout
    data = json.loads(runner.invoke(app, ["patterns", "--kb", str(kb), "--format", "json", "--min-cases", "3"]).stdout)
    assert [p["cases"] for p in data["patterns"]] == [3]
    assert {"name", "cases", "failures", "example", "platforms", "services", "impacts", "members"} <= set(
        data["patterns"][0]
    )


def test_stats_shows_the_top_patterns_on_request(kb: Path) -> None:
    plain = json.loads(runner.invoke(app, ["stats", "--kb", str(kb), "--json"]).stdout)
    assert "patterns" not in plain
    data = json.loads(runner.invoke(app, ["stats", "--kb", str(kb), "--json", "--patterns", "--top", "1"]).stdout)
    assert [p["cases"] for p in data["patterns"]] == [3]


def test_a_pattern_does_not_gather_failures_alike_only_to_its_leader() -> None:
    import numpy as np
    import scipy.sparse as sp

    from kb.recurring.patterns import _gather

    class Vectors:  # the one thing _gather reads of an index
        rows = np.array([[1, 1, 0], [1, 0.1, 0], [0, 1, 0], [1, 0.2, 0]], dtype=np.float32)
        vectors = sp.csr_matrix(rows / np.linalg.norm(rows, axis=1, keepdims=True))

    # 1 and 3 are alike, and each like the leader 0 (cosine 0.77, 0.83); 2 is as like the
    # leader (0.71) but hardly like 1 or 3 (0.10, 0.20): on average 0.34 like the group
    assert _gather(Vectors(), 0, [1, 2, 3]) == [0, 1, 3]  # type: ignore[arg-type]


def test_two_groups_of_one_mistake_become_one_pattern() -> None:
    import numpy as np
    import scipy.sparse as sp

    from kb.recurring.patterns import _merge_alike

    class Vectors:
        rows = np.array([[1, 0.2, 0], [1, 0, 0.2], [1, 0.3, 0], [1, 0, 0.3], [0, 0, 1]], dtype=np.float32)
        vectors = sp.csr_matrix(rows / np.linalg.norm(rows, axis=1, keepdims=True))

    merged = _merge_alike(Vectors(), [[0, 1], [2, 3], [4]])  # type: ignore[arg-type]
    assert merged == [[0, 1, 2, 3], [4]]  # the first group's leader stays first
