"""`kb export` of task folders: whole-task pairs, critiques, fix rows, no leaks, Parquet, the card, atomic writes.

The knowledge bases are imported (as a user does) from task folders written here: a
metadata.json, PROMPT.md, MODEL_RESPONSE.md, IDEAL_RESPONSE.md and MODEL_FAILURES.md each.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kb.cli import app
from kb.errors import KbError, SecretsFoundError, UsageError
from kb.export import build as build_module
from kb.export import dataset as dataset_module
from kb.export import export_dataset, split_of
from kb.export import parallel as parallel_module
from kb.export import parquet as parquet_module
from kb.export import publish as publish_module
from kb.export.dedup import clusters
from kb.export.lengths import Lengths
from kb.export.parallel import POOL_MIN_CASES
from kb.importer import import_documents
from kb.pool import WorkerCrashedError
from tests.helpers import RecordedProgress

LICENSE = "cc-by-4.0"
SPLITS = ("train", "validation", "test")
FAKE_SECRET = "q8Hc2Vn/Xr5Tz1Lb7Wk3Jp9Df4Gs6Mh0Ny2Ra+Ue"  # made up, 40 characters


def words(seed: str, n: int = 40) -> str:
    """``n`` made-up words unique to ``seed`` (texts of different tasks share no shingle)."""
    return " ".join(hashlib.sha256(f"{seed}-{k}".encode()).hexdigest()[:8] for k in range(n))


def analysis(seed: str) -> str:
    return f"""# Model Failures

## 1. Bucket is public

**Impact Level**: High

**MODEL_RESPONSE Issue**: The bucket allowed public reads. {words(seed + "-why", 20)}

```python
bucket = s3.Bucket("logs", acl="public-read")  # ❌ WRONG: public
bucket.tags = {{"team": "{seed}"}}
export("name", bucket.id)
```

**IDEAL_RESPONSE Fix**: Make it private.

```python
bucket = s3.Bucket("logs", acl="private")  # ✅ FIXED
bucket.tags = {{"team": "{seed}"}}
export("name", bucket.id)
```

