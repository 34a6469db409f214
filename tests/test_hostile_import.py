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
    code = textwrap.dedent(script) + "\nfrom kb.cli import app\napp(sys.argv[1:], prog_name='kb')\n"
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
