"""When the system refuses a write (read-only folder, no permission, full disk): one line, no traceback.

The refusal is simulated at the system call (tests may run as root, for whom a read-only
mode means nothing): the call kb makes to create its temp file raises the error the
kernel would.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kb.cli import app

runner = CliRunner()

REFUSALS = {
    "read-only": (errno.EROFS, "Read-only file system"),
    "no permission": (errno.EACCES, "Permission denied"),
    "disk full": (errno.ENOSPC, "No space left on device"),
}


def refusing(code: int, message: str) -> Callable[..., Any]:
    def refuse(*args: Any, dir: Any = None, **kwargs: Any) -> Any:
        raise OSError(code, message, str(dir))

    return refuse


def one_line_error(result: Any, message: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    return str(lines[0])


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_add_to_a_kb_that_refuses_writes(kb_copy: Path, monkeypatch: pytest.MonkeyPatch, refusal: str) -> None:
    code, message = REFUSALS[refusal]
    monkeypatch.setattr("kb.atomic.tempfile.mkstemp", refusing(code, message))
    result = runner.invoke(app, ["add", "case", "new-case", "--kb", str(kb_copy), "--title", "T", "--no-input"])
    assert one_line_error(result, message).startswith(f"error: {kb_copy / 'new-case'}: ")


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_schema_into_a_folder_that_refuses_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> None:
    code, message = REFUSALS[refusal]
    monkeypatch.setattr("kb.atomic.tempfile.mkstemp", refusing(code, message))
    result = runner.invoke(app, ["schema", "--out", str(tmp_path / "schemas")])
    one_line_error(result, message)


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_import_into_a_folder_that_refuses_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> None:
    code, message = REFUSALS[refusal]
    tree = tmp_path / "tree"
    for n in range(5):
        (tree / f"task-{n}").mkdir(parents=True)
        (tree / f"task-{n}" / "MODEL_FAILURES.md").write_text(f"# Task {n}\n\n### 1. A failure\n\nText.\n")
    monkeypatch.setattr("kb.importer.write.tempfile.mkdtemp", refusing(code, message))
    result = runner.invoke(app, ["import", str(tree), "--into", str(tmp_path / "kb")])
    line = one_line_error(result, f"cannot write into {tmp_path / 'kb'} ({message}); the import stopped")
    assert line.startswith("error: ")
    assert not [p for p in (tmp_path / "kb").iterdir() if p.name.startswith(".import-")]


def test_render_on_a_full_disk_keeps_the_old_report(
    kb_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    assert runner.invoke(app, ["render", "--kb", str(kb_copy), "--out", str(out)]).exit_code == 0
    report = next(out.rglob("MODEL_FAILURES.md"))
    before = report.read_bytes()
    path = next(kb_copy.rglob("01-*.yaml"))
    path.write_text(path.read_text().replace("title: AWS Config", "title: Changed AWS Config"))

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("kb.atomic.tempfile.mkstemp", full)  # reports are written without fsync
    one_line_error(runner.invoke(app, ["render", "--kb", str(kb_copy), "--out", str(out)]), "No space left on device")
    assert report.read_bytes() == before
    assert [p.name for p in report.parent.iterdir()] == ["MODEL_FAILURES.md"]
