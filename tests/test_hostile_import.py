"""`kb import` under faults and attack: racing imports, kill -9 mid-replacement, hostile trees.

Real processes and real signals: each child runs the CLI with one function slowed or
stopped at the critical point (patched inside the child), so the race or the kill lands
exactly there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kb.cli import app
from kb.importer import import_documents

runner = CliRunner()

DOCUMENT = """# Analysis of {name}

## Critical Failures

### 1. {title}

**Impact Level**: Critical

**MODEL_RESPONSE Issue**:
The key policy did not allow the CloudWatch Logs service principal ({name}).
"""


def make_tree(root: Path, names: list[str], title: str) -> Path:
    for name in names:
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "MODEL_FAILURES.md").write_text(DOCUMENT.format(name=name, title=title))
    return root


def child(script: str, *args: str) -> subprocess.Popen[str]:
    """A Python child that runs ``script`` (with `argv` = ``args``) and then the kb CLI on ``sys.argv[1:]``."""
    code = "import sys\n" + textwrap.dedent(script) + "\nfrom kb.cli import app\napp(sys.argv[1:], prog_name='kb')\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def failure_titles(kb: Path, case_id: str) -> list[str]:
    return [yaml.safe_load(p.read_text())["title"] for p in sorted((kb / case_id).glob("[0-9]*.yaml"))]


SLOW_COMMIT = """
import os, sys, time
import kb.importer.write as write
real = write.os.chmod
def slow(*args, **kwargs):  # between the existence check and the move: the race window, widened
    time.sleep(0.03)
    real(*args, **kwargs)
write.os.chmod = slow
"""


NO_RENAMEAT2 = "\nwrite.rename_noreplace = write.exchange = lambda a, b: False  # as on macOS or NFS: the lock\n"


@pytest.mark.parametrize("system", ["renameat2", "lock"])
def test_concurrent_imports_without_force_never_overwrite_each_other(tmp_path: Path, system: str) -> None:
    names = [f"task-{n:02d}" for n in range(24)]
    one = make_tree(tmp_path / "one", names, "Written by run one")
    two = make_tree(tmp_path / "two", names, "Written by run two")
    kb = tmp_path / "kb"
    runs = [
        child(
            SLOW_COMMIT + (NO_RENAMEAT2 if system == "lock" else ""),
            "import",
            str(tree),
            "--into",
            str(kb),
            "--format",
            "json",
        )
        for tree in (one, two)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all("Traceback" not in err for _, err in outputs)
    results = [json.loads(out) for out, _ in outputs]
    winners: dict[str, list[int]] = {}
    for number, result in enumerate(results):
        for row in result["results"]:
            if row["case"] is not None:
                winners.setdefault(row["case"], []).append(number)
            else:
                assert "already exists" in row["error"]
    assert sorted(winners) == names
    for case_id, runs_that_won in winners.items():
        assert len(runs_that_won) == 1, case_id  # one run imported it; the other was told it exists
        expected = "Written by run one" if runs_that_won == [0] else "Written by run two"
        assert failure_titles(kb, case_id) == [expected], case_id
    assert not [p for p in kb.iterdir() if p.name.startswith(".import-")]


def _stop_after(patch: str, cue: str) -> str:
    return f"""
import os, sys, time, shutil
import kb.importer.write as write
{textwrap.dedent(patch)}
def stop():
    print({cue!r}, flush=True)
    time.sleep(60)
