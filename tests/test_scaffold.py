"""`kb add case` / `kb add failure`: drafts from templates, never overwriting, safe in parallel."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kb import scaffold
from kb.check import check_kb
from kb.cli import app
from kb.models import SCHEMA_VERSION, Case, CaseLayout, Category, Failure, Impact, Status, Taxonomy
from kb.scaffold import add_case, add_failure, failure_slug
from kb.store import TAXONOMY_FILE, load_kb, read_record, save_record

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    """A small knowledge base: a taxonomy and case `c1` with failures 01 and 03."""
    root = tmp_path / "project" / "failures"
    root.mkdir(parents=True)
    taxonomy = Taxonomy(
        categories=[
            Category(id="iam-permissions", title="IAM permissions", description="IAM."),
            Category(id="networking", title="Networking", description="Networks."),
        ]
    )
    save_record(root / TAXONOMY_FILE, taxonomy)
    save_record(root / "c1" / "case.yaml", Case(id="c1", title="Case one"))
    save_record(root / "c1" / "01-open-bucket.yaml", Failure(id="open-bucket", title="Open S3 bucket"))
    save_record(root / "c1" / "03-no-dlq.yaml", Failure(id="no-dlq", title="Missing DLQ permission for Lambda"))
    save_record(root / "c2" / "case.yaml", Case(id="c2", title="Case two"))
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def add(kb: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["add", *args, "--kb", str(kb)], input=input)
    return result.exit_code, result.stdout, result.stderr


# -- add failure -------------------------------------------------------------------------------


def test_failure_gets_next_number_slug_and_given_values(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01
    code, out, err = add(
        kb, "failure", "--case", "c1", "--title", "Wrong KMS key policy!", "--impact", "High",
        "--category", "iam-permissions", "--service", "AWS Lambda", "--service", "kms", "--no-input",
    )  # fmt: skip
    assert code == 0, err
    path = kb / "c1" / "04-wrong-kms-key-policy.yaml"
    assert out == f"{path}\n"
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=../../schemas/failure.schema.json\n")
    failure = read_record(path, Failure)
    assert failure == Failure(
        schema_version=SCHEMA_VERSION,
        id="wrong-kms-key-policy",
        title="Wrong KMS key policy!",
        published=datetime.date(2026, 1, 1),
        modified=datetime.date(2026, 1, 1),
        impact=Impact.high,
        status=Status.draft,
        category="iam-permissions",
        services=["Lambda", "KMS"],
    )


def test_every_other_field_is_a_commented_placeholder(kb: Path) -> None:
    add_failure(kb, "c1", title="Only a title")
    text = (kb / "c1" / "04-only-a-title.yaml").read_text()
    for name in set(Failure.model_fields) - {"layout"}:
        assert re.search(rf"^(# )?{name}:", text, re.MULTILINE), f"no `{name}` in the failure scaffold"
    assert not re.search(r"^(# )?(layout|labels|field_order):", text, re.MULTILINE)  # import-only hints
    assert re.search(r"^# impact: ", text, re.MULTILINE)
    assert "iam-permissions, networking" in text  # the taxonomy's keys, for the author
    add_case(kb, "c3", title="Three")
    case_text = (kb / "c3" / "case.yaml").read_text()
    for name in set(Case.model_fields) - {"layout"}:
        assert re.search(rf"^(# )?{name}:", case_text, re.MULTILINE), f"no `{name}` in the case scaffold"
    hints = "|".join(("layout", *CaseLayout.model_fields))
    assert not re.search(rf"^(# )?({hints}):", case_text, re.MULTILINE)  # import-only hints


def test_a_fresh_scaffold_is_a_draft_warning_and_strict_refuses_it(kb: Path) -> None:
    add_failure(kb, "c1", title="Draft one")
    add_case(kb, "c3", title="Three")
    report = check_kb(kb)
    assert report.ok
    assert [str(p) for p in report.warnings] == [
        f"{kb / 'c1' / '04-draft-one.yaml'}:8:1: warning: draft: complete it and set `status: published`"
    ]
    assert not check_kb(kb, strict=True).ok
    assert runner.invoke(app, ["check", "--kb", str(kb), "--strict"]).exit_code == 1


def test_same_title_in_case_warns_with_where_and_gets_its_own_id(kb: Path) -> None:
    code, out, err = add(kb, "failure", "--case", "c1", "--title", "open s3  bucket", "--no-input")
    assert code == 0
    assert f"warning: {kb / 'c1' / '01-open-bucket.yaml'}: already has this title in case `c1`" in err
    assert out.strip() == str(kb / "c1" / "04-open-s3-bucket.yaml")
    code, out, err = add(kb, "failure", "--case", "c1", "--title", "Open S3 bucket", "--no-input")
    assert out.strip() == str(kb / "c1" / "05-open-s3-bucket-2.yaml")
    assert load_kb(kb).case("c1") is not None
    assert check_kb(kb).ok


def test_near_duplicate_elsewhere_warns_with_path(kb: Path) -> None:
    code, _, err = add(kb, "failure", "--case", "c2", "--title", "Missing DLQ permissions for Lambda", "--no-input")
    assert code == 0
    assert f"warning: {kb / 'c1' / '03-no-dlq.yaml'}: similar title" in err
    _, _, err = add(kb, "failure", "--case", "c2", "--title", "Unrelated naming problem", "--no-input")
    assert "warning" not in err


def test_interactive_prompts_ask_for_title_impact_and_category(kb: Path) -> None:
    code, out, err = add(kb, "failure", "--case", "c2", input="Open security group\nsevere\nhigh\nnetworking\n")
    assert code == 0, out + err
    failure = read_record(kb / "c2" / "01-open-security-group.yaml", Failure)
    assert (failure.title, failure.impact, failure.category) == ("Open security group", Impact.high, "networking")
    assert "`severe` is not one of: critical, high, medium, low" in err
    code, out, _ = add(kb, "failure", "--case", "c2", input="Second\n\n\n")
    failure = read_record(kb / "c2" / "02-second.yaml", Failure)
    assert (failure.impact, failure.category) == (None, None)


def test_no_input_needs_a_title_and_bad_values_are_refused(kb: Path) -> None:
    before = tree(kb)
    code, _, err = add(kb, "failure", "--case", "c1", "--no-input")
    assert (code, err.strip()) == (2, "error: --title is required with --no-input")
    code, _, err = add(kb, "failure", "--case", "c1", "--title", "T", "--impact", "huge", "--no-input")
    assert (code, err.strip()) == (2, "error: unknown impact `huge`; choose from critical, high, medium, low")
    code, _, err = add(kb, "failure", "--case", "c1", "--title", "T", "--category", "networkin", "--no-input")
    assert (code, err.strip()) == (2, "error: unknown category `networkin`; did you mean `networking`?")
    code, _, err = add(kb, "failure", "--case", "nope", "--title", "T", "--no-input")
    assert code == 2
    assert "no case `nope`" in err and "kb add case nope" in err
    code, _, err = add(kb, "failure", "--case", "c1", "--title", "   ", "--no-input")
    assert (code, err.strip()) == (2, "error: the title is empty")
    assert tree(kb) == before


@pytest.mark.parametrize("bad", ["../x", "..", ".", "a/b", "/tmp/x", ".hidden", "Upper", "x\\y", ""])
def test_ids_that_could_escape_are_refused_with_nothing_written(kb: Path, bad: str) -> None:
    outside = kb.parent
    before = tree(outside)
    code, _, err = add(kb, "case", bad, "--title", "T", "--no-input")
    assert code == 1
    assert "refusing" in err
    code, _, err = add(kb, "failure", "--case", bad, "--title", "T", "--no-input")
    assert code == 1
    assert "refusing" in err
    assert tree(outside) == before


def test_symlinked_case_folder_is_refused(kb: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    save_record(elsewhere / "case.yaml", Case(id="evil", title="Evil"))
    (kb / "evil").symlink_to(elsewhere, target_is_directory=True)
    before = tree(elsewhere)
    code, _, err = add(kb, "failure", "--case", "evil", "--title", "T", "--no-input")
    assert code == 2
    assert f"{kb / 'evil'}: is a symbolic link; refusing to write through it" in err
    code, _, err = add(kb, "case", "evil", "--title", "T", "--no-input")
    assert code == 2
    code, _, err = add(kb, "case", "evil2", "--title", "T", "--no-input")
    assert code == 0  # an unrelated id is fine
    assert tree(elsewhere) == before


def test_a_reservation_in_progress_is_skipped(kb: Path) -> None:
    """Another author holding number 04 and the id `race` (markers) makes us take 05 and `race-2`."""
    (kb / "c1" / ".04.adding").write_text("")
    (kb / "c1" / ".race.id.adding").write_text("")
    added = add_failure(kb, "c1", title="Race")
    assert added.path == kb / "c1" / "05-race-2.yaml"
    assert sorted(p.name for p in (kb / "c1").iterdir() if p.name.startswith(".") and "adding" in p.name) == [
        ".04.adding",
        ".race.id.adding",
    ]  # our own reservations are gone, the other author's are untouched


def test_losing_a_race_for_the_number_retries_after_the_winner(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Our scan saw no failures, but by the time we reserve, another author has written 01 and 03."""
    real = scaffold._numbers_in_use
    calls: list[Path] = []

    def stale_first(folder: Path) -> set[int]:
        calls.append(folder)
        return set() if len(calls) == 1 else real(folder)

    monkeypatch.setattr(scaffold, "_numbers_in_use", stale_first)
    added = add_failure(kb, "c1", title="Late")
    assert added.path == kb / "c1" / "04-late.yaml"
    assert len(calls) == 2


