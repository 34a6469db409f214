"""The importer on a real corpus (`KB_CORPUS`, set by `.ci/run`): the issue's acceptance figures."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = os.environ.get("KB_CORPUS")
pytestmark = pytest.mark.skipif(not CORPUS or not Path(CORPUS).is_dir(), reason="KB_CORPUS is not set")


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from import_corpus import measure

    assert CORPUS is not None
    keep = tmp_path_factory.mktemp("corpus-import") / "kb"
    result: dict[str, object] = measure(Path(CORPUS), None, keep)
    shutil.rmtree(keep, ignore_errors=True)
    return result


def test_every_document_becomes_a_checked_case(figures: dict[str, object]) -> None:
    assert figures["crashes"] == 0
    assert figures["cases"] == figures["documents"]
    assert figures["check_errors"] == 0
    assert figures["check_errors_with_taxonomy"] == 0


def test_words_kept(figures: dict[str, object]) -> None:
    assert float(figures["words_kept_median"]) >= 0.99  # type: ignore[arg-type]
    assert float(figures["words_kept_min"]) >= 0.95  # type: ignore[arg-type]


def test_seed_format_failures_match_numbered_headings(figures: dict[str, object]) -> None:
    if not figures["seed_format_documents"]:
        pytest.skip("no seed-format documents in this corpus")
    assert float(figures["seed_failures_match_share"]) >= 0.9  # type: ignore[arg-type]
