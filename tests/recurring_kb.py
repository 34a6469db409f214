"""Builders for the recurring-failure tests: small knowledge bases written as YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kb.models import Case, Failure
from kb.store import failure_file_name, save_record

KMS_LOGS = {
    "id": "kms-key-policy-misses-logs-principal",
    "title": "KMS key policy misses the CloudWatch Logs principal",
    "impact": "critical",
    "root_cause": "The key policy only trusts the account root; the logs.amazonaws.com service cannot use the key, "
    "so creating the encrypted log group fails.",
    "error": "The specified KMS key does not exist or is not allowed to be used with LogGroup",
    "model_response": {
        "text": "The log group is encrypted with a key whose policy has no statement for CloudWatch Logs.",
        "code": 'const key = new kms.Key(this, "LogsKey");\nnew logs.LogGroup(this, "Logs", { encryptionKey: key });',
        "language": "typescript",
    },
    "ideal_response": {
        "text": "Grant the service principal in the key policy.",
        "code": 'key.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.ServicePrincipal("logs.amazonaws.com")] }));',
        "language": "typescript",
    },
    "docs": [{"title": "Encrypt log data with KMS", "url": "https://docs.aws.amazon.com/logs/encrypt.html"}],
}
KMS_LOGS_PARAPHRASE = {
    "id": "log-group-cannot-use-cmk",
    "title": "Log group cannot use the customer managed KMS key",
    "root_cause": "CloudWatch Logs was never granted kms:Encrypt and kms:GenerateDataKey in the key policy, "
    "so the service principal for logs is refused.",
}
BOILERPLATE_ONLY = {
    "id": "bucket-versioning-not-enabled",
    "title": "MODEL_RESPONSE critical failure: bucket versioning not enabled",
    "impact": "critical",
    "root_cause": "The MODEL_RESPONSE implementation is missing the required configuration; the IDEAL_RESPONSE "
    "fixes the issue. The model should follow best practices for the production deployment of the stack.",
    "description": "Critical issue in the model response: the S3 bucket has no versioning.",
}
TAGS = {
    "id": "missing-cost-allocation-tags",
    "title": "Missing cost allocation tags on resources",
    "root_cause": "No Project or CostCenter tags were applied, so spend cannot be attributed.",
}
UNUSED = {
    "id": "unused-imports-fail-lint",
    "title": "Unused imports fail the linter",
    "root_cause": "ESLint reports no-unused-vars for the imported Duration and RemovalPolicy.",
}


def write_case(root: Path, case_id: str, failures: list[dict[str, Any]], **case: Any) -> Path:
    """A case folder with these failures (plain data, validated as records), numbered 01, 02, ..."""
    folder = root / case_id
    folder.mkdir(parents=True, exist_ok=True)
    save_record(folder / "case.yaml", Case(id=case_id, title=case.pop("title", f"Case {case_id}"), **case))
    for number, data in enumerate(failures, 1):
        failure = Failure.model_validate(data)
        save_record(folder / failure_file_name(number, failure.id), failure)
    return folder


def with_id(data: dict[str, Any], failure_id: str, **changes: Any) -> dict[str, Any]:
    """A copy of a failure's data under another id, with some fields changed."""
    return {**data, "id": failure_id, **changes}


def small_kb(root: Path) -> Path:
    """Four cases: the KMS/Logs mistake three times in other words, and unrelated failures."""
    write_case(root, "alpha", [KMS_LOGS, TAGS], task={"platform": "cdk"})
    write_case(root, "bravo", [KMS_LOGS_PARAPHRASE, UNUSED], task={"platform": "pulumi"})
    write_case(
        root, "charlie", [BOILERPLATE_ONLY, with_id(UNUSED, "lint-unused-variables", title="Lint: unused variables")]
    )
    write_case(
        root,
        "delta",
        [
            with_id(
                KMS_LOGS,
                "logs-kms-permissions",
                title="CloudWatch Logs KMS key permissions missing",
                model_response=None,
                ideal_response=None,
                docs=[],
            ),
            with_id(TAGS, "resource-tagging", title="Resource tagging incomplete"),
        ],
        task={"platform": "tf"},
    )
    return root