"""


def _first_import(tmp_path: Path) -> tuple[Path, Path, Path]:
    kb = tmp_path / "kb"
    old = make_tree(tmp_path / "old", ["task"], "The old failure")
    new = make_tree(tmp_path / "new", ["task"], "The new failure")
    assert import_documents([old], kb).ok
    return kb, old, new


def _kill_when(proc: subprocess.Popen[str], cue: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line != cue + "\n":
        proc.kill()
        raise AssertionError(line + proc.communicate()[1])
    proc.kill()
    proc.wait()


def test_kill_9_mid_two_step_replacement_is_reported_and_restored(tmp_path: Path) -> None:
    """Where the system cannot swap two folders: killed between the two renames, nothing is lost."""
    kb, _, new = _first_import(tmp_path)
    script = _stop_after(
        """
        write.exchange = lambda a, b: False
        real = os.rename
        def rename(src, dst):
            real(src, dst)
            if ".import-old-" in str(dst):
                stop()
        write.os.rename = rename
        """,
        "moved the old case aside",
    )
    _kill_when(child(script, "import", str(new), "--into", str(kb), "--force"), "moved the old case aside")
    assert not (kb / "task").exists()
    checked = runner.invoke(app, ["check", "--kb", str(kb)])
    assert checked.exit_code == 1
    assert "case `task` exists only here, left by an interrupted import; the next import restores it" in checked.stderr
    again = runner.invoke(app, ["import", str(tmp_path / "elsewhere"), "--into", str(kb)])
    assert f"{kb / 'task'}: restored from an interrupted replacement" in again.stderr
    assert failure_titles(kb, "task") == ["The old failure"]
    assert runner.invoke(app, ["check", "--kb", str(kb)]).exit_code == 0
    assert not [p for p in kb.iterdir() if p.name.startswith(".import-")]


def test_kill_9_after_the_swap_leaves_the_new_case_and_a_warning(tmp_path: Path) -> None:
    kb, _, new = _first_import(tmp_path)
    script = _stop_after(
        """
        real = write.exchange
        def exchange(a, b):
            assert real(a, b)
            stop()
        write.exchange = exchange
        """,
        "swapped",
    )
    _kill_when(child(script, "import", str(new), "--into", str(kb), "--force"), "swapped")
    assert failure_titles(kb, "task") == ["The new failure"]
    checked = runner.invoke(app, ["check", "--kb", str(kb)])
    assert checked.exit_code == 0 and "ok: 1 case(s)" in checked.stdout
    assert (
        "warning: staging folder of an import (running, or interrupted: the next import removes it)" in checked.stderr
    )
    again = runner.invoke(app, ["import", str(new), "--into", str(kb), "--force"])
    assert again.exit_code == 0 and "removed 1 staging folder(s)" in again.stderr
    assert not [p for p in kb.iterdir() if p.name.startswith(".")]


def test_a_reader_never_sees_a_replaced_case_vanish(tmp_path: Path) -> None:
    kb, old, new = _first_import(tmp_path)
    case_file = kb / "task" / "case.yaml"
    missing: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if not case_file.exists():
                missing.append(1)

    replacer = child(
        "import sys\nfrom kb.importer import import_documents\nfrom pathlib import Path\n"
        "for n in range(40):\n"
        "    assert import_documents([Path(sys.argv[1 + n % 2])], Path(sys.argv[3]), force=True).ok\n"
        "sys.exit(0)\n",
        str(old),
        str(new),
        str(kb),
    )
    watcher = threading.Thread(target=watch)
    watcher.start()
    _, err = replacer.communicate(timeout=120)
    done.set()
    watcher.join()
    assert replacer.returncode == 0, err
    assert missing == []


# -- credentials --------------------------------------------------------------------

KEY_ID = "AKIA" + "Q7ZP3MXK2R9TLB4V"
SECRET_KEY = "r7Hk2pQ9vXy4Lm8Zt3Wq6Bn1Cd5Fg0Js/Ke+Ua2M"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr" + "Xq7Lm2Pz9Kd4Wt8Rb1Nc6Vh3Gy5Fs0Ja" * 6
LEAKY = f"""# Analysis

## Critical Failures

### 1. Hard-coded credentials

**Impact Level**: Critical