def test_losing_a_race_for_the_file_name_retries(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone outside kb's reservations creates our exact file name first: next number, free id."""
    real = scaffold.create_text

    def rival_first(path: Path, text: str) -> None:
        if path.name == "04-late.yaml":
            real(path, "id: late\ntitle: Theirs\n")
        real(path, text)

    monkeypatch.setattr(scaffold, "create_text", rival_first)
    added = add_failure(kb, "c1", title="Late")
    assert added.path == kb / "c1" / "05-late-2.yaml"  # its id is taken too now
    assert (kb / "c1" / "04-late.yaml").read_text() == "id: late\ntitle: Theirs\n"  # theirs, untouched


def test_eight_concurrent_adds_give_eight_files(kb: Path, tmp_path: Path) -> None:
    env = {**os.environ, "KB_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "kb.cli", "add", "failure", "--kb", str(kb), "--case", "c2", "--no-input"]
    titles = ["Same title"] * 4 + [f"Title {i}" for i in range(4)]
    processes = [
        subprocess.Popen([*command, "--title", t], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for t in titles
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * 8, [e.decode() for _, e in outputs]
    written = sorted(Path(out.decode().strip()) for out, _ in outputs)
    assert len(set(written)) == 8
    names = sorted(p.name for p in (kb / "c2").iterdir() if p.name != "case.yaml")
    assert names == sorted(p.name for p in written)  # no leftovers (markers, temp files)
    assert sorted(int(n.split("-")[0]) for n in names) == list(range(1, 9))
    report = check_kb(kb)
    assert report.ok and len(report.warnings) == 8, [str(p) for p in report.problems]


# -- add case ----------------------------------------------------------------------------------


def test_case_is_created_and_never_overwritten(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01
    code, out, _ = add(kb, "case", "new-case", "--title", "Title: with colon", "--no-input")
    path = kb / "new-case" / "case.yaml"
    assert (code, out) == (0, f"{path}\n")
    day = datetime.date(2026, 1, 1)
    expected = Case(
        schema_version=SCHEMA_VERSION, id="new-case", title="Title: with colon", published=day, modified=day
    )
    assert read_record(path, Case) == expected
    path.write_text(path.read_text() + "# my notes\n")
    before = path.read_bytes()
    code, _, err = add(kb, "case", "new-case", "--title", "Again", "--no-input")
    assert code == 1
    assert f"{path}: already exists" in err
    assert path.read_bytes() == before


def test_case_title_is_prompted_for(kb: Path) -> None:
    code, _, _ = add(kb, "case", "asked", input="My analysis\n")
    assert code == 0
    assert read_record(kb / "asked" / "case.yaml", Case).title == "My analysis"


def test_case_from_task_folder(kb: Path, tmp_path: Path) -> None:
    task = tmp_path / "task"
    task.mkdir()
    metadata = '{"platform": "CloudFormation", "language": "yml", "complexity": "hard",\n'
    metadata += ' "aws_services": "AWS Lambda, s3 ,Amazon SNS", "subject_labels": ["CI/CD"], "team": 5,}\n'
    (task / "metadata.json").write_text(metadata)
    (task / "PROMPT.md").write_bytes(
        "# Build it\r\n\r\nWith `backticks` and: colons \u2013 caf\u00e9\r\n".encode("cp1252")
    )
    code, _, err = add(kb, "case", "from-task", "--from-task", str(task), "--no-input")
    assert code == 0, err
    assert f"{task / 'metadata.json'}:2:" in err and "trailing comma ignored" in err
    case = read_record(kb / "from-task" / "case.yaml", Case)
    assert case.task is not None
    assert (case.task.platform, case.task.language, case.task.complexity) == ("cfn", "yaml", "hard")
    assert case.task.aws_services == ["Lambda", "S3", "SNS"]
    assert case.task.subject_labels == ["CI/CD"]
    assert case.task.prompt is None  # the prompt is kept as a file, decoded to UTF-8
    prompt = (kb / "from-task" / "PROMPT.md").read_text(encoding="utf-8")
    assert prompt == "# Build it\n\nWith `backticks` and: colons \u2013 caf\u00e9\n"
    assert "PROMPT.md: not valid UTF-8 (byte 0x96); decoded as cp1252" in err
    assert case.task.metadata["team"] == 5
    assert case.task.metadata["aws_services"] == "AWS Lambda, s3 ,Amazon SNS"
    code, _, err = add(kb, "case", "no-task", "--from-task", str(tmp_path / "missing"), "--no-input")
    assert (code, err.strip()) == (2, f"error: {tmp_path / 'missing'}: task folder not found")
    assert not (kb / "no-task").exists()


def test_case_folder_of_a_new_kb_is_created(tmp_path: Path) -> None:
    added = add_case(tmp_path / "new-kb", "first", title="First")
    assert added.path == tmp_path / "new-kb" / "first" / "case.yaml"
    assert load_kb(tmp_path / "new-kb").cases[0].case.title == "First"


# -- templates, editor, text safety ------------------------------------------------------------


def test_project_template_overrides_the_builtin_one(kb: Path) -> None:
    own = kb.parent / "templates" / "scaffold"
    own.mkdir(parents=True)
    (own / "failure.yaml.j2").write_text(
        "{{ modeline }}\nid: {{ id | yaml }}\ntitle: {{ title | yaml }}\nstatus: draft\n# ours\n"
    )
    added = add_failure(kb, "c2", title="Custom")
    assert added.path.read_text().endswith("status: draft\n# ours\n")


def test_a_template_giving_an_invalid_record_writes_nothing(kb: Path) -> None:
    own = kb.parent / "templates" / "scaffold"
    own.mkdir(parents=True)
    (own / "failure.yaml.j2").write_text("id: {{ id }}\ntitle: {{ title | yaml }}\nstatus: finished\n")
    before = tree(kb)
    code, _, err = add(kb, "failure", "--case", "c2", "--title", "T", "--no-input")
    assert code == 2
    assert "template scaffold/failure.yaml.j2 gives an invalid record" in err and "`status`" in err
    (own / "failure.yaml.j2").write_text("{{ no_such_name }}\n")
    code, _, err = add(kb, "failure", "--case", "c2", "--title", "T", "--no-input")
    assert code == 1
    assert "failure.yaml.j2:1: 'no_such_name' is undefined" in err
    assert tree(kb) == before


def test_edit_opens_the_editor_then_rechecks(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import pathlib, sys\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('status: draft', 'status: published'))\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.delenv("VISUAL", raising=False)
    code, _, _ = add(kb, "failure", "--case", "c2", "--title", "Edited", "--no-input", "--edit")
    assert code == 0
    assert read_record(kb / "c2" / "01-edited.yaml", Failure).status is Status.published
    editor.write_text("import pathlib, sys\npathlib.Path(sys.argv[1]).write_text('id: x\\ntitel: y\\n')\n")
    code, _, err = add(kb, "failure", "--case", "c2", "--title", "Broken", "--no-input", "--edit")
    assert code == 1
    assert f"{kb / 'c2' / '02-broken.yaml'}:2:1: unknown key `titel` (did you mean `title`?)" in err
    monkeypatch.delenv("EDITOR")
    before = tree(kb)
    code, _, err = add(kb, "failure", "--case", "c2", "--title", "No editor", "--no-input", "--edit")
    assert (code, tree(kb) == before) == (2, True)
    assert "$EDITOR" in err


@settings(max_examples=60, deadline=None)
@given(title=st.text(min_size=1, max_size=80).filter(lambda t: t.strip()), service=st.text(max_size=20))
def test_any_title_round_trips_and_cannot_inject_keys(title: str, service: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "failures"
        save_record(root / "c" / "case.yaml", Case(id="c", title="C"))
        added = add_failure(root, "c", title=title, services=[service])
        failure = read_record(added.path, Failure)
        data = yaml.safe_load(added.path.read_text())
    assert failure.title == " ".join(title.split())
    assert set(data) <= {"schema_version", "id", "title", "status", "published", "modified", "services"}
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", failure.id)


def test_failure_slug() -> None:
    assert failure_slug("Missing IAM Permission for Lambda DLQ") == "missing-iam-permission-for-lambda-dlq"
    assert failure_slug("Résumé: `café` -- 100%") == "resume-cafe-100"
    assert failure_slug("!!!") == "failure"
    long = failure_slug("word " * 40)
    assert len(long) <= 60 and not long.endswith("-")


def test_add_commands_are_listed_in_help() -> None:
    result = runner.invoke(app, ["add", "--help"])
    assert "case" in result.stdout and "failure" in result.stdout


def test_stats_counts_a_scaffold_as_a_draft(kb: Path) -> None:
    add_failure(kb, "c1", title="Draft", impact="low")
    data = json.loads(runner.invoke(app, ["stats", "--kb", str(kb), "--json"]).stdout)
    assert (data["drafts"], data["by_impact"]["low"]) == (1, 1)
