"""`kb similar`: ranking by what a failure is about, exclusions, the cached index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kb.cli import app
from kb.errors import KbError, UsageError
from kb.recurring import index as index_module
from kb.recurring.copies import copy_groups, signature
from kb.recurring.features import analyse, identifiers, resource_types, words
from kb.recurring.index import index_path, load_index
from kb.recurring.similar import find_similar, seen_before, similar_for_kb
from tests.recurring_kb import KMS_LOGS, TAGS, small_kb, with_id, write_case

runner = CliRunner()


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    return small_kb(tmp_path / "kb")


def ids(found: list[object]) -> list[str]:
    return [m.id for m in found]  # type: ignore[attr-defined]


def test_a_paraphrase_ranks_above_a_failure_sharing_only_boilerplate(kb: Path) -> None:
    found = find_similar(kb, "alpha/kms-key-policy-misses-logs-principal", n=10).results
    ranked = ids(found)
    assert ranked.index("bravo/log-group-cannot-use-cmk") < len(ranked)
    assert ranked[:2] == ["delta/logs-kms-permissions", "bravo/log-group-cannot-use-cmk"]
    assert "charlie/bucket-versioning-not-enabled" not in ranked[:2]
    best = found[0]
    assert (best.case, best.impact, best.platform) == ("delta", "critical", "tf")
    assert {"kms", "cloudwatch logs"} & set(best.shared)
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


def test_boilerplate_words_are_not_terms() -> None:
    assert words("The MODEL_RESPONSE failed: the IDEAL_RESPONSE fixes the critical issue") == []
    assert words("RemovalPolicy on the CloudWatch alarms") == ["removal", "policy", "cloudwatch", "alarm"]


def test_resource_types_have_one_spelling_across_tools() -> None:
    code = 'resource "aws_s3_bucket" "b" {}\nType: AWS::S3::Bucket\nnew s3.Bucket(this, "B")\naws.s3.BucketV2("b")'
    assert resource_types(code) == {"s3bucket"}
    assert resource_types("self.Bucket = bucket; xaws_s3_bucket; AWS::S3") == set()
    assert resource_types("lambda_.Function(self, 'F')\nec2.CfnSecurityGroup") == {"lambdafunction", "ec2securitygroup"}


def test_identifiers_are_property_names_in_one_spelling() -> None:
    assert identifiers("removal_policy=RemovalPolicy.DESTROY, removalPolicy: x, ab_c") == {"removalpolicy"}
    assert identifiers("") == set()


def test_failures_of_the_same_case_are_left_out(kb: Path) -> None:
    write_case(kb, "echo", [with_id(KMS_LOGS, "first"), with_id(KMS_LOGS, "second", title="KMS key policy again")])
    found = find_similar(kb, "echo/first", n=10)
    assert not any(m.case == "echo" for m in found.results)
    assert found.left_out == 1


def test_near_copies_of_the_querys_document_are_shown_apart(kb: Path) -> None:
    shutil.copytree(kb / "alpha", kb / "alpha-v2")
    case_file = kb / "alpha-v2" / "case.yaml"
    case_file.write_text(case_file.read_text().replace("id: alpha", "id: alpha-v2"))
    found = find_similar(kb, "alpha/kms-key-policy-misses-logs-principal", n=10)
    assert "alpha-v2" not in {m.case for m in found.results}
    assert ids(found.near_copies)[0] == "alpha-v2/kms-key-policy-misses-logs-principal"
    assert load_index(kb).copy_of == {"alpha-v2": "alpha"}


def test_minhash_tells_another_version_from_another_analysis() -> None:
    base = analyse({**KMS_LOGS, "description": " ".join(f"word{i}" for i in range(200))})
    edited = analyse({**KMS_LOGS, "description": " ".join(f"word{i}" for i in range(190)) + " a few new words"})
    other = analyse(TAGS)
    sigs = [signature(base.words), signature(edited.words), signature(other.words)]
    import numpy as np

    assert copy_groups(["a", "b", "c"], np.stack(sigs)) == {"b": "a"}


def test_text_queries_rank_by_meaning(kb: Path) -> None:
    found = find_similar(kb, text="the linter fails on unused imports", n=3).results
    assert ids(found)[0] in {"bravo/unused-imports-fail-lint", "charlie/lint-unused-variables"}
    assert len({m.case for m in found}) == len(found)


def test_results_are_deterministic(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = find_similar(kb, "alpha/missing-cost-allocation-tags").to_json()
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "other-cache"))
    assert find_similar(kb, "alpha/missing-cost-allocation-tags").to_json() == first
    assert similar_for_kb(kb) == similar_for_kb(kb)


def test_the_index_is_updated_incrementally(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_index(kb)
    assert index_path(kb).is_file()
    read: list[str] = []
    real = index_module.make_row

    def counting(item: index_module.Found):  # type: ignore[no-untyped-def]
        read.append(item.rel)
        return real(item)

    monkeypatch.setattr(index_module, "make_row", counting)
    load_index(kb)
    assert read == []  # unchanged: nothing read
    path = kb / "charlie" / "01-bucket-versioning-not-enabled.yaml"
    path.write_text(path.read_text().replace("bucket versioning not enabled", "KMS key policy blocks CloudWatch Logs"))
    os.utime(path, ns=(1, 1))
    found = find_similar(kb, "alpha/kms-key-policy-misses-logs-principal", n=3).results
    assert read == ["charlie/01-bucket-versioning-not-enabled.yaml"]
    assert "charlie/bucket-versioning-not-enabled" in ids(found)


def test_a_damaged_index_is_rebuilt(kb: Path) -> None:
    load_index(kb)
    index_path(kb).write_bytes(b"not an npz")
    assert len(load_index(kb).rows) == 8


def test_only_failures_are_candidates(kb: Path) -> None:
    write_case(kb, "foxtrot", [with_id(KMS_LOGS, "kms-done-right", kind="success")])
    found = find_similar(kb, "alpha/kms-key-policy-misses-logs-principal", n=10)
    assert "foxtrot/kms-done-right" not in ids(found.results)


def test_unknown_failure_and_bad_usage_are_clear_errors(kb: Path) -> None:
    with pytest.raises(KbError, match=r"no failure `alpha/nope` in .*<case>/<failure>"):
        find_similar(kb, "alpha/nope")
    with pytest.raises(UsageError):
        find_similar(kb, "alpha/x", text="both")
    with pytest.raises(UsageError):
        find_similar(kb)


def test_seen_before_counts_other_cases_with_the_same_mistake(kb: Path) -> None:
    found = seen_before(kb, "KMS key policy without the CloudWatch Logs service principal", case="alpha")
    assert found.cases == 2
    assert set(ids(found.examples)) == {"delta/logs-kms-permissions", "bravo/log-group-cannot-use-cmk"}


def test_cli_json_is_a_ranked_list_of_ids_and_scores(kb: Path) -> None:
    result = runner.invoke(
        app, ["similar", "alpha/kms-key-policy-misses-logs-principal", "--kb", str(kb), "--format", "json", "-n", "2"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["id"] for r in data["results"]] == ["delta/logs-kms-permissions", "bravo/log-group-cannot-use-cmk"]
    assert data["results"][0]["score"] >= data["results"][1]["score"] > 0
    assert set(data["results"][0]) == {"id", "score", "case", "title", "impact", "platform", "shared"}


def test_cli_text_output_and_errors(kb: Path) -> None:
    result = runner.invoke(app, ["similar", "--text", "unused imports", "--kb", str(kb), "-n", "1"])
    assert result.exit_code == 0
    assert "unused" in result.stdout and "shared:" in result.stdout
    missing = runner.invoke(app, ["similar", "alpha/nope", "--kb", str(kb)])
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: no failure `alpha/nope`")
    both = runner.invoke(app, ["similar", "alpha/x", "--text", "t", "--kb", str(kb)])
    assert both.exit_code == 2


def test_add_failure_says_what_was_seen_before(kb: Path) -> None:
    result = runner.invoke(
        app,
        [
            "add",
            "failure",
            "--kb",
            str(kb),
            "--case",
            "alpha",
            "--title",
            "CloudWatch Logs cannot use the KMS key",
            "--no-input",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(".yaml")  # stdout: only the path
    assert "seen before:" in result.stderr and "delta/logs-kms-permissions" in result.stderr


def test_the_text_of_an_unmapped_section_counts(kb: Path) -> None:
    only_extra = {
        "id": "logs-encryption-notes",
        "title": "Notes",
        "extra": [
            {
                "title": "Symptoms",
                "text": "The log group cannot use the KMS key: its key policy has no "
                "statement for the CloudWatch Logs service principal logs.amazonaws.com.",
            }
        ],
    }
    write_case(kb, "golf", [only_extra])
    found = find_similar(kb, "golf/logs-encryption-notes", n=3).results
    assert ids(found)[0] in {"alpha/kms-key-policy-misses-logs-principal", "delta/logs-kms-permissions"}


def test_a_failure_without_a_twin_gets_no_results_rather_than_unrelated_ones(kb: Path) -> None:
    lonely = {
        "id": "glue-crawler-schedule",
        "title": "Glue crawler schedule uses a six-field cron expression",
        "impact": "critical",
        "root_cause": "The MODEL_RESPONSE implementation gives the crawler of the data bucket a six-field cron "
        "expression, which Glue rejects; the schedule needs five fields.",
    }
    write_case(kb, "hotel", [lonely])
    assert find_similar(kb, "hotel/glue-crawler-schedule").results == []
    assert find_similar(kb, "hotel/glue-crawler-schedule", min_score=0.0).results  # only weak matches exist


def test_an_incremental_update_gives_the_index_a_fresh_build_gives(
    kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_index(kb)
    path = kb / "bravo" / "01-log-group-cannot-use-cmk.yaml"
    path.write_text(path.read_text().replace("customer managed KMS key", "customer managed key from AWS KMS"))
    updated = load_index(kb)
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "fresh-cache"))
    fresh = load_index(kb)
    assert [r.id for r in updated.rows] == [r.id for r in fresh.rows]
    assert updated.terms == fresh.terms
    assert all(np.array_equal(a, b) for a, b in zip(updated.counts, fresh.counts, strict=True))
    assert (updated.signatures == fresh.signatures).all()
    query = "alpha/kms-key-policy-misses-logs-principal"
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "fresh-cache"))
    from_fresh = find_similar(kb, query).to_json()
    monkeypatch.delenv("KB_CACHE_DIR")
    assert find_similar(kb, query).to_json() == from_fresh


def test_records_are_read_as_kb_check_reads_them() -> None:
    data = index_module._parse(b"id: '007'\ntitle: 2024\nimpact: null\nkind:\nflag: yes\nq: 'no'\n")
    assert data == {"id": "007", "title": 2024, "impact": None, "kind": None, "flag": True, "q": "no"}
    bomb = b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b]\n"
    assert index_module._parse(bomb) is None  # aliases are refused, as kb check refuses them
    assert index_module._parse(b"- a list\n") is None
    assert index_module._parse(b"{[1]: 2}") is None
    assert index_module._parse(b"a: [unclosed") is None


def test_the_scan_finds_what_discover_finds(kb: Path, tmp_path: Path) -> None:
    from kb.store import discover

    (kb / "alpha" / ".hidden.yaml").write_text("id: x\n")
    (kb / "_drafts").mkdir()
    (kb / "no-case-file").mkdir()
    (kb / "no-case-file" / "01-orphan.yaml").write_text("id: orphan\n")
    outside = tmp_path / "outside.yaml"
    outside.write_text("id: outside\ntitle: Outside\n")
    (kb / "alpha" / "09-outside.yaml").symlink_to(outside)
    cases, failures = index_module.scan(kb)
    layout = discover(kb)
    assert [c.case for c in cases] == [f.path.name for f in layout.cases]
    expected = sorted(p.relative_to(kb).as_posix() for f in layout.cases for _, p in f.failures)
    assert sorted(f.rel for f in failures) == expected
    assert "alpha/09-outside.yaml" not in {f.rel for f in failures}


def test_many_copies_of_one_document_make_one_group() -> None:
    import numpy as np

    base = analyse({**KMS_LOGS, "description": " ".join(f"word{i}" for i in range(300))})
    other = analyse(TAGS)
    sigs = np.stack([signature(base.words)] * 40 + [signature(other.words)])
    names = [f"case{i:02d}" for i in range(41)]
    assert copy_groups(names, sigs) == {f"case{i:02d}": "case00" for i in range(1, 40)}


def test_a_query_against_an_up_to_date_index_loads_neither_scipy_nor_the_record_models(kb: Path) -> None:
    load_index(kb)  # the index exists; what `kb similar` then imports is what each query pays for
    probe = (
        "import sys\n"
        "from kb.cli import main\n"
        "sys.argv = ['kb', 'similar', 'alpha/kms-key-policy-misses-logs-principal', '--kb', sys.argv[1]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('scipy', 'kb.models', 'kb.store') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(kb)], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"
    assert "bravo/log-group-cannot-use-cmk" in done.stdout
