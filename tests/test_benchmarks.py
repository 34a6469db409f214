"""The benchmark scripts run as `python benchmarks/<name>.py`, which puts their folder first on
the import path: a script named like a standard-library module would shadow it for every
library the others import (a `secrets.py` there broke numpy.random, hence every benchmark)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


def test_no_benchmark_script_shadows_a_standard_library_module() -> None:
    names = {path.stem for path in BENCHMARKS.glob("*.py")}
    assert names, "benchmarks/ holds the benchmark scripts"
    assert sorted(names & sys.stdlib_module_names) == []
