"""`kb export`: rows, splits, the dataset card, filters and the credential guard.

The knowledge bases here are built in tmp_path from `kb.models` records; the outputs are
loaded with `datasets` (offline) exactly as a user would load them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kb.cli import app
from kb.errors import ExistsError, InvalidKbError, KbError, UsageError
from kb.export import SecretsFoundError, export_dataset, parse_split, split_of
from kb.filters import Filters
from kb.models import (
    Case,
    Category,
    Failure,
    IdealResponse,
    Impact,
    Kind,
    Response,
    Status,
    Task,
    Taxonomy,
)
from kb.store import CASE_FILE, TAXONOMY_FILE, failure_file_name, save_record
from tests.helpers import RecordedProgress, make_failure, write_case

SPLIT_FILES = ("train.jsonl", "validation.jsonl", "test.jsonl")
FAKE_KEY_ID = "AKIA" + "Q7W3E9R2T5Y8U1I4"  # made up for these tests
FAKE_SECRET = "q8Hc2Vn/Xr5Tz1Lb7Wk3Jp9Df4Gs6Mh0Ny2Ra+Ue"  # made up, 40 characters


# -- a small fixture builder -------------------------------------------------------------

LICENSE = "cc-by-4.0"


def export(kb: Path, fmt: str, out: Path, **options: Any) -> Any:
    """``export_dataset`` with a license chosen (the exporter requires one)."""
    options.setdefault("license", LICENSE)
    return export_dataset(kb, fmt, out, **options)


def words(seed: str, n: int = 12) -> str:
    """``n`` made-up words unique to ``seed``: texts of different cases share no shingle."""
    return " ".join(hashlib.sha256(f"{seed}-{k}".encode()).hexdigest()[:8] for k in range(n))


def code(kind: str, seed: str) -> str:
    """Three lines of TypeScript, unique to ``seed`` (snippets under three lines are fragments)."""
    return f"const {kind} = '{seed}';\nconst {kind}Tag = '{words(seed, 2)}';\nexport {{ {kind}, {kind}Tag }};"


def case_failure(failure_id: str, *, case: str = "c", **fields: Any) -> Failure:
    """A failure whose texts and code are unique to its case (so no two cases are near-duplicates)."""
    seed = f"{case}/{failure_id}"
    defaults: dict[str, Any] = {
        "title": f"Title of {failure_id} {words(seed, 3)}",
        "root_cause": f"ROOT-CAUSE of {failure_id}: {words(seed)}",
        "model_response": Response(text="The policy was missing a permission:", code=code("bad", seed)),
        "ideal_response": IdealResponse(text="Grant it:", code=code("good", seed), language="typescript"),
    }
    return make_failure(failure_id, **{**defaults, **fields})


def make_case(
    kb: Path, case_id: str, failures: list[Failure], *, platform: str = "pulumi", prompt: str | None = None
) -> Path:
    """Write ``kb/<case_id>/`` with its case.yaml (a task prompt of its own unless given) and one
    file per failure; returns the folder."""
    prompt = prompt if prompt is not None else f"TASK-PROMPT of {case_id}: {words(case_id)}"
    task = Task(platform=platform, language="ts", aws_services=["Lambda", "SQS"], prompt=prompt)
    return write_case(kb, Case(id=case_id, title=f"Case {case_id}", task=task), failures)


def make_kb(root: Path, cases: int = 30) -> Path:
    """A KB of ``cases`` cases with two failures each, on two platforms, with a taxonomy."""
    kb = root / "kb"
    categories = [Category(id=c, title=c, description=c) for c in ("iam", "networking", "cost")]
    save_record(kb / TAXONOMY_FILE, Taxonomy(categories=categories))
    for i in range(cases):
        case_id = f"case-{i:03d}"
        make_case(
            kb,
            case_id,
            [
                case_failure("missing-permission", case=case_id, impact=Impact.critical),
                case_failure("open-port", case=case_id, impact=Impact.medium, category="networking", services=["EC2"]),
            ],
            platform="pulumi" if i % 2 else "cdk",
            prompt=f"TASK-PROMPT {i}: build a queue-driven Lambda stack. {words(case_id)}",
        )
    return kb


def read_rows(out: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        name.removesuffix(".jsonl"): [json.loads(line) for line in (out / name).read_text().splitlines()]
        for name in SPLIT_FILES
    }


def all_rows(out: Path) -> list[dict[str, Any]]:
    return [row for rows in read_rows(out).values() for row in rows]


def card_meta(out: Path) -> dict[str, Any]:
    text = (out / "README.md").read_text()
    front = text.split("---\n")[1]
    meta: dict[str, Any] = yaml.safe_load(front)
    return meta


def load(out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``datasets.load_dataset(out)`` with no network and a private cache."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    return datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf-cache"))


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    return make_kb(tmp_path)


# -- formats, loaded with datasets ------------------------------------------------------


def test_sft_loads_with_datasets_in_all_splits_as_conversational_prompt_completion(
    kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "sft"
    result = export(kb, "sft", out)
    assert all(result.splits.values()), "the fixture's 30 cases should fill every split"
    dataset = load(out, tmp_path, monkeypatch)
    assert {name: len(dataset[name]) for name in dataset} == result.splits
    row = dataset["train"][0]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert [m["role"] for m in row["completion"]] == ["assistant"]  # trainers learn the answer, not the prompt
    user, assistant = row["prompt"][1]["content"], row["completion"][0]["content"]
    failure_id = row["id"].split("/")[1]
    assert "TASK-PROMPT" in user and "Platform: " in user and f"const bad = '{row['id']}';" in user
    assert "ROOT-CAUSE" not in user and "const good" not in user
    assert f"ROOT-CAUSE of {failure_id}" in assistant and f"const good = '{row['id']}';" in assistant
    assert f"LESSON of {failure_id}" in assistant
    assert dataset["train"].features["services"].feature.dtype == "string"


def test_dpo_conversational_has_trl_columns_and_the_prompt_never_holds_the_analysis(
    kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dpo"
    export(kb, "dpo", out)
    dataset = load(out, tmp_path, monkeypatch)
    for split in dataset.values():
        assert {"prompt", "chosen", "rejected", "id", "case"} <= set(split.column_names)
        for row in split:
            assert [m["role"] for m in row["prompt"]] == ["system", "user"]
            assert [m["role"] for m in row["chosen"]] == ["assistant"]
            assert [m["role"] for m in row["rejected"]] == ["assistant"]
            prompt = json.dumps(row["prompt"])
            for leak in ("ROOT-CAUSE", "LESSON", "Grant it", "const good", "const bad", "missing a permission"):
                assert leak not in prompt
            assert "TASK-PROMPT" in prompt
            assert "const good" in row["chosen"][0]["content"]
            assert "const bad" in row["rejected"][0]["content"]


def test_dpo_standard_style_is_plain_strings(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "dpo"
    export(kb, "dpo", out, style="standard")
    dataset = load(out, tmp_path, monkeypatch)
    row = dataset["train"][0]
    assert all(isinstance(row[c], str) for c in ("prompt", "chosen", "rejected"))
    assert row["chosen"].startswith("```typescript\n") and "const good" in row["chosen"]
    assert "ROOT-CAUSE" not in row["prompt"]


def test_sft_standard_style_is_prompt_and_completion(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "sft"
    export(kb, "sft", out, style="standard")
    row = all_rows(out)[0]
    assert isinstance(row["prompt"], str) and isinstance(row["completion"], str) and "messages" not in row
    assert "ROOT-CAUSE" in row["completion"] and "ROOT-CAUSE" not in row["prompt"]


def test_classify_labels_load_as_class_labels(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "classify"
    export(kb, "classify", out)
    dataset = load(out, tmp_path, monkeypatch)
    label = dataset["train"].features["label"]
    assert label.names == ["critical", "high", "medium", "low"]
    for row in dataset["train"]:
        assert label.int2str(row["label"]) == row["impact"]
        assert "const bad" in row["text"] and "ROOT-CAUSE" not in row["text"]


def test_every_column_keeps_one_type_across_rows(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    bare = case_failure("bare", impact=None, category=None, services=[])
    make_case(kb, "a", [case_failure("full")], prompt="p")
    save_record(kb / "b" / CASE_FILE, Case(id="b", title="No task"))
    save_record(kb / "b" / failure_file_name(1, "bare"), bare)
    out = tmp_path / "out"
    export(kb, "sft", out, split="100/0/0", allow_no_task=True)  # case b has no task
    rows = {row["id"]: row for row in all_rows(out)}
    assert rows["b/bare"]["impact"] == "" and rows["b/bare"]["category"] == "" and rows["b/bare"]["platform"] == ""
    assert rows["b/bare"]["services"] == []
    for column in rows["a/full"]:
        assert {type(row[column]) for row in rows.values()} == {type(rows["a/full"][column])}


# -- splits and determinism ------------------------------------------------------------------


def test_no_case_is_in_two_splits_and_rows_follow_the_case_hash(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(kb, "sft", out)
    cases_by_split = {name: {row["case"] for row in rows} for name, rows in read_rows(out).items()}
    assert not cases_by_split["train"] & cases_by_split["validation"]
    assert not cases_by_split["train"] & cases_by_split["test"]
    assert not cases_by_split["validation"] & cases_by_split["test"]
    for name, cases in cases_by_split.items():
        assert all(split_of(case, (80, 10, 10)) == name for case in cases)
    ids = [row["id"] for row in all_rows(out)]
    assert len(ids) == len(set(ids)) == 60


def test_output_is_byte_identical_for_the_same_kb(tmp_path: Path) -> None:
    first = make_kb(tmp_path / "one")
    second = make_kb(tmp_path / "two")  # the same records, written again
    for fmt in ("sft", "dpo", "classify"):
        export(first, fmt, tmp_path / f"a-{fmt}")
        export(second, fmt, tmp_path / f"b-{fmt}")
        export(first, fmt, tmp_path / f"a-{fmt}")  # again over its own output
        for name in (*SPLIT_FILES, "README.md"):
            assert (tmp_path / f"a-{fmt}" / name).read_bytes() == (tmp_path / f"b-{fmt}" / name).read_bytes()
        assert b"\r" not in (tmp_path / f"a-{fmt}" / "train.jsonl").read_bytes()


def test_split_ratio_is_configurable_and_empty_splits_stay_out_of_the_card(
    kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    result = export(kb, "dpo", out, split="0/0/100")
    assert result.splits == {"train": 0, "validation": 0, "test": 60}
    meta = card_meta(out)
    assert meta["configs"] == [{"config_name": "default", "data_files": [{"split": "test", "path": "test.jsonl"}]}]
    assert (out / "train.jsonl").read_text() == ""
    assert set(load(out, tmp_path, monkeypatch)) == {"test"}


@pytest.mark.parametrize("bad", ["80/20", "80/10/20", "a/b/c", "-10/60/50"])
def test_a_bad_split_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match="adding up to 100"):
        parse_split(bad)


# -- the dataset card ---------------------------------------------------------------------


def test_card_front_matter_describes_the_files_features_and_sizes(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = export(kb, "dpo", out, license="cc-by-4.0")
    meta = card_meta(out)
    assert meta["license"] == "cc-by-4.0"
    assert meta["task_categories"] == ["text-generation"]
    assert "dpo" in meta["tags"] and meta["pretty_name"]
    files = meta["configs"][0]["data_files"]
    assert files == [{"split": s, "path": f"{s}.jsonl"} for s in ("train", "validation", "test")]
    splits = {s["name"]: s["num_examples"] for s in meta["dataset_info"]["splits"]}
    assert splits == result.splits
    names = [f["name"] for f in meta["dataset_info"]["features"]]
    assert names[:5] == ["id", "case", "prompt", "chosen", "rejected"]
    body = (out / "README.md").read_text().split("---\n", 2)[2]
    assert f"| **total** | **{result.rows}** |" in body
    assert "&id" not in (out / "README.md").read_text()  # YAML aliases: `datasets` misreads them


def test_one_row_is_one_line_whatever_line_breaks_the_text_holds(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    make_case(kb, "c", [case_failure("f", root_cause="a\u2028b\u2029c\x85d\re\nf")])
    export(kb, "sft", tmp_path / "out", split="100/0/0")
    lines = (tmp_path / "out" / "train.jsonl").read_text().splitlines()
    assert len(lines) == 1
    assert "a\u2028b\u2029c\x85d\re\nf" in json.loads(lines[0])["completion"][0]["content"]


# -- what is exported -------------------------------------------------------------------------


def test_drafts_and_non_failures_are_never_exported(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    make_case(
        kb,
        "mixed",
        [
            case_failure("kept"),
            case_failure("draft", status=Status.draft),
            case_failure("success", kind=Kind.success, impact=None),
        ],
    )
    out = tmp_path / "out"
    result = export(kb, "sft", out)
    assert [row["id"] for row in all_rows(out)] == ["mixed/kept"]
    assert result.skipped == {"draft": 1, "not a failure": 1}


def test_dpo_skips_failures_without_code_and_counts_them(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    make_case(
        kb,
        "c",
        [
            case_failure("pair"),
            case_failure(
                "prose-only", model_response=Response(text="Explained"), ideal_response=IdealResponse(text="x")
            ),
            case_failure("no-fix-code", ideal_response=IdealResponse(text="Just do it right")),
            case_failure(
                "code-in-text",
                model_response=Response(
                    text="It wrote:\n\n```ts\nconst fromText = 1;\nconst more = 2;\nexport { fromText };\n```\n"
                ),
            ),
        ],
    )
    out = tmp_path / "out"
    result = export(kb, "dpo", out)
    rows = {row["id"]: row for row in all_rows(out)}
    assert sorted(rows) == ["c/code-in-text", "c/pair"]
    assert "const fromText = 1;" in rows["c/code-in-text"]["rejected"][0]["content"]
    assert result.skipped == {"no fix code": 1, "no model code and no fix code": 1}


def test_filters_select_by_impact_category_service_and_platform(kb: Path, tmp_path: Path) -> None:
    def ids(**filters: Any) -> set[str]:
        out = tmp_path / "out"
        export(kb, "sft", out, filters=Filters(**filters), force=True)
        return {row["id"] for row in all_rows(out)}

    assert {i.split("/")[1] for i in ids(impact=["critical"])} == {"missing-permission"}
    assert {i.split("/")[1] for i in ids(category=["networking"])} == {"open-port"}
    assert {i.split("/")[1] for i in ids(service=["ec2"])} == {"open-port"}  # case-insensitive
    cdk = ids(platform=["CDK"])
    assert len(cdk) == 30 and all(int(i[5:8]) % 2 == 0 for i in cdk)
    assert len(ids(platform=["cdk"], impact=["medium", "low"])) == 15


def test_unknown_filter_values_are_usage_errors(kb: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown impact `severe` in the filter"):
        export(kb, "sft", tmp_path / "out", filters=Filters(impact=["severe"]))
    with pytest.raises(UsageError, match="unknown category `nope` in the filter"):
        export(kb, "sft", tmp_path / "out", filters=Filters(category=["nope"]))
    assert not (tmp_path / "out").exists()


def test_nothing_to_export_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    make_case(kb, "c", [case_failure("d", status=Status.draft)])
    with pytest.raises(KbError, match=r"nothing to export as sft .*1 draft"):
        export(kb, "sft", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_invalid_kb_is_refused(kb: Path, tmp_path: Path) -> None:
    (kb / "case-000" / "01-missing-permission.yaml").write_text("id: missing-permission\ntitle: x\nbogus: 1\n")
    with pytest.raises(InvalidKbError):
        export(kb, "sft", tmp_path / "out")


# -- credentials --------------------------------------------------------------------------------


def test_a_planted_credential_refuses_the_export_naming_path_and_line(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(kb, "sft", out)
    before = {name: (out / name).read_bytes() for name in (*SPLIT_FILES, "README.md")}
    leaky = case_failure(
        "leaky",
        model_response=Response(text="Hard-coded keys:", code=f"key = '{FAKE_KEY_ID}'\nother = 1\nexport {{ key }}"),
    )
    path = kb / "case-001" / failure_file_name(3, "leaky")
    save_record(path, leaky)
    with pytest.raises(SecretsFoundError) as caught:
        export(kb, "sft", out)
    [problem] = caught.value.problems
    code_line = next(n for n, line in enumerate(path.read_text().splitlines(), 1) if FAKE_KEY_ID in line)
    assert (problem.path, problem.line) == (str(path), code_line - 1)  # the line of the `code: |-` key
    assert "AWS access key id in `model_response.code`" in problem.message
    assert {name: (out / name).read_bytes() for name in before} == before  # nothing written


def test_credentials_in_the_task_prompt_are_found_in_case_yaml(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    folder = make_case(kb, "c", [case_failure("f")], prompt=f"Use these:\naws_secret_access_key = {FAKE_SECRET}\n")
    with pytest.raises(SecretsFoundError) as caught:
        export(kb, "dpo", tmp_path / "out")
    [problem] = caught.value.problems
    assert problem.path == str(folder / CASE_FILE)
    assert "AWS secret access key in `task.prompt`" in problem.message
    assert not (tmp_path / "out").exists()


def test_only_exported_fields_are_held_against_a_format(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    make_case(kb, "c", [case_failure("f", root_cause=f"The key {FAKE_KEY_ID} leaked.")])
    export(kb, "dpo", tmp_path / "dpo")  # dpo rows hold no root cause
    with pytest.raises(SecretsFoundError):
        export(kb, "sft", tmp_path / "sft")


def test_redact_replaces_credentials_and_reports_how_many(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB" * 3
    pem += "\n-----END OPENSSH PRIVATE KEY-----"
    leaky = case_failure(
        "leaky",
        model_response=Response(
            code=f"const id = '{FAKE_KEY_ID}';\nconst secret_key = '{FAKE_SECRET}';\nexport {{ id }};"
        ),
        ideal_response=IdealResponse(code=f"const key = `{pem}`;\nconst user = 'deploy';\nexport {{ key, user }};"),
    )
    make_case(kb, "c", [leaky])
    out = tmp_path / "out"
    result = export(kb, "dpo", out, redact=True)
    assert result.redacted == 3
    text = (out / "train.jsonl").read_text() + (out / "validation.jsonl").read_text() + (out / "test.jsonl").read_text()
    for secret in (FAKE_KEY_ID, FAKE_SECRET, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB"):
        assert secret not in text
    for kind in ("aws-access-key-id", "aws-secret-access-key", "private-key"):
        assert f"[REDACTED:{kind}]" in text
    assert "3 credential(s) were replaced" in (out / "README.md").read_text()


# -- where it writes ------------------------------------------------------------------------------


def test_files_it_did_not_write_are_not_overwritten_without_force(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "project"
    out.mkdir()
    (out / "README.md").write_text("# My project\n")
    with pytest.raises(ExistsError, match=r"README\.md: already exists"):
        export(kb, "sft", out)
    assert (out / "README.md").read_text() == "# My project\n"
    export(kb, "sft", out, force=True)
    export(kb, "dpo", out)  # its own card: replaced without --force
    assert card_meta(out)["task_categories"] == ["text-generation"] and "dpo" in card_meta(out)["tags"]


def test_out_inside_the_kb_is_refused(kb: Path) -> None:
    with pytest.raises(UsageError, match="inside the knowledge base"):
        export(kb, "sft", kb / "dataset")


def test_progress_is_reported_per_failure(kb: Path, tmp_path: Path) -> None:
    progress = RecordedProgress()
    export(kb, "sft", tmp_path / "out", progress=progress)
    assert progress.started == [("Exporting", 60)] and sum(progress.advanced) == 60


# -- the command --------------------------------------------------------------------------------


def test_cli_exports_and_prints_rows_per_split(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["export", "dpo", "--kb", str(kb), "--out", str(out), "--impact", "critical", "--license", LICENSE]
    )
    assert result.exit_code == 0, result.output
    counts = {name: len(rows) for name, rows in read_rows(out).items()}
    line = f"exported 30 dpo row(s) to {out}: train {counts['train']}, validation {counts['validation']}, test {counts['test']}"
    assert line in result.output
    assert "left out 30: 30 filtered out" in result.output


def test_cli_refuses_credentials_with_one_line_each_and_exit_1(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    make_case(
        kb, "c", [case_failure("f", model_response=Response(code=f"k = '{FAKE_KEY_ID}'\nother = 1\nexport {{ k }}"))]
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["export", "sft", "--kb", str(kb), "--out", str(out), "--license", LICENSE])
    assert result.exit_code == 1
    path = kb / "c" / failure_file_name(1, "f")
    assert f"{path}:" in result.output and "AWS access key id in `model_response.code`" in result.output
    assert "refused: credentials in 1 place(s) of the records; nothing written." in result.output
    assert not out.exists()
    redacted = CliRunner().invoke(
        app, ["export", "sft", "--kb", str(kb), "--out", str(out), "--redact", "--license", LICENSE]
    )
    assert redacted.exit_code == 0 and "redacted 1 credential(s)" in redacted.output


def test_cli_usage_errors_exit_2(kb: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", "parquet", "--kb", str(kb), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown format 'parquet'" in result.output


def test_the_library_error_names_no_flag_and_the_cli_adds_it(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "train.jsonl").write_text("mine\n")
    with pytest.raises(ExistsError) as caught:
        export(kb, "sft", out)
    assert "--" not in str(caught.value) and caught.value.replaceable
    result = CliRunner().invoke(app, ["export", "sft", "--kb", str(kb), "--out", str(out), "--license", LICENSE])
    assert result.exit_code == 1
    expected = f"{out / 'train.jsonl'}: already exists (not written by an export); use --force to replace it"
    assert result.stderr.strip() == expected