**MODEL_RESPONSE Issue**:
The provider used `new BasicAWSCredentials("{KEY_ID}", "{SECRET_KEY}")`.
"""


def leaky_task(root: Path) -> Path:
    task = root / "leaky"
    task.mkdir(parents=True)
    (task / "MODEL_FAILURES.md").write_text(LEAKY)
    (task / "PROMPT.md").write_text("Use aws_session_token = " + SESSION_TOKEN + "\n")
    (task / "metadata.json").write_text('{"platform": "cdk", "db": "postgres://app:Zq8mLp2vRt@db:5432/app"}')
    return task


def test_imported_credentials_are_warned_about_and_kb_check_errors_at_line_and_column(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    imported = runner.invoke(app, ["import", str(leaky_task(tmp_path)), "--into", str(kb)])
    assert imported.exit_code == 0, imported.output
    warned = [line for line in imported.stderr.splitlines() if "AWS" in line or "password" in line]
    assert len(warned) >= 4  # key id and secret key in the document, the token in the prompt, the URL's password
    checked = runner.invoke(app, ["check", "--kb", str(kb)])
    assert checked.exit_code == 1
    failure = next((kb / "leaky").glob("01-*.yaml"))
    lines = failure.read_text().splitlines()
    row = next(n for n, line in enumerate(lines, start=1) if KEY_ID in line)
    col = lines[row - 1].index(KEY_ID) + 1
    assert f"{failure}:{row}:{col}: AWS access key id in `model_response`:" in checked.stderr
    assert f"{kb / 'leaky' / 'case.yaml'}:" in checked.stderr and "password in a URL" in checked.stderr
    rendered = runner.invoke(app, ["render", "--kb", str(kb), "--out", str(tmp_path / "reports")])
    assert rendered.exit_code == 1 and "AWS access key id in `model_response`" in rendered.stderr
    assert "--redact" not in rendered.stderr
    assert not (tmp_path / "reports").exists()


def test_import_redact_leaves_records_kb_check_accepts(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    imported = runner.invoke(app, ["import", str(leaky_task(tmp_path)), "--into", str(kb), "--redact"])
    assert imported.exit_code == 0, imported.output
    written = "".join(p.read_text() for p in (kb / "leaky").iterdir())
    for secret in (KEY_ID, SECRET_KEY, SESSION_TOKEN[:40], "Zq8mLp2vRt"):
        assert secret not in written
    assert "[REDACTED:aws-secret-access-key]" in written and "[REDACTED:url-password]" in written
    assert runner.invoke(app, ["check", "--kb", str(kb)]).exit_code == 0


def test_a_credential_in_metadata_is_reported_and_redacted_in_every_task_that_has_it(tmp_path: Path) -> None:
    for name in ("one", "two"):  # the same metadata value twice: each task is warned and redacted
        leaky_task(tmp_path / "tasks" / name)
    result = import_documents([tmp_path / "tasks"], tmp_path / "kb", redact=True)
    assert result.ok and result.cases == 2
    for document in result.documents:
        assert ("credential", "the metadata, line 1: password in a URL; redacted") in document.warnings
        assert "Zq8mLp2vRt" not in (tmp_path / "kb" / document.case_id / "case.yaml").read_text()


# -- bounded input: what import writes always passes kb check -----------------------


def hostile_tree(root: Path) -> Path:
    def task(name: str, document: str | bytes, metadata: str | None = None) -> None:
        folder = root / name
        folder.mkdir(parents=True)
        raw = document.encode() if isinstance(document, str) else document
        (folder / "MODEL_FAILURES.md").write_bytes(raw)
        if metadata is not None:
            (folder / "metadata.json").write_text(metadata)

    ordinary = DOCUMENT.format(name="x", title="A failure")
    task("big", ordinary + "word " * 60_000)
    task("deep-meta", ordinary, '{"platform": "cdk", "x": ' + "[" * 70 + "]" * 70 + "}")
    task("very-deep-meta", ordinary, '{"x": ' + "[" * 40_000 + "]" * 40_000 + "}")
    task("surrogate", ordinary, '{"platform": "cdk", "note": "half \\ud800 a pair", "\\udfff": 1}')
    task("not-numbers", ordinary, '{"platform": "cdk", "score": NaN, "max": Infinity, "min": -Infinity}')
    task("huge-meta", ordinary, '{"blob": "' + "x" * 300_000 + '"}')
    return root


def test_hostile_documents_become_records_kb_check_accepts(tmp_path: Path) -> None:
    from kb.importer.limits import ImportLimits

    kb = tmp_path / "kb"
    limits = ImportLimits(document=200_000, metadata=100_000)
    result = import_documents([hostile_tree(tmp_path / "tree")], kb, limits=limits)
    outcome = {Path(d.source).parent.name: (d.error, [m for _, m in d.warnings]) for d in result.documents}
    assert outcome["big"][0] is None and any("only the first 200,000 are imported" in m for m in outcome["big"][1])
    assert any("nested deeper than 32 levels; ignored" in m for m in outcome["deep-meta"][1])
    assert any("nested deeper than 32 levels; ignored" in m for m in outcome["very-deep-meta"][1])
    assert any("over the limit of 100,000; ignored" in m for m in outcome["huge-meta"][1])
    assert result.cases == 6 and not any(d.crashed for d in result.documents)
    checked = runner.invoke(app, ["check", "--kb", str(kb)])
    assert checked.exit_code == 0, checked.output
    case = yaml.safe_load((kb / "not-numbers" / "case.yaml").read_text())
    assert case["task"]["metadata"] == {"platform": "cdk", "score": "NaN", "max": "Infinity", "min": "-Infinity"}
    note = yaml.safe_load((kb / "surrogate" / "case.yaml").read_text())["task"]["metadata"]
    assert note == {"platform": "cdk", "note": "half \ufffd a pair", "\ufffd": 1}


def test_a_document_whose_record_would_be_too_large_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control characters grow fourfold as YAML escapes: the record, not the document, must fit."""
    import kb.importer.driver
    import kb.yamlio

    monkeypatch.setattr(kb.importer.driver, "MAX_RECORD_BYTES", 50_000)
    monkeypatch.setattr(kb.yamlio, "MAX_RECORD_BYTES", 50_000)
    folder = tmp_path / "tree" / "control-chars"
    folder.mkdir(parents=True)
    (folder / "MODEL_FAILURES.md").write_bytes(b"# T\n\n" + b"\x01" * 30_000)
    result = import_documents([folder], tmp_path / "kb")
    assert result.cases == 0
    assert "case.yaml would be over 50,000 bytes, the most a record may hold; not imported" in str(result.errors[0])