**Root Cause**: The model copied a public-website example. {words(seed + "-root", 20)}
"""


def task_folder(root: Path, name: str, *, seed: str | None = None, prompt: str | None = None) -> Path:
    """A task folder whose texts are unique to ``seed`` (default: its name)."""
    seed = seed or name
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(json.dumps({"platform": "pulumi", "language": "py", "aws_services": ["S3"]}))
    (folder / "PROMPT.md").write_text(prompt if prompt is not None else f"Build a logs bucket. {words(seed)}\n")
    (folder / "MODEL_RESPONSE.md").write_text(
        f"Here is the stack. {words(seed + '-model')}\n\n```python\n"
        f'bucket = s3.Bucket("logs", acl="public-read")\nbucket.tags = {{"team": "{seed}"}}\nexport("name", bucket.id)\n```\n'
    )
    (folder / "IDEAL_RESPONSE.md").write_text(
        f"# IDEAL_RESPONSE - Logs bucket\n\nThe corrected stack. {words(seed + '-ideal')}\n\n"
        "- ✅ Private bucket\n\n## Changes from MODEL_RESPONSE\n\n- the ACL\n\n## Code\n\n```python\n"
        f'bucket = s3.Bucket("logs", acl="private")  # FIXED: private\nbucket.tags = {{"team": "{seed}"}}\n'
        'export("name", bucket.id)\n```\n'
    )
    (folder / "MODEL_FAILURES.md").write_text(analysis(seed))
    return folder


def imported(tmp_path: Path, names: list[str], **seeds: str) -> Path:
    tasks = tmp_path / "tasks"
    for name in names:
        task_folder(tasks, name, seed=seeds.get(name.replace("-", "_")))
    kb = tmp_path / "kb"
    result = import_documents(sorted(tasks.iterdir()), kb)
    assert not result.errors
    return kb


def export(kb: Path, fmt: str, out: Path, **options: Any) -> Any:
    options.setdefault("license", LICENSE)
    return export_dataset(kb, fmt, out, **options)


def rows_of(out: Path) -> dict[str, list[dict[str, Any]]]:
    return {s: [json.loads(line) for line in (out / f"{s}.jsonl").read_text().splitlines()] for s in SPLITS}


def every_row(out: Path) -> list[dict[str, Any]]:
    return [row for rows in rows_of(out).values() for row in rows]


def load(out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    datasets = pytest.importorskip("datasets")
    return datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf-cache"))


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    return imported(tmp_path, [f"task-{i:02d}" for i in range(12)])


# -- the formats ----------------------------------------------------------------------------


def test_pairs_is_one_preference_row_per_task_from_its_documents(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs"
    result = export(kb, "pairs", out)
    rows = {row["id"]: row for row in every_row(out)}
    assert sorted(rows) == [f"task-{i:02d}" for i in range(12)] and result.rows == 12
    row = rows["task-03"]
    assert row["case"] == "task-03" and row["platform"] == "pulumi" and row["language"] == "py"
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert words("task-03") in row["prompt"][1]["content"]  # the task as the model got it
    chosen, rejected = row["chosen"][0]["content"], row["rejected"][0]["content"]
    assert words("task-03-ideal") in chosen and 'acl="private"' in chosen
    assert words("task-03-model") in rejected and 'acl="public-read"' in rejected
    for answer in (chosen, rejected):  # no reviewer's marks, no talk of the other documents
        assert "✅" not in answer and "FIXED" not in answer and "RESPONSE" not in answer
    assert chosen.startswith("# Logs bucket\n") and "the ACL" not in chosen


def test_critique_answers_the_model_response_with_the_analysis(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "critique"
    export(kb, "critique", out)
    row = next(r for r in every_row(out) if r["id"] == "task-05")
    user, answer = row["prompt"][1]["content"], row["completion"][0]["content"]
    assert words("task-05") in user and words("task-05-model") in user
    assert "Bucket is public" in answer and words("task-05-root", 20) in answer
    assert "❌" not in answer and "WRONG" not in answer and "MODEL_RESPONSE" not in answer
    assert words("task-05-ideal") not in user + answer  # the corrected answer is not given away

    structured = tmp_path / "structured"
    export(kb, "critique", structured, structured=True)
    row = next(r for r in every_row(structured) if r["id"] == "task-05")
    [failure] = json.loads(row["completion"][0]["content"])["failures"]
    assert failure["title"] == "Bucket is public" and failure["impact"] == "high"
    assert failure["model_code"].startswith('bucket = s3.Bucket("logs", acl="public-read")\n')
    assert "WRONG" not in failure["model_code"] and 'acl="private"' in failure["fix_code"]


def test_fix_gives_the_faulty_snippet_and_what_is_wrong_and_learns_the_correction(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "fix"
    export(kb, "fix", out)
    row = next(r for r in every_row(out) if r["case"] == "task-01")
    user, answer = row["prompt"][1]["content"], row["completion"][0]["content"]
    assert 'acl="public-read"' in user and "Bucket is public" in user and words("task-01-root", 20) in user
    assert (
        answer
        == '```python\nbucket = s3.Bucket("logs", acl="private")\nbucket.tags = {"team": "task-01"}\nexport("name", bucket.id)\n```'
    )


def test_chat_formats_are_what_trl_calls_conversational(kb: Path, tmp_path: Path) -> None:
    data_utils = pytest.importorskip("trl.data_utils")
    for fmt in ("pairs", "critique", "fix", "sft", "dpo"):
        export(kb, fmt, tmp_path / fmt)
        rows = every_row(tmp_path / fmt)
        assert rows and all(data_utils.is_conversational(row) for row in rows), fmt


def test_rows_without_a_task_are_dropped_unless_asked_for(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    task_folder(tasks, "with-task")
    loose = task_folder(tasks, "loose")
    for name in ("PROMPT.md", "metadata.json"):
        (loose / name).unlink()
    kb = tmp_path / "kb"
    import_documents([tasks / "with-task", loose / "MODEL_FAILURES.md"], kb)
    result = export(kb, "fix", tmp_path / "out", split="100/0/0")
    assert [row["case"] for row in every_row(tmp_path / "out")] == ["with-task"]
    assert result.skipped["no task"] == 1
    export(kb, "fix", tmp_path / "all", split="100/0/0", allow_no_task=True)
    assert sorted(row["case"] for row in every_row(tmp_path / "all")) == ["loose", "with-task"]


# -- no leaks, no duplicates --------------------------------------------------------------------


def _ids_in_different_splits() -> tuple[str, str]:
    """Two case ids that the hash alone would put in different splits."""
    first = "version-a"
    other = next(
        f"version-b{i}" for i in range(1000) if split_of(f"version-b{i}", (80, 10, 10)) != split_of(first, (80, 10, 10))
    )
    return first, other


def test_versions_of_one_analysis_form_one_cluster_with_one_split(tmp_path: Path) -> None:
    first, second = _ids_in_different_splits()
    base = analysis("same") + "\n" + words("shared-body", 200)
    texts = [(f"prompt {words(first)}", base), (f"prompt {words(second)}", base + " one more sentence here"), ("", "x")]
    assert clusters([first, second, "lone"], texts) == {first: first, second: first, "lone": "lone"}

    tasks = tmp_path / "tasks"
    task_folder(tasks, first, seed="same")
    task_folder(tasks, second, seed="same")
    (tasks / second / "MODEL_FAILURES.md").write_text(analysis("same") + "\nOne more sentence in this version.\n")
    for i in range(6):
        task_folder(tasks, f"other-{i}")
    kb = tmp_path / "kb"
    import_documents(sorted(tasks.iterdir()), kb)
    result = export(kb, "pairs", tmp_path / "out")
    where = {row["case"]: split for split, rows in rows_of(tmp_path / "out").items() for row in rows}
    assert where[first] == split_of(first, (80, 10, 10))
    assert where.get(second, where[first]) == where[first]  # with its twin, or removed as its duplicate
    if second in where:
        assert result.clusters["shared"] == 1 and result.clusters["in_shared"] == 2
    else:
        assert (
            sum(result.skipped.get(r, 0) for r in ("near-duplicate row", "exact duplicate row", "answer also in train"))
            == 1
        )


def test_duplicate_and_near_duplicate_rows_are_removed_train_first(tmp_path: Path) -> None:
    first, second = _ids_in_different_splits()
    tasks = tmp_path / "tasks"
    task_folder(tasks, first, seed="twin")
    task_folder(tasks, second, seed="twin", prompt=f"A different task. {words('elsewhere')}\n")
    kb = tmp_path / "kb"
    import_documents(sorted(tasks.iterdir()), kb)
    result = export(kb, "fix", tmp_path / "out")
    kept = every_row(tmp_path / "out")
    assert len(kept) == 1  # the same fix snippet: one row, in train if either is there
    train_case = first if split_of(first, (80, 10, 10)) == "train" else second
    if "train" in {split_of(first, (80, 10, 10)), split_of(second, (80, 10, 10))}:
        assert kept[0]["case"] == train_case
    assert (
        sum(result.skipped.get(r, 0) for r in ("answer also in train", "near-duplicate row", "exact duplicate row"))
        == 1
    )


def test_a_placeholder_or_an_unparsable_ideal_answer_drops_the_pair_and_is_counted(kb: Path, tmp_path: Path) -> None:
    ideal = kb / "task-02" / "IDEAL_RESPONSE.md"
    ideal.write_text(ideal.read_text().replace('export("name", bucket.id)', "# ... other configuration ..."))
    broken = kb / "task-04" / "IDEAL_RESPONSE.md"
    broken.write_text(broken.read_text().replace('acl="private")', 'acl="private"'))
    result = export(kb, "pairs", tmp_path / "out")
    assert {row["id"] for row in every_row(tmp_path / "out")} == {f"task-{i:02d}" for i in range(12)} - {
        "task-02",
        "task-04",
    }
    assert result.skipped == {"placeholder in code": 1, "does not parse (python)": 1}
    card = (tmp_path / "out" / "README.md").read_text()
    assert "- placeholder in code: 1\n" in card and "- does not parse (python): 1\n" in card


def test_max_tokens_drops_long_rows(kb: Path, tmp_path: Path) -> None:
    prompt = kb / "task-09" / "PROMPT.md"
    prompt.write_text(prompt.read_text() + words("long", 400))
    whole = export(kb, "pairs", tmp_path / "all")
    longest = whole.lengths["total"]["max"]
    result = export(kb, "pairs", tmp_path / "some", max_tokens=longest - 1)
    assert (
        result.skipped.get("over the token budget", 0) >= 1
        and result.rows == whole.rows - result.skipped["over the token budget"]
    )
    assert result.lengths["total"]["max"] <= longest - 1


# -- the card -----------------------------------------------------------------------------------


def test_the_card_figures_are_those_of_the_rows_written(
    kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    (kb / "task-07" / "IDEAL_RESPONSE.md").write_text("# Nothing here\n\n```python\nx = [\n```\n")
    result = export(kb, "pairs", out)
    rows = rows_of(out)
    text = (out / "README.md").read_text()
    meta = yaml.safe_load(text.split("---\n")[1])
    assert {s["name"]: s["num_examples"] for s in meta["dataset_info"]["splits"]} == {
        s: len(r) for s, r in rows.items() if r
    }
    assert meta["dataset_info"]["dataset_size"] == sum((out / f"{s}.jsonl").stat().st_size for s in SPLITS if rows[s])
    assert f"| **total** | **{sum(len(r) for r in rows.values())}** |" in text
    for reason, count in result.skipped.items():
        assert f"- {reason}: {count}\n" in text
    recomputed = Lengths("pairs")
    for split_rows in rows.values():
        for row in split_rows:
            recomputed.add(row)
    assert recomputed.summary() == result.lengths
    assert f"| total | {result.lengths['total']['median']} | {result.lengths['total']['p90']} |" in text
    assert "- platform: pulumi 11" in text and "License: `cc-by-4.0`" in text
    assert "case(s): task folder (PROMPT.md, MODEL_RESPONSE.md, IDEAL_RESPONSE.md)" in text
    dataset = load(out, tmp_path, monkeypatch)
    assert {s: len(dataset[s]) for s in dataset} == {s: len(r) for s, r in rows.items() if r}


def test_a_license_must_be_chosen(kb: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no license chosen"):
        export_dataset(kb, "pairs", tmp_path / "out")
    with pytest.raises(UsageError, match="license `unknown`"):
        export(kb, "pairs", tmp_path / "out", license="unknown")
    assert not (tmp_path / "out").exists()
    export(kb, "pairs", tmp_path / "out", license="unknown", force=True)
    run = CliRunner().invoke(app, ["export", "pairs", "--kb", str(kb), "--out", str(tmp_path / "cli")])
    assert run.exit_code == 2 and run.stderr.strip().endswith("; choose one with --license L")
    run = CliRunner().invoke(
        app, ["export", "pairs", "--kb", str(kb), "--out", str(tmp_path / "cli"), "--license", "unknown"]
    )
    assert run.exit_code == 2 and run.stderr.strip().endswith("--license L, or --force to export anyway")


# -- Parquet --------------------------------------------------------------------------------------


def test_parquet_shards_hold_the_same_rows_as_jsonl(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    monkeypatch.setattr(parquet_module, "SHARD_ROWS", 4)
    export(kb, "pairs", tmp_path / "jsonl")
    result = export(kb, "pairs", tmp_path / "parquet", file_format="parquet")
    jsonl_rows = rows_of(tmp_path / "jsonl")
    data = tmp_path / "parquet" / "data"
    for split in SPLITS:
        count = max(1, -(-len(jsonl_rows[split]) // 4))
        names = sorted(p.name for p in data.glob(f"{split}-*.parquet"))
        assert names == [f"{split}-{i:05d}-of-{count:05d}.parquet" for i in range(count)]
        tables = [pq.read_table(data / name) for name in names]
        assert all(t.num_rows <= 4 for t in tables)
        assert pq.ParquetFile(data / names[0]).metadata.row_group(0).column(0).compression == "ZSTD"
        assert [row for t in tables for row in t.to_pylist()] == jsonl_rows[split]
    dataset = load(tmp_path / "parquet", tmp_path, monkeypatch)
    assert {s: len(dataset[s]) for s in dataset} == {s: n for s, n in result.splits.items() if n}
    assert dataset["train"][0]["chosen"][0]["role"] == "assistant"


def test_parquet_classify_labels_are_class_indices(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyarrow")
    export(kb, "classify", tmp_path / "out", file_format="parquet", min_lines=1)
    dataset = load(tmp_path / "out", tmp_path, monkeypatch)
    label = dataset["train"].features["label"]
    assert all(label.int2str(row["label"]) == row["impact"] == "high" for row in dataset["train"])


def test_export_is_deterministic_in_every_format(tmp_path: Path) -> None:
    first = imported(tmp_path / "one", [f"task-{i:02d}" for i in range(6)])
    second = Path(shutil.copytree(first, tmp_path / "two" / "kb"))  # the same records elsewhere
    for fmt, options in (("pairs", {}), ("critique", {}), ("fix", {}), ("pairs", {"file_format": "parquet"})):
        tag = f"{fmt}-{options.get('file_format', 'jsonl')}"
        export(first, fmt, tmp_path / f"a-{tag}", **options)
        export(second, fmt, tmp_path / f"b-{tag}", **options)
        export(first, fmt, tmp_path / f"a-{tag}", **options)  # again, over its own export
        files = sorted(p.relative_to(tmp_path / f"a-{tag}") for p in (tmp_path / f"a-{tag}").rglob("*") if p.is_file())
        assert files
        for name in files:
            assert (tmp_path / f"a-{tag}" / name).read_bytes() == (tmp_path / f"b-{tag}" / name).read_bytes(), name


# -- kb's cache ----------------------------------------------------------------------------------


def test_an_export_from_the_cache_is_the_export_computed_afresh(kb: Path, tmp_path: Path) -> None:
    for fmt in ("pairs", "critique"):
        export(kb, fmt, tmp_path / f"{fmt}-first")  # fills the cache
        export(kb, fmt, tmp_path / f"{fmt}-cached")
        export(kb, fmt, tmp_path / f"{fmt}-fresh", use_cache=False)
        for name in ("README.md", *(f"{s}.jsonl" for s in SPLITS)):
            cached = (tmp_path / f"{fmt}-cached" / name).read_bytes()
            assert (
                cached
                == (tmp_path / f"{fmt}-fresh" / name).read_bytes()
                == (tmp_path / f"{fmt}-first" / name).read_bytes()
            )


def test_a_document_changed_after_an_export_is_cleaned_and_scanned_again(kb: Path, tmp_path: Path) -> None:
    export(kb, "pairs", tmp_path / "out", split="100/0/0")
    ideal, model = kb / "task-03" / "IDEAL_RESPONSE.md", kb / "task-03" / "MODEL_RESPONSE.md"
    ideal.write_text(ideal.read_text().replace("The corrected stack.", "The stack, now private."))
    model.write_text(model.read_text() + f"\nUse aws_secret_access_key = {FAKE_SECRET}\n")
    with pytest.raises(SecretsFoundError) as caught:
        export(kb, "pairs", tmp_path / "out", split="100/0/0")
    assert [p.path for p in caught.value.problems] == [str(model)]
    export(kb, "pairs", tmp_path / "out", split="100/0/0", redact=True)
    [row] = [r for r in every_row(tmp_path / "out") if r["case"] == "task-03"]
    assert "The stack, now private." in row["chosen"][0]["content"]
    assert "[REDACTED:" in row["rejected"][0]["content"]


def test_a_record_or_template_changed_after_an_export_gives_a_new_critique(kb: Path, tmp_path: Path) -> None:
    export(kb, "critique", tmp_path / "out", split="100/0/0")
    [record] = (kb / "task-05").glob("01-*.yaml")
    record.write_text(record.read_text().replace("Bucket is public", "Bucket is world-readable"))
    templates = kb.parent / "templates" / "report"  # the project's templates, beside the KB folder
    shutil.copytree(Path(__file__).parents[1] / "templates" / "report", templates)
    template = templates / "MODEL_FAILURES.md.j2"
    template.write_text("Reviewed.\n" + template.read_text())
    export(kb, "critique", tmp_path / "out", split="100/0/0")
    completions = {r["case"]: r["completion"][0]["content"] for r in every_row(tmp_path / "out")}
    assert "Bucket is world-readable" in completions["task-05"] and "Bucket is public" in completions["task-06"]
    assert all(text.startswith("Reviewed.") for text in completions.values())


# -- the first export of many cases, in worker processes ---------------------------------------


@pytest.fixture
def many(tmp_path: Path) -> Path:
    """Enough tasks for worker processes: two versions of one analysis, one ideal answer with a
    placeholder, one model answer holding a credential."""
    kb = imported(tmp_path, [f"task-{i:02d}" for i in range(POOL_MIN_CASES + 6)], task_07="task-03")
    ideal = kb / "task-09" / "IDEAL_RESPONSE.md"
    ideal.write_text(ideal.read_text().replace('export("name", bucket.id)', "# ... rest of the stack"))
    model = kb / "task-11" / "MODEL_RESPONSE.md"
    model.write_text(model.read_text() + f"\nUse aws_secret_access_key = {FAKE_SECRET}\n")
    return kb


real_cpu_count = os.cpu_count


def _pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The worker pools exports start from here on (each one's size), on a machine of two cores at least."""
    started: list[int] = []
    pool = parallel_module.worker_pool

    def counted(workers: int) -> Any:
        started.append(workers)
        return pool(workers)

    monkeypatch.setattr(parallel_module, "worker_pool", counted)
    monkeypatch.setattr(os, "cpu_count", lambda: max(2, real_cpu_count() or 1))
    return started


