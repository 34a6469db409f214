"""A task's documents (PROMPT.md, MODEL_RESPONSE.md, IDEAL_RESPONSE.md) kept as files beside the case."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kb.check import check_kb
from kb.documents import IDEAL_RESPONSE, MAX_DOCUMENT_BYTES, MODEL_RESPONSE, PROMPT
from kb.importer import import_documents
from kb.scaffold import add_case
from kb.store import load_kb

DOCUMENT = "# Model Failures\n\n## 1. Public bucket\n\n**Impact**: High\n\nThe bucket was public.\n"


def task_folder(root: Path, *, ideal: bytes = b"The stack, fixed.\n") -> Path:
    root.mkdir(parents=True)
    (root / "metadata.json").write_text(json.dumps({"platform": "pulumi", "language": "py"}))
    (root / "MODEL_FAILURES.md").write_text(DOCUMENT)
    (root / PROMPT).write_bytes("Build a bucket \u2013 private.\r\n".encode("cp1252"))
    (root / MODEL_RESPONSE).write_text("```python\nbucket = Bucket(acl='public-read')\n```\n")
    (root / IDEAL_RESPONSE).write_bytes(ideal)
    return root


def test_import_keeps_the_task_documents_beside_the_records_as_utf8(tmp_path: Path) -> None:
    task = task_folder(tmp_path / "task-one")
    kb = tmp_path / "kb"
    import_documents([task], kb)
    [case] = load_kb(kb).cases
    assert case.documents == (PROMPT, MODEL_RESPONSE, IDEAL_RESPONSE)
    assert case.case.task is not None and case.case.task.prompt is None  # one place: the file
    assert case.document(PROMPT) == "Build a bucket \u2013 private.\n"  # decoded from cp1252, LF line ends
    assert case.document(MODEL_RESPONSE) == (task / MODEL_RESPONSE).read_text()
    assert check_kb(kb).ok


def test_a_document_missing_from_the_task_is_absent_not_empty(tmp_path: Path) -> None:
    task = task_folder(tmp_path / "task-one")
    (task / IDEAL_RESPONSE).unlink()
    import_documents([task], tmp_path / "kb")
    [case] = load_kb(tmp_path / "kb").cases
    assert case.documents == (PROMPT, MODEL_RESPONSE)
    assert case.document(IDEAL_RESPONSE) is None
    assert not (case.path / IDEAL_RESPONSE).exists()


def test_a_document_too_large_to_keep_is_left_out_with_a_warning(tmp_path: Path) -> None:
    task = task_folder(tmp_path / "task-one", ideal=b"x" * (MAX_DOCUMENT_BYTES + 1))
    result = import_documents([task], tmp_path / "kb")
    [document] = result.documents
    assert any(kind == "document" and "not kept" in message for kind, message in document.warnings)
    [case] = load_kb(tmp_path / "kb").cases
    assert IDEAL_RESPONSE not in case.documents
    assert check_kb(tmp_path / "kb").ok  # what import writes passes check


def test_add_case_from_task_copies_the_documents(tmp_path: Path) -> None:
    task = task_folder(tmp_path / "task-one")
    kb = tmp_path / "kb"
    add_case(kb, "from-task", from_task=task)
    folder = kb / "from-task"
    assert (folder / PROMPT).read_text(encoding="utf-8") == "Build a bucket \u2013 private.\n"
    assert (folder / MODEL_RESPONSE).read_bytes() == (task / MODEL_RESPONSE).read_bytes()
    assert load_kb(kb).cases[0].documents == (PROMPT, MODEL_RESPONSE, IDEAL_RESPONSE)


def test_check_reports_a_document_that_is_not_utf8_too_large_or_not_a_file(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    import_documents([task_folder(tmp_path / "task-one")], kb)
    folder = kb / "task-one"
    (folder / PROMPT).write_bytes(b"line one\nbad \xff byte\n")
    (folder / MODEL_RESPONSE).write_bytes(b"x" * (MAX_DOCUMENT_BYTES + 1))
    (folder / IDEAL_RESPONSE).unlink()
    os.mkfifo(folder / IDEAL_RESPONSE)  # never opened: check must not block on it
    (folder / "NOTES.md").write_text("a stray file")
    messages = [str(p) for p in check_kb(kb).errors]
    assert f"{folder / PROMPT}:2:5: task document is not UTF-8" in messages
    assert any(m.startswith(f"{folder / MODEL_RESPONSE}:1:1: task document over") for m in messages)
    assert f"{folder / IDEAL_RESPONSE}:1:1: task document is not a regular file" in messages
    assert any(m.startswith(f"{folder / 'NOTES.md'}:1:1: unexpected entry") for m in messages)
