"""A task folder's `metadata.json` and `PROMPT.md` -> a `Task` (normalised, raw values kept)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.importer.decode import decode_document
from kb.models import Task

PLATFORMS = {
    "cloudformation": "cfn",
    "cfn": "cfn",
    "aws cloudformation": "cfn",
    "cdk": "cdk",
    "aws cdk": "cdk",
    "cdktf": "cdktf",
    "cdk for terraform": "cdktf",
    "terraform": "tf",
    "tf": "tf",
    "pulumi": "pulumi",
    "analysis": "analysis",
    "cicd": "cicd",
    "ci/cd": "cicd",
    "ci-cd": "cicd",
}
LANGUAGES = {
    "typescript": "ts",
    "ts": "ts",
    "python": "py",
    "py": "py",
    "javascript": "js",
    "js": "js",
    "golang": "go",
    "go": "go",
    "java": "java",
    "yml": "yaml",
    "yaml": "yaml",
    "json": "json",
    "hcl": "hcl",
    "terraform": "hcl",
    "csharp": "cs",
    "c#": "cs",
    "cs": "cs",
}
_SERVICES = {
    "s3": "S3",
    "iam": "IAM",
    "vpc": "VPC",
    "ec2": "EC2",
    "lambda": "Lambda",
    "kms": "KMS",
    "rds": "RDS",
    "sns": "SNS",
    "sqs": "SQS",
    "ecs": "ECS",
    "eks": "EKS",
    "ecr": "ECR",
    "ebs": "EBS",
    "efs": "EFS",
    "waf": "WAF",
    "wafv2": "WAF",
    "waf v2": "WAF",
    "acm": "ACM",
    "ses": "SES",
    "elb": "ELB",
    "alb": "ALB",
    "ssm": "Systems Manager",
    "systems manager": "Systems Manager",
    "cloudwatch": "CloudWatch",
    "cloudwatch logs": "CloudWatch Logs",
    "cloudwatchlogs": "CloudWatch Logs",
    "logs": "CloudWatch Logs",
    "cloudtrail": "CloudTrail",
    "cloudfront": "CloudFront",
    "cloudformation": "CloudFormation",
    "dynamodb": "DynamoDB",
    "eventbridge": "EventBridge",
    "events": "EventBridge",
    "api gateway": "API Gateway",
    "apigateway": "API Gateway",
    "secrets manager": "Secrets Manager",
    "secretsmanager": "Secrets Manager",
    "route53": "Route 53",
    "route 53": "Route 53",
    "x-ray": "X-Ray",
    "xray": "X-Ray",
    "autoscaling": "Auto Scaling",
    "auto scaling": "Auto Scaling",
    "elasticache": "ElastiCache",
    "step functions": "Step Functions",
    "stepfunctions": "Step Functions",
    "sfn": "Step Functions",
    "kinesis": "Kinesis",
    "config": "AWS Config",
    "aws config": "AWS Config",
    "guardduty": "GuardDuty",
    "security hub": "Security Hub",
    "securityhub": "Security Hub",
    "codebuild": "CodeBuild",
    "codepipeline": "CodePipeline",
    "codecommit": "CodeCommit",
    "codedeploy": "CodeDeploy",
    "elasticloadbalancingv2": "ELB",
    "elbv2": "ELB",
    "elastic load balancing": "ELB",
    "application load balancer": "ALB",
}
_PREFIX = re.compile(r"^(aws|amazon)\s+", re.IGNORECASE)
_CFN_TYPE = re.compile(r"^AWS::(\w+)::\w+$")


@dataclass
class TaskInfo:
    """The task of a case, and any warnings about reading it."""

    task: Task | None
    warnings: list[tuple[str, str]] = field(default_factory=list)


def read_task(folder: Path | None, document: Path) -> TaskInfo:
    """Read `metadata.json` and `PROMPT.md` from the task folder (or beside a `lib/` document)."""
    warnings: list[tuple[str, str]] = []
    if folder is None:
        return TaskInfo(None)
    raw: dict[str, Any] | None = None
    meta_path = folder / "metadata.json"
    if meta_path.is_file():
        raw = _read_json(meta_path, warnings)
    prompt = None
    for candidate in (folder / "PROMPT.md", document.parent / "PROMPT.md", folder / "lib" / "PROMPT.md"):
        if candidate.is_file():
            decoded = decode_document(candidate.read_bytes())
            warnings.extend((kind, f"{candidate.name}: {message}") for kind, message in decoded.warnings)
            prompt = decoded.text
            break
    if raw is None and prompt is None:
        return TaskInfo(None, warnings)
    return TaskInfo(normalise_task(raw or {}, prompt), warnings)


def _read_json(path: Path, warnings: list[tuple[str, str]]) -> dict[str, Any] | None:
    text = decode_document(path.read_bytes()).text
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        repaired = re.sub(r",(\s*[}\]])", r"\1", text)
        try:
            data = json.loads(repaired)
            warnings.append(
                (
                    "metadata",
                    f"metadata.json: invalid JSON ({exc.msg}, line {exc.lineno}); read after removing trailing commas",
                )
            )
        except json.JSONDecodeError:
            warnings.append(("metadata", f"metadata.json: invalid JSON ({exc.msg}, line {exc.lineno}); ignored"))
            return None
    if not isinstance(data, dict):
        warnings.append(("metadata", "metadata.json: not a JSON object; ignored"))
        return None
    return data


def normalise_task(raw: dict[str, Any], prompt: str | None) -> Task:
    """A `Task` from raw metadata: platform, language and services normalised; raw kept."""
    return Task(
        platform=_lookup(raw.get("platform"), PLATFORMS),
        language=_lookup(raw.get("language"), LANGUAGES),
        complexity=_text(raw.get("complexity")),
        subtask=_text(raw.get("subtask")),
        aws_services=normalise_services(raw.get("aws_services")),
        subject_labels=_strings(raw.get("subject_labels")),
        prompt=prompt,
        metadata=raw,
    )


def _lookup(value: Any, table: dict[str, str]) -> str | None:
    text = _text(value)
    if text is None:
        return None
    return table.get(text.lower(), text.lower())


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(part).strip() for part in value if str(part).strip()]
    return []


def normalise_services(value: Any) -> list[str]:
    """Service names spelled one way (`s3`, `Amazon S3`, `AWS::S3::Bucket` -> `S3`), deduplicated."""
    out: list[str] = []
    for name in _strings(value):
        cfn = _CFN_TYPE.match(name)
        if cfn:
            name = cfn[1]
        key = name.lower()
        canonical = _SERVICES.get(key) or _SERVICES.get(_PREFIX.sub("", key))
        if canonical is None:
            canonical = _PREFIX.sub("", name) if _PREFIX.sub("", name) else name
        if canonical not in out:
            out.append(canonical)
    return out