def _exported(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


@pytest.mark.parametrize("fmt, options", [("pairs", {}), ("critique", {}), ("critique", {"structured": True})])
def test_a_first_export_made_in_worker_processes_is_the_export_made_in_one(
    many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, options: dict[str, Any]
) -> None:
    pools = _pools(monkeypatch)
    results = {}
    for name, minimum in (("one", 10**9), ("workers", POOL_MIN_CASES)):
        monkeypatch.setattr(parallel_module, "POOL_MIN_CASES", minimum)
        monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / f"cache-{name}"))  # nothing kept yet
        with pytest.raises(SecretsFoundError) as caught:
            export(many, fmt, tmp_path / f"{name}-refused", **options)
        results[name, "refused"] = [str(p) for p in caught.value.problems]
        results[name] = export(many, fmt, tmp_path / name, redact=True, use_cache=False, **options)
        results[name, "files"] = _exported(tmp_path / name)
    assert len(pools) == 2, "the workers' exports (refused, then redacted) each started a pool"
    assert results["one", "refused"] == results["workers", "refused"] != []
    assert results["one", "files"] == results["workers", "files"]
    one, workers = results["one"], results["workers"]
    assert (one.splits, one.skipped, one.redacted, one.clusters) == (
        workers.splits,
        workers.skipped,
        workers.redacted,
        workers.clusters,
    )
    assert one.redacted == 1 and one.clusters["cases"] < POOL_MIN_CASES + 6
    if fmt == "pairs":
        assert one.skipped.get("placeholder in code") == 1


