"""Broken and hostile input, through the CLI: one clean line per problem, nothing lost, nothing injected."""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kb.cli import app
from kb.models import Failure
from kb.store import parse_record
from kb.yamlio import MAX_RECORD_BYTES

runner = CliRunner()
SEED = "pr7060"


def snapshot(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def check_lines(kb: Path, *extra: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["check", "--kb", str(kb), *extra])
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr.splitlines()


BROKEN = {
    "unclosed-quote": (b'id: x\ntitle: "never closed\n', 2, "invalid YAML"),
    "bad-indent": (b"id: x\ntitle: t\n  impact: high\n", 3, "invalid YAML"),
    "tab-indent": (b"id: x\nmodel_response:\n\ttext: t\n", 3, "invalid YAML"),
    "not-a-mapping": (b"just a string\n", 1, "expected a mapping of keys to values, found a str"),
    "empty": (b"", 1, "found an empty file"),
    "only-comments": (b"# nothing here\n", 1, "found an empty file"),
    "wrong-type": (b"id: x\ntitle: t\nservices: Lambda\n", 3, "`services`: Input should be a valid list"),
    "bad-impact": (b"id: x\ntitle: t\nimpact: apocalyptic\n", 3, "`impact`: Input should be"),
    "unknown-key": (b"id: x\ntitle: t\nroot_cuase: r\n", 3, "did you mean `root_cause`?"),
    "missing-key": (b"id: x\n", 1, "missing required key `title`"),
    "latin-1": (b"id: x\ntitle: caf\xe9\n", 2, "not valid UTF-8"),
    "nul-byte": (b"id: x\ntitle: a\x00b\n", 2, "NUL byte"),
    "http-url": (b"id: x\ntitle: t\ndocs:\n- title: d\n  url: http://example.com/\n", 5, "not allowed"),
    "data-url": (b"id: x\ntitle: t\ndocs:\n- title: d\n  url: data:text/html,hi\n", 5, "not allowed"),
    "duplicate-key": (b"id: x\ntitle: t\ntitle: u\n", 1, ""),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_record_one_line_exit_1_nothing_changed(kb_copy: Path, name: str) -> None:
    content, line, message = BROKEN[name]
    path = kb_copy / SEED / "04-x.yaml"
    path.write_bytes(content)
    before = snapshot(kb_copy)
    code, lines = check_lines(kb_copy)
    after = snapshot(kb_copy)
    assert before == after
    if name == "duplicate-key":  # YAML allows it (last wins); the record is valid
        assert code == 0
        return
    assert code == 1
    assert lines[0].startswith(f"{path}:{line}:"), lines
    assert message in lines[0]
    assert len(lines) == 2  # the problem, then the count


def test_bom_and_crlf_are_accepted(kb_copy: Path) -> None:
    path = kb_copy / SEED / "01-aws-config-account-level-resource-violation.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert check_lines(kb_copy)[0] == 0


def test_billion_laughs_is_refused_fast_in_bounded_memory(kb_copy: Path) -> None:
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = chr(ord("a") + i - 1)
        levels.append(f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [{','.join(['*' + prev] * 9)}]")
    path = kb_copy / SEED / "04-bomb.yaml"
    path.write_text("\n".join(levels) + "\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    code, lines = check_lines(kb_copy)
    assert time.perf_counter() - start < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB
    assert code == 1
    assert lines[0] == f"{path}:2:8: YAML aliases (*name) are not allowed in records; write the value out"


def test_huge_file_is_refused_with_a_clear_message(kb_copy: Path) -> None:
    path = kb_copy / SEED / "04-huge.yaml"
    with path.open("w") as handle:
        handle.write("id: huge\ntitle: t\nroot_cause: ")
        handle.write("x" * (MAX_RECORD_BYTES + 10))
    code, lines = check_lines(kb_copy)
    assert code == 1
    assert lines[0].startswith(f"{path}:1:1: file is ") and "records are limited to" in lines[0]


def test_large_field_under_the_limit_is_fine(kb_copy: Path) -> None:
    path = kb_copy / SEED / "04-big.yaml"
    path.write_text("id: big\ntitle: t\nroot_cause: " + "word " * 1_000_000 + "\n")
    assert check_lines(kb_copy)[0] == 0


def test_deep_nesting_is_refused(kb_copy: Path) -> None:
    path = kb_copy / SEED / "04-deep.yaml"
    path.write_text("id: deep\ntitle: t\nextra: " + "[" * 5000 + "]" * 5000 + "\n")
    code, lines = check_lines(kb_copy)
    assert code == 1 and lines[0].startswith(f"{path}:")


def test_symlinks_leaving_the_kb_are_refused(kb_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.yaml"
    secret.write_text("id: secret\ntitle: do not read me\n")
    (kb_copy / SEED / "04-secret.yaml").symlink_to(secret)
    (kb_copy / "elsewhere").symlink_to(outside, target_is_directory=True)
    code, lines = check_lines(kb_copy)
    assert code == 1
    assert f"{kb_copy / SEED / '04-secret.yaml'}:1:1: links outside the knowledge base; refusing to read it" in lines
    assert f"{kb_copy / 'elsewhere'}:1:1: links outside the knowledge base; refusing to read it" in lines


def test_commands_that_load_the_kb_report_problems_without_traceback(kb_copy: Path, tmp_path: Path) -> None:
    (kb_copy / SEED / "04-bad.yaml").write_text("id: bad\ntitle: [\n")
    for args in (
        ["render", "--out", str(tmp_path / "out")],
        ["stats"],
        ["export", "sft", "--out", str(tmp_path / "x"), "--license", "mit"],
    ):
        result = runner.invoke(app, [*args[:1], "--kb", str(kb_copy), *args[1:]])
        if result.exit_code == 2 and "No such command" in result.output:
            continue  # command not built yet
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
        assert f"{kb_copy / SEED / '04-bad.yaml'}:" in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "x").exists()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    record, problems = parse_record(Path("fuzz.yaml"), raw, Failure)
    assert (record is None) == bool(problems)


yaml_ish = st.lists(
    st.sampled_from(
        [
            "id: x",
            "title: t",
            "- a",
            "  - b",
            "key: [1, {a: b}]",
            "&a x",
            "*a",
            "? k",
            ": v",
            "|",
            "  text",
            "'q",
            '"q',
            "#c",
            "---",
            "...",
            "%YAML 1.1",
            "!!python/object:os.system",
            "!!binary AAAA",
            "\t",
        ]
    ),
    max_size=12,
).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(yaml_ish)
def test_yaml_like_text_never_raises(text: str) -> None:
    record, problems = parse_record(Path("fuzz.yaml"), text.encode(), Failure)
    assert (record is None) == bool(problems)


def test_no_python_object_construction(kb_copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = kb_copy / SEED / "04-x.yaml"
    path.write_text(f"id: x\ntitle: !!python/object/apply:os.system ['touch {marker}']\n")
    code, lines = check_lines(kb_copy)
    assert code == 1 and not marker.exists()
    assert "could not determine a constructor" in lines[0]


def test_atomic_write_survives_kill_9(tmp_path: Path) -> None:
    """A writer killed mid-write leaves the old file intact (never half a file)."""
    target = tmp_path / "report.md"
    target.write_text("old content\n")
    script = (
        "import sys, pathlib\n"
        "from kb.atomic import replacing\n"
        "with replacing(pathlib.Path(sys.argv[1])) as h:\n"
        "    h.write(b'new ' * 1000)\n"
        "    h.flush()\n"
        "    print('writing', flush=True)\n"
        "    import time; time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
    proc.kill()
    proc.wait()
    assert target.read_text() == "old content\n"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "report.md"]
    assert all(name.startswith(".report.md.") for name in leftovers)
    assert os.access(target, os.R_OK)


def test_render_killed_mid_write_leaves_the_old_report(kb_copy: Path, tmp_path: Path) -> None:
    """kill -9 while `kb render` writes: the old report stays whole, no half-written file appears."""
    out = tmp_path / "reports"
    report = out / SEED / "MODEL_FAILURES.md"
    report.parent.mkdir(parents=True)
    report.write_text("the old report\n")
    path = kb_copy / SEED / "01-aws-config-account-level-resource-violation.yaml"
    path.write_text(path.read_text().replace("title: AWS Config", "title: Changed AWS Config"))
    script = (
        "import os, sys, time\n"
        "import kb.atomic\n"
        "def stalled_replace(src, dst):\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        "kb.atomic.os.replace = stalled_replace\n"
        "from kb.cli import app\n"
        "app(['render', '--kb', sys.argv[1], '--out', sys.argv[2]])\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(kb_copy), str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
    proc.kill()
    proc.wait()
    assert report.read_text() == "the old report\n"
    assert [p.name for p in report.parent.iterdir() if not p.name.startswith(".")] == ["MODEL_FAILURES.md"]
    result = runner.invoke(app, ["render", "--kb", str(kb_copy), "--out", str(out)])
    assert result.exit_code == 0
    assert "Changed AWS Config" in report.read_text()
