"""The compliance example under Pulumi's mocks: the fixed program passes every check, the model's
variant fails exactly the checks of the failures its records describe, and deliberate defects show
that the other checks can fail too.

Each build runs `mocked_checks.py` in a fresh interpreter (Pulumi's mocks are process-wide state),
all builds at once in a module fixture. No cloud account, no Pulumi CLI, no network.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

if importlib.util.find_spec("pulumi_aws") is None:  # checked, not imported: pulumi stays out of this process
    pytest.skip("the example needs pulumi and pulumi-aws (the `test` extra)", allow_module_level=True)

EXAMPLE = Path(__file__).resolve().parent.parent
HARNESS = Path(__file__).resolve().parent / "mocked_checks.py"
CHECKS = {"resources-complete", "config-recorder-referenced", "dlq-send-message", "stores-encrypted", "names-suffixed"}
MUTATIONS = {
    "table-unencrypted": ("stores-encrypted", "table compliance-findings-qa7060 is not encrypted with the stack's key"),
    "queue-aws-managed-key": ("stores-encrypted", "queue compliance-dlq-qa7060 is encrypted with 'alias/aws/sqs'"),
    "bucket-without-encryption": ("stores-encrypted", "bucket compliance-reports-qa7060 is not encrypted"),
    "topic-unsuffixed": ("names-suffixed", "Topic compliance-alerts-qa7060: name 'compliance-alerts'"),
    "dlq-permission-on-every-queue": ("dlq-send-message", "sqs:SendMessage is granted on ['*']"),
}
BUILDS = [("fixed",), ("program",), ("model",), *(("fixed", "--mutate", m) for m in MUTATIONS)]
SEED_UNUSED = {
    "kms_alias",
    "report_bucket_public_access_block",
    "lambda_basic_policy",
    "remediation_function",
    "scan_target",
    "scan_permission",
    "config_recorder_status",
    "dashboard",
}
"""The eight unused bindings of failure 03 (`const kmsAlias = ...`), in Python's spelling."""


def _run_build(args: tuple[str, ...]) -> dict[str, str | None]:
    proc = subprocess.run(
        [sys.executable, str(HARNESS), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=EXAMPLE,
        env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "1"},
    )
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stderr}"
    results: dict[str, str | None] = json.loads(proc.stdout)
    assert set(results) == CHECKS
    return results


@pytest.fixture(scope="module")
def builds() -> dict[tuple[str, ...], dict[str, str | None]]:
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip(BUILDS, pool.map(_run_build, BUILDS), strict=True))


def failing(results: dict[str, str | None]) -> dict[str, str]:
    return {name: message for name, message in results.items() if message is not None}


def test_fixed_stack_passes_every_check(builds: dict[tuple[str, ...], dict[str, str | None]]) -> None:
    assert failing(builds[("fixed",)]) == {}


def test_pulumi_program_builds_the_stack_from_its_config(builds: dict[tuple[str, ...], dict[str, str | None]]) -> None:
    # `__main__.py` under the stack `dev` with `environmentSuffix: qa7060`: the names check expects qa7060.
    assert failing(builds[("program",)]) == {}


def test_model_variant_fails_exactly_the_recorded_failures(
    builds: dict[tuple[str, ...], dict[str, str | None]],
) -> None:
    problems = failing(builds[("model",)])
    assert set(problems) == {"config-recorder-referenced", "dlq-send-message"}
    assert problems["config-recorder-referenced"] == (
        "creates account-level AWS Config resources: DeliveryChannel compliance-delivery-qa7060, "
        "Recorder compliance-recorder-qa7060, RecorderStatus compliance-recorder-status-qa7060"
    )
    assert problems["dlq-send-message"] == (
        "the Lambda role's policy grants no sqs:SendMessage on the dead-letter queue "
        "arn:aws:sqs:us-east-1:123456789012:compliance-dlq-qa7060"
    )


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_check_catches_its_defect(builds: dict[tuple[str, ...], dict[str, str | None]], mutation: str) -> None:
    check, message = MUTATIONS[mutation]
    problems = failing(builds[("fixed", "--mutate", mutation)])
    assert set(problems) == {check}
    assert message in problems[check]


def _unused_variables(path: Path) -> tuple[int, set[str]]:
    """Run ruff's F841 alone, ignoring any configuration and `noqa` (the variant marks its failures)."""
    command = ["check", "--isolated", "--ignore-noqa", "--no-cache", "--select", "F841", "--output-format", "json"]
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *command, str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.stdout, proc.stderr
    found = json.loads(proc.stdout)
    return proc.returncode, {item["message"].split("`")[1] for item in found}


def test_fixed_module_has_no_unused_variables() -> None:
    assert _unused_variables(EXAMPLE / "compliance.py") == (0, set())


def test_model_variant_has_the_eight_unused_variables_of_failure_03() -> None:
    returncode, names = _unused_variables(EXAMPLE / "model_variant.py")
    assert returncode == 1
    assert names == SEED_UNUSED