def test_what_workers_computed_is_kept_for_the_next_export(
    many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pools = _pools(monkeypatch)
    progress = RecordedProgress()
    export(many, "critique", tmp_path / "first", redact=True, progress=progress)
    assert len(pools) == 1
    assert progress.started == [("Exporting", POOL_MIN_CASES + 6)] and sum(progress.advanced) == POOL_MIN_CASES + 6
    export(many, "critique", tmp_path / "again", redact=True)
    export(many, "pairs", tmp_path / "pairs", redact=True)  # its documents scanned by critique, cleaned by workers
    assert len(pools) == 2, "the same export again found everything kept; pairs had its ideal answers to clean"
    assert _exported(tmp_path / "first") == _exported(tmp_path / "again")


def test_changed_report_templates_make_every_critique_again_in_workers(
    many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pools = _pools(monkeypatch)
    export(many, "critique", tmp_path / "first", redact=True)
    export(many, "critique", tmp_path / "structured", redact=True, structured=True)
    assert len(pools) == 2
    templates = many.parent / "templates" / "report"  # the project's templates, beside the KB folder
    shutil.copytree(Path(__file__).parents[1] / "templates" / "report", templates)
    template = templates / "MODEL_FAILURES.md.j2"
    template.write_text("Reviewed.\n" + template.read_text())
    export(many, "critique", tmp_path / "again", redact=True)
    assert len(pools) == 3, "every report is to render again: the rows built with the old templates are not done"
    export(many, "critique", tmp_path / "structured-again", redact=True, structured=True)
    assert len(pools) == 3, "structured rows hold no rendered report: the templates do not touch them"
    completions = [r["completion"][0]["content"] for r in every_row(tmp_path / "again")]
    assert completions and all(text.startswith("Reviewed.") for text in completions)
    monkeypatch.setattr(parallel_module, "POOL_MIN_CASES", 10**9)
    export(many, "critique", tmp_path / "one", redact=True, use_cache=False)  # in one process, nothing kept
    assert _exported(tmp_path / "again") == _exported(tmp_path / "one")
    assert _exported(tmp_path / "structured") == _exported(tmp_path / "structured-again")


def test_workers_sent_their_cases_make_the_export_that_forked_ones_make(
    many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pools = _pools(monkeypatch)
    export(many, "pairs", tmp_path / "forked", redact=True, use_cache=False)
    monkeypatch.setattr(parallel_module.multiprocessing, "get_start_method", lambda: "spawn")  # cases pickled
    export(many, "pairs", tmp_path / "sent", redact=True, use_cache=False)
    assert len(pools) == 2 and _exported(tmp_path / "forked") == _exported(tmp_path / "sent")


def _die(job: object) -> None:
    os._exit(1)  # as the out-of-memory killer would end a worker


def test_a_worker_that_dies_is_one_clear_error_and_nothing_is_written(
    many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pools(monkeypatch)
    monkeypatch.setattr(build_module, "_compute", _die)
    with pytest.raises(
        WorkerCrashedError, match=rf"^exporting: a worker process died .* after 0 of {POOL_MIN_CASES + 6} were done"
    ):
        export(many, "critique", tmp_path / "out", redact=True)
    assert not (tmp_path / "out").exists()


# -- credentials --------------------------------------------------------------------------------


def test_a_credential_in_a_task_document_is_named_by_its_line(kb: Path, tmp_path: Path) -> None:
    prompt = kb / "task-06" / "PROMPT.md"
    prompt.write_text(prompt.read_text() + f"\nUse aws_secret_access_key = {FAKE_SECRET}\n")
    with pytest.raises(SecretsFoundError) as caught:
        export(kb, "pairs", tmp_path / "out")
    [problem] = caught.value.problems
    assert (problem.path, problem.line) == (str(prompt), 3)
    assert "AWS secret access key in this task document" in problem.message
    assert not (tmp_path / "out").exists()
    result = export(kb, "pairs", tmp_path / "out", redact=True)
    assert (
        result.redacted == 1
        and FAKE_SECRET
        not in (tmp_path / "out" / "train.jsonl").read_text()
        + (tmp_path / "out" / "validation.jsonl").read_text()
        + (tmp_path / "out" / "test.jsonl").read_text()
    )


def test_ids_are_scanned_too(tmp_path: Path) -> None:
    token = "xoxb-1234567890-1234567890-abcdefghijklmnopqrstuvwx"  # made up, shaped like a Slack token
    kb = imported(tmp_path, [token])
    with pytest.raises(SecretsFoundError) as caught:
        export(kb, "pairs", tmp_path / "out")
    assert any("Slack token in `id`" in p.message for p in caught.value.problems)
    export(kb, "pairs", tmp_path / "out", redact=True, split="100/0/0")
    [row] = every_row(tmp_path / "out")
    assert row["id"] == row["case"] == "[REDACTED:slack-token]"
    assert token not in (tmp_path / "out" / "train.jsonl").read_text()


# -- written as a whole -------------------------------------------------------------------------


def test_an_old_export_is_replaced_as_a_whole(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(kb, "pairs", out, file_format="parquet")
    export(kb, "pairs", out)  # JSONL now: no Parquet shard left beside the new card
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "test.jsonl", "train.jsonl", "validation.jsonl"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.export-")]


def test_a_full_disk_is_one_clear_error_and_the_old_export_stays(
    kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    export(kb, "pairs", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    written: list[Path] = []
    real = publish_module.write_file

    def fills_up(path: Path, data: bytes) -> None:
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        written.append(path)
        real(path, data)

    monkeypatch.setattr(dataset_module, "write_file", fills_up)
    with pytest.raises(KbError) as caught:
        export(kb, "critique", out)
    assert str(caught.value) == f"{out}: cannot write the export (no space left on the device); nothing was changed"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.export-")]  # no staging left
    run = CliRunner().invoke(app, ["export", "fix", "--kb", str(kb), "--out", str(out), "--license", LICENSE])
    assert (
        run.exit_code == 1
        and run.stderr.strip()
        == f"error: {out}: cannot write the export (no space left on the device); nothing was changed"
    )


def test_a_read_only_target_is_one_clear_error(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*args: Any, **kwargs: Any) -> str:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(publish_module.tempfile, "mkdtemp", read_only)
    with pytest.raises(KbError, match=r"cannot write the export \(read-only file system\); nothing was changed"):
        export(kb, "pairs", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_staging_folder_left_by_a_killed_export_is_cleaned_by_the_next(kb: Path, tmp_path: Path) -> None:
    leftover = tmp_path / ".out.export-abc123"
    leftover.mkdir()
    (leftover / "train.jsonl").write_text("half\n")
    export(kb, "pairs", tmp_path / "out")
    assert not leftover.exists() and (tmp_path / "out" / "README.md").is_file()


def test_an_out_folder_holding_other_files_is_never_swapped_away(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="holds files an export did not write"):
        export(kb, "pairs", out, force=True)
    assert (out / "notes.txt").read_text() == "mine"


def test_parquet_without_pyarrow_is_a_clear_usage_error(
    kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(UsageError, match=r"Parquet output needs pyarrow: pip install 'kb\[export\]'"):
        export(kb, "pairs", tmp_path / "out", file_format="parquet")
    assert not (tmp_path / "out").exists()


def test_an_export_killed_at_any_moment_leaves_the_old_dataset_or_the_new_one(kb: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(kb, "fix", out)  # the old dataset: fix rows
    old = {p.name: p.read_bytes() for p in out.iterdir()}
    command = [
        sys.executable,
        "-m",
        "kb.cli",
        "export",
        "pairs",
        "--kb",
        str(kb),
        "--out",
        str(out),
        "--license",
        LICENSE,
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    outcomes = set()
    for delay in (0.3, 0.6, 0.9, 1.2, 1.5, 2.0, 3.0):
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
        files = {p.name: p.read_bytes() for p in out.iterdir()}
        if files == old:
            outcomes.add("old")
        else:  # the new dataset, whole: its card describes exactly the files beside it
            meta = yaml.safe_load(files["README.md"].decode().split("---\n")[1])
            assert "pairs" in meta["pretty_name"]
            for split in meta["dataset_info"]["splits"]:
                assert len(files[f"{split['name']}.jsonl"].splitlines()) == split["num_examples"]
            outcomes.add("new")
            export(kb, "fix", out)  # back to the old one for the next try
            old = {p.name: p.read_bytes() for p in out.iterdir()}
    assert outcomes  # each try ended in one of the two whole states