def test_summary_counts_imported_and_failed_documents(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", ["good", "taken"], "A failure")
    assert import_documents([tree / "taken"], tmp_path / "kb").ok
    result = runner.invoke(app, ["import", str(tree), "--into", str(tmp_path / "kb")])
    assert result.exit_code == 1
    assert "imported 1 of 2 document(s) -> 1 case(s), 1 failure(s)" in result.stdout
    assert f"{tmp_path / 'kb' / 'taken'}: already exists (a case of that id exists)" in result.stderr
    assert "1 error(s): those documents were not imported\nuse --force to replace the existing cases" in result.stderr


# -- import reads only regular files inside the tree it was given --------------------


def test_links_out_of_the_tree_fifos_and_devices_are_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "MODEL_FAILURES.md").write_text(DOCUMENT.format(name="outside", title="Secret failure"))
    (outside / "PROMPT.md").write_text("the private prompt\n")
    tree = make_tree(tmp_path / "tree", ["linked-doc", "linked-prompt", "zero", "fifo-meta", "linked-lib"], "Ours")
    (tree / "linked-doc" / "MODEL_FAILURES.md").unlink()
    (tree / "linked-doc" / "MODEL_FAILURES.md").symlink_to(outside / "MODEL_FAILURES.md")
    (tree / "linked-prompt" / "PROMPT.md").symlink_to(outside / "PROMPT.md")
    (tree / "zero" / "PROMPT.md").symlink_to("/dev/zero")
    os.mkfifo(tree / "fifo-meta" / "metadata.json")
    (tree / "fifo-meta" / "PROMPT.md").write_text("ours\n")  # so the folder is a task folder
    (tree / "linked-lib" / "PROMPT.md").write_text("ours\n")
    (tree / "linked-lib" / "lib").symlink_to(outside, target_is_directory=True)
    fifo_doc = tree / "fifo-doc"
    fifo_doc.mkdir()
    os.mkfifo(fifo_doc / "MODEL_FAILURES.md")
    kb = tmp_path / "kb"
    run = child("", "import", str(tree), "--into", str(kb), "--format", "json")
    out, err = run.communicate(timeout=60)  # a FIFO read would hang here forever
    assert "Traceback" not in err
    rows = {Path(r["source"]).parent.name: r for r in json.loads(out)["results"]}
    assert "links outside" in rows["linked-doc"]["error"]
    assert "not a regular file" in rows["fifo-doc"]["error"]
    for name in ("linked-prompt", "zero", "fifo-meta", "linked-lib"):
        assert rows[name]["case"] == name
    written = "".join(p.read_text() for p in kb.rglob("*.yaml"))
    assert "private prompt" not in written and "Secret failure" not in written
    assert any("not a regular file" in w["message"] for w in rows["fifo-meta"]["warnings"])
    assert runner.invoke(app, ["check", "--kb", str(kb)]).exit_code == 0


