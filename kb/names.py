"""Normalised names: one spelling per AWS service, platform, language and knowledge gap.

Records are written by many people (and imported from thousands of documents), so the
same thing comes spelled many ways; counting and browsing group by these names.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

NONE = "none"
"""The name of a missing value (no platform, no service, ...)."""

_SERVICE_ALIASES = """
ACM: acm certificatemanager
API Gateway: apigateway apigatewayv2
Application Auto Scaling: applicationautoscaling
AppSync: appsync
Athena: athena
Auto Scaling: autoscaling asg
Backup: backup
Batch: batch
Budgets: budgets
Cloud Map: cloudmap servicediscovery
CloudFormation: cloudformation
CloudFront: cloudfront
CloudTrail: cloudtrail
CloudWatch: cloudwatch
CloudWatch Logs: cloudwatchlog cloudwatchlogs logs
CodeBuild: codebuild
CodeCommit: codecommit
CodeDeploy: codedeploy
CodePipeline: codepipeline
Cognito: cognito
Config: config
DynamoDB: dynamodb
EBS: ebs
EC2: ec2 eip elasticip launchtemplate
ECR: ecr
ECS: ecs fargate
EFS: efs
EKS: eks
ElastiCache: elasticache redis
ELB: elb elbv2 lb alb nlb applicationloadbalancer networkloadbalancer elasticloadbalancing elasticloadbalancingv2
EventBridge: cloudwatchevents cloudwatchevent events eventbridge
Glue: glue
GuardDuty: guardduty
IAM: iam
Kinesis: kinesis
KMS: kms
Lambda: lambda
Neptune: neptune
OpenSearch: opensearch
RDS: aurora rds
Route 53: route53
S3: s3
Secrets Manager: secretsmanager
Security Hub: securityhub
SES: ses
Shield: shield
SNS: sns
SQS: sqs
Step Functions: stepfunctions sfn
Systems Manager: ssm systemsmanager parameterstore
VPC: vpc subnet subnets securitygroup securitygroups internetgateway natgateway routetable routetables networkacl networkacls
WAF: waf wafv2
X-Ray: xray
"""
"""`Canonical name: spellings` (lowercase letters and digits only), one service a line."""
_SERVICES = {
    alias: canonical.strip()
    for canonical, aliases in (line.split(":") for line in _SERVICE_ALIASES.strip().splitlines())
    for alias in aliases.split()
}
SERVICE_NAMES = tuple(dict.fromkeys(_SERVICES.values()))
"""The canonical service names, in the table's order."""
_SERVICE_PREFIX = re.compile(r"^(?:aws|amazon)(?:\s+|::)", re.IGNORECASE)
_PARENTHESISED = re.compile(r"(?<!\s)\s*+\([^()]*+\)")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


@functools.lru_cache(maxsize=8192)
def normalise_service(name: str) -> str:
    """One spelling per AWS service: "AWS Lambda", "lambda", "Lambda" -> "Lambda".

    Drops an ``AWS``/``Amazon`` prefix, a parenthesised aside and a CloudFormation
    resource type (``AWS::S3::Bucket`` -> ``S3``); a known service followed by more
    words maps to the service (``SNS Topic``, ``S3Bucket`` -> ``SNS``, ``S3``). Unknown
    names are kept as written (spacing trimmed, first letter capitalised).
    """
    text = _SERVICE_PREFIX.sub("", " ".join(name.split()))
    if "::" in text:
        text = text.split("::", 1)[0]
    text = _PARENTHESISED.sub("", text).strip() or text.strip()
    key = _NOT_ALNUM.sub("", text.lower())
    if key in _SERVICES:
        return _SERVICES[key]
    words = [w.lower() for w in _WORDS.findall(text)]
    for length in range(len(words) - 1, 0, -1):
        prefix = "".join(words[:length])
        if prefix in _SERVICES:
            return _SERVICES[prefix]
    return text[:1].upper() + text[1:] if text else NONE


_PLATFORM_ALIASES = """
cdk: aws_cdk
cdktf: cdk-tf cdk_for_terraform
cfn: cloudformation aws_cloudformation
cicd: ci/cd ci-cd
tf: terraform
"""
_LANGUAGE_ALIASES = """
cs: csharp c#
go: golang
hcl: terraform tf
js: javascript
py: python
ts: typescript
yaml: yml
"""
"""`short: spellings` (lowercase, `_` for a space), one name a line; other names are kept lowercased."""


def _table(aliases: str) -> dict[str, str]:
    return {
        alias.replace("_", " "): short
        for short, spellings in (line.split(": ") for line in aliases.strip().splitlines())
        for alias in spellings.split()
    }


_PLATFORMS = _table(_PLATFORM_ALIASES)
_LANGUAGES = _table(_LANGUAGE_ALIASES)


def _short(name: str, table: dict[str, str]) -> str:
    key = " ".join(name.split()).lower()
    return table.get(key, key)


def service_of_word(word: str) -> str | None:
    """The service a single word spells (`lambda`, `DynamoDB`, `elbv2`), or None."""
    return _SERVICES.get(_NOT_ALNUM.sub("", word.lower()))


@functools.lru_cache(maxsize=8192)
def normalise_platform(name: str | None) -> str:
    """The platform's short spelling ("AWS CDK" -> `cdk`, "CloudFormation" -> `cfn`); `none` when missing."""
    return _short(name or "", _PLATFORMS) or NONE


@functools.lru_cache(maxsize=8192)
def normalise_language(name: str | None) -> str:
    """The language's short spelling ("golang" -> `go`, "TypeScript" -> `ts`); `none` when missing."""
    return _short(name or "", _LANGUAGES) or NONE


def platform_name(name: str | None) -> str | None:
    """Like ``normalise_platform``, but None when missing: the value a record stores."""
    return normalise_platform(name) if name and name.strip() else None


def language_name(name: str | None) -> str | None:
    """Like ``normalise_language``, but None when missing: the value a record stores."""
    return normalise_language(name) if name and name.strip() else None


def normalise_services(names: Iterable[str]) -> list[str]:
    """Service names spelled one way (see ``normalise_service``), blanks dropped, first occurrence kept."""
    return list(dict.fromkeys(normalise_service(name) for name in names if name.strip()))


_MARKUP = re.compile(r"\*\*?|`+")


@functools.lru_cache(maxsize=8192)
def gap_text(text: str) -> str:
    """A knowledge gap as shown: emphasis and code marks, extra spacing and end punctuation removed."""
    return _MARKUP.sub("", " ".join(text.split())).strip(" .;:")


def gap_key(text: str) -> str:
    """The grouping key of a knowledge gap: like ``gap_text``, and case ignored."""
    return gap_text(text).casefold()
