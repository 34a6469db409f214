"""Every module-level regex of kb and generator runs in linear time on adversarial text.

The one timed test of the suite, because linearity is the property (issue 18: a 100 KB
run of spaces took 38 s to import). Each compiled pattern found in a module of `kb` or
`generator` (directly, or inside a module-level list, tuple or dict) scans about 1 MB of
each adversarial text: long runs of whitespace, of punctuation, and of each literal the
pattern itself contains (so `secret_key` for the credential rules, `eyJ` for JWTs). A
quadratic pattern takes minutes on such input; a linear one milliseconds. A scan fails
when it is over the bound (1 s) and grew faster than its text (so a loaded machine alone
does not fail it). Sizes grow 8 KB -> 1 MB and stop at the first failure, to fail fast.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import re._parser as sre_parse
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import generator
import kb
from kb.importer.decode import decode_document
from kb.recurring.features import split_fences
from kb.render.markdown import block, inline
from kb.secrets import find_secrets
from kb.totals import parse_totals

SIZES = (1 << 13, 1 << 16, 1 << 20)
BOUND = 1.0
"""Seconds each scan of 1 MB may take (linear scans take well under 0.1 s)."""

UNITS = (" ", "\t", " \n", "a", "0", "-", "|", "`", "*", "\\", "<", "(", "a ", "x-")


def _modules() -> Iterator[Any]:
    for package in (kb, generator):
        yield package
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            yield importlib.import_module(info.name)


def _patterns() -> dict[str, re.Pattern[str]]:
    found: dict[int, tuple[str, re.Pattern[str]]] = {}

    def visit(value: object, where: str, depth: int) -> None:
        if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
            found.setdefault(id(value), (where, value))
        elif depth < 3 and isinstance(value, list | tuple | set | frozenset):
            for n, item in enumerate(value):
                visit(item, f"{where}[{n}]", depth + 1)
        elif depth < 3 and isinstance(value, dict):
            for key, item in value.items():
                visit(item, f"{where}[{key!r}]", depth + 1)

    for module in _modules():
        for name, value in vars(module).items():
            visit(value, f"{module.__name__}.{name}", 0)
    return {where: pattern for where, pattern in found.values()}


PATTERNS = _patterns()


def _literals(pattern: re.Pattern[str]) -> list[str]:
    """The literal runs of a pattern (the first character of each class too), longest first."""
    runs: list[str] = []

    def walk(items: Any) -> None:
        run: list[str] = []
        for op, arg in items:
            if op is sre_parse.LITERAL:
                run.append(chr(arg))
                continue
            if run:
                runs.append("".join(run))
                run = []
            if op is sre_parse.SUBPATTERN:
                walk(arg[-1])
            elif op is sre_parse.BRANCH:
                for branch in arg[1]:
                    walk(branch)
            elif op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT):
                walk(arg[2])
            elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT, sre_parse.ATOMIC_GROUP):
                walk(arg[1] if op is not sre_parse.ATOMIC_GROUP else arg)
            elif op is sre_parse.IN:
                runs.extend(chr(a) for o, a in arg[:1] if o is sre_parse.LITERAL)
        if run:
            runs.append("".join(run))

    walk(sre_parse.parse(pattern.pattern, pattern.flags))
    return sorted({r for r in runs if r.strip()}, key=lambda r: (-len(r), r))[:4]


def _inputs(pattern: re.Pattern[str]) -> list[str]:
    literals = _literals(pattern)
    return [*UNITS, *literals, *(f"{lit} " for lit in literals)]


def _timed(run: Callable[[str], object], unit: str, size: int) -> float:
    text = (unit * (size // len(unit) + 1))[:size] + "!"
    start = time.perf_counter()
    run(text)
    return time.perf_counter() - start


def _nonlinear(run: Callable[[str], object], units: list[str]) -> str | None:
    """How ``run`` failed to be linear on one of ``units`` repeated, or None.

    Every unit is tried at 8 KB and 64 KB; the slowest of them, and any that grew faster
    than its text, at 1 MB. Stops at the first failure.
    """
    small, middle, large = SIZES
    trials = []
    for unit in units:
        before = _timed(run, unit, small)
        if before > BOUND:
            return f"{before:.1f} s on {small:,} x {unit!r}"
        spent = _retimed(run, unit, middle, before, middle // small)
        if _too_slow(spent, before, middle // small):
            return f"{spent:.1f} s on {middle:,} x {unit!r} ({before:.3f} s on {small:,})"
        trials.append((spent, spent / max(before, 1e-4), unit))
    slowest = max(trials)
    for before, growth, unit in trials:
        if (before, growth, unit) == slowest or growth > 12:
            spent = _retimed(run, unit, large, before, large // middle)
            if _too_slow(spent, before, large // middle):
                return f"{spent:.1f} s on {large:,} x {unit!r} ({before:.3f} s on {middle:,})"
    return None


def _retimed(run: Callable[[str], object], unit: str, size: int, before: float, ratio: int) -> float:
    """The scan's time, timed once more when it looks too slow (a busy machine's pause is not
    repeated; a quadratic scan is)."""
    spent = _timed(run, unit, size)
    return min(spent, _timed(run, unit, size)) if _too_slow(spent, before, ratio) else spent


def _too_slow(spent: float, before: float, ratio: int) -> bool:
    """Over the bound, and not merely a loaded machine: ``ratio`` times the text took over 2.5
    times ``ratio`` the time (linear: ``ratio``; quadratic: its square)."""
    return spent > BOUND and spent > 2.5 * ratio * max(before, 1e-4)


def _scan(pattern: re.Pattern[str]) -> Callable[[str], object]:
    return lambda text: sum(1 for _ in pattern.finditer(text))


def test_the_patterns_are_found() -> None:
    assert len(PATTERNS) > 100
    assert "kb.importer.blocks._TABLE_RULE" in PATTERNS and "kb.secrets._AWS_SECRET" in PATTERNS


@pytest.mark.parametrize("where", sorted(PATTERNS))
def test_module_level_regex_is_linear(where: str) -> None:
    pattern = PATTERNS[where]
    assert _nonlinear(_scan(pattern), _inputs(pattern)) is None, f"/{pattern.pattern}/"


SCANNERS: dict[str, tuple[Callable[[str], object], list[str]]] = {
    "decode_document": (lambda text: decode_document(text.encode()), [" ", "\t", " \r\n", "\x00 "]),
    "find_secrets": (
        find_secrets,
        [
            "secret_key",
            "secret_key ",
            "aws_secret",
            "password",
            "password=",
            "api_key",
            "bearer ",
            "AKIA",
            "sk-",
            "eyJ",
            "-----BEGIN PRIVATE KEY-----",
            "://a:",
            " ",
        ],
    ),
    "inline": (inline, [" ", "\\", "<", "\n", " \n", "`", "#", "- "]),
    "block": (block, [" ", "```\n", "<!--", "<!--\n", "<pre>\n", "\n", "~~~\n"]),
    "split_fences": (lambda text: split_fences(text), ["`", "```", "```\n"]),
    "parse_totals": (parse_totals, ["0", "0 ", "critical", "high: "]),
}


@pytest.mark.parametrize("name", sorted(SCANNERS))
def test_text_scanners_are_linear(name: str) -> None:
    run, units = SCANNERS[name]
    assert _nonlinear(run, units) is None