# -- stable ids ---------------------------------------------------------------------


def test_case_ids_come_from_each_document_alone(tmp_path: Path) -> None:
    names = ["FOO-BAR", "Foo Bar", "foo_bar", "café", "日本語", "ユーザー"]
    tree = make_tree(tmp_path / "tree", names, "A failure")
    kb = tmp_path / "kb"
    together = import_documents([tree], kb)
    ids = {Path(d.source).parent.name: d.case_id for d in together.documents}
    assert together.ok and len(set(ids.values())) == len(names)
    assert ids["FOO-BAR"] == "foo-bar" and ids["café"].startswith("cafe-") and ids["日本語"].startswith("case-")
    before = {p.name: p.read_bytes() for p in (kb / ids["FOO-BAR"]).iterdir()}
    (tree / "foo_bar" / "MODEL_FAILURES.md").write_text(DOCUMENT.format(name="foo_bar", title="Changed"))
    alone = import_documents([tree / "foo_bar"], kb, force=True)
    assert [d.case_id for d in alone.documents] == [ids["foo_bar"]]  # the same id as in the run of six
    assert {p.name: p.read_bytes() for p in (kb / ids["FOO-BAR"]).iterdir()} == before
    assert failure_titles(kb, ids["foo_bar"]) == ["Changed"]
    case = yaml.safe_load((kb / ids["日本語"] / "case.yaml").read_text())
    assert case["source"]["path"].endswith("日本語/MODEL_FAILURES.md")


# -- process pools ------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


SLOW_WORKERS = """
import os, time
import kb.importer.driver as driver
real = driver.prepare_one
def slow(job, **kwargs):
    os.write(1, b"working\\n")  # one write: lines from two workers never interleave
    time.sleep(0.5)
    return real(job, **kwargs)
driver.prepare_one = slow
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_killing_import_kills_its_workers(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", [f"task-{n:02d}" for n in range(40)], "A failure")
    proc = child(SLOW_WORKERS, "import", str(tree), "--into", str(tmp_path / "kb"))
    assert proc.stdout is not None and proc.stdout.readline() == "working\n"
    workers = _children(proc.pid)
    assert workers
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)]


CRASHING_WORKER = """
import os, signal
import kb.importer.driver as driver
real = driver.prepare_one
def crash(job, **kwargs):
    if job.case_id == "task-30":
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
    return real(job, **kwargs)
driver.prepare_one = crash
"""


def test_a_worker_killed_mid_import_is_one_clear_error(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", [f"task-{n:02d}" for n in range(40)], "A failure")
    kb = tmp_path / "kb"
    proc = child(CRASHING_WORKER, "import", str(tree), "--into", str(kb))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: import into {kb}: a worker process died"), err
    assert " of 40 were done; the rest were not" in lines[0]
    assert runner.invoke(app, ["check", "--kb", str(kb)]).exit_code == 0  # what was written is whole
