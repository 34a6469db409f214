"""Build a variant of the compliance program under Pulumi's mocks and run the checks on it.

    python tests/mocked_checks.py {fixed,model,program} [--mutate NAME]

Prints one JSON object: each check's name mapped to `null` (passed) or the assertion's message.
`fixed` builds `compliance.ComplianceMonitoringStack`, `model` the MODEL_RESPONSE's variant
(`model_variant.py`), `program` runs `__main__.py` itself. `--mutate` changes one resource's inputs
on the way to the engine (a Pulumi stack transformation), to prove that a check can fail.

Pulumi's mocks are process-wide state: the tests run this script in a fresh interpreter per build,
so nothing leaks into other tests. No cloud account, no Pulumi CLI, no network.
"""

from __future__ import annotations

import argparse
import importlib
import json
import runpy
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import pulumi
import pulumi_aws as aws

EXAMPLE = Path(__file__).resolve().parent.parent
SUFFIX = "qa7060"
ACCOUNT = "123456789012"
REGION = "us-east-1"
ACCOUNT_LEVEL_CONFIG = {
    "aws:cfg/recorder:Recorder",
    "aws:cfg/deliveryChannel:DeliveryChannel",
    "aws:cfg/recorderStatus:RecorderStatus",
}
NAME_INPUTS = ("name", "namePrefix", "dashboardName")
"""Inputs that set a resource's physical name (plus `bucket` on a bucket)."""
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
TABLE = "aws:dynamodb/table:Table"
TOPIC = "aws:sns/topic:Topic"
QUEUE = "aws:sqs/queue:Queue"
FUNCTION = "aws:lambda/function:Function"


class Stack(Protocol):
    """What the checks read from a built stack: both variants expose these attributes."""

    urn: pulumi.Output[str]
    config_recorder_name: pulumi.Output[str]
    kms_key: aws.kms.Key
    dead_letter_queue: aws.sqs.Queue
    lambda_policy: aws.iam.RolePolicy
    scanner_function: aws.lambda_.Function


run_test = cast(Callable[[Callable[..., Any]], Callable[..., None]], pulumi.runtime.test)
"""`@pulumi.runtime.test`: runs a function returning an Output and waits for it and every registration."""


@dataclass(frozen=True)
class Registered:
    """One resource the program registered: its type token, logical name and resolved inputs."""

    type: str
    name: str
    inputs: dict[str, Any]


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers like AWS would (ids, ARNs, URLs) and records every registration."""

    def __init__(self) -> None:
        self.registered: list[Registered] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append(Registered(args.typ, args.name, dict(args.inputs)))
        service = args.typ.split(":")[1].split("/")[0]
        physical = args.inputs.get("name") or args.inputs.get("bucket") or args.name
        outputs = dict(args.inputs)
        outputs["arn"] = f"arn:aws:{service}:{REGION}:{ACCOUNT}:{physical}"
        if args.typ == BUCKET:
            outputs["arn"] = f"arn:aws:s3:::{physical}"
        if args.typ == QUEUE:
            outputs["url"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}"
        if args.typ == "aws:kms/key:Key":
            outputs["keyId"] = f"key-{args.name}"
        return f"{physical}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getRegion:getRegion":
            return {"id": REGION, "name": REGION, "region": REGION}, []
        raise AssertionError(f"the program called {args.token}; teach the mocks what it returns")

    def of_type(self, *types: str) -> list[Registered]:
        return [r for r in self.registered if r.type in types]


def _send_to_any_queue(policy_text: str) -> str:
    policy = json.loads(policy_text)
    for statement in policy["Statement"]:
        if "sqs:SendMessage" in statement["Action"]:
            statement["Resource"] = "*"
    return json.dumps(policy)


MUTATIONS: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
    "table-unencrypted": (TABLE, lambda props: props.pop("server_side_encryption")),
    "queue-aws-managed-key": (QUEUE, lambda props: props.update(kms_master_key_id="alias/aws/sqs")),
    "bucket-without-encryption": (BUCKET_ENCRYPTION, lambda props: props.update(bucket="some-other-bucket")),
    "topic-unsuffixed": (TOPIC, lambda props: props.update(name="compliance-alerts")),
    "dlq-permission-on-every-queue": (
        "aws:iam/rolePolicy:RolePolicy",
        lambda props: props.update(policy=pulumi.Output.from_input(props["policy"]).apply(_send_to_any_queue)),
    ),
}
"""Deliberate defects, each meant to be caught by one check."""


def mutate(name: str) -> None:
    """Register a stack transformation that applies one mutation from `MUTATIONS`."""
    target, change = MUTATIONS[name]

    def transformation(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if args.type_ != target:
            return None
        props = dict(args.props)
        change(props)
        return pulumi.ResourceTransformationResult(props, args.opts)

    pulumi.runtime.register_stack_transformation(transformation)


# -- the checks: each runs under @pulumi.runtime.test, asserting inside `apply` ---------------


def check_config_recorder_referenced(mocks: RecordingMocks, stack: Stack) -> pulumi.Output[None]:
    """No account-level AWS Config resource is created; the scanner reads the existing recorder."""

    def verify(args: list[Any]) -> None:
        recorder_name, variables = args
        created = sorted(f"{r.type.rsplit(':', 1)[1]} {r.name}" for r in mocks.of_type(*ACCOUNT_LEVEL_CONFIG))
        assert not created, f"creates account-level AWS Config resources: {', '.join(created)}"
        assert recorder_name == "config-recorder-pr7060", f"references recorder {recorder_name!r}"
        assert variables["CONFIG_RECORDER_NAME"] == recorder_name, "the scanner is not told the recorder's name"

    return pulumi.Output.all(stack.config_recorder_name, stack.scanner_function.environment["variables"]).apply(verify)


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def _resources(statement: dict[str, Any]) -> list[str]:
    resource = statement.get("Resource", [])
    return [resource] if isinstance(resource, str) else list(resource)


def check_dlq_send_message(mocks: RecordingMocks, stack: Stack) -> pulumi.Output[None]:
    """Every function's DLQ is the stack's queue, and the role may send to exactly that queue."""

    def verify(args: list[Any]) -> None:
        policy_text, dlq_arn = args
        functions = mocks.of_type(FUNCTION)
        assert functions, "no Lambda function registered"
        for function in functions:
            target = function.inputs.get("deadLetterConfig", {}).get("targetArn")
            assert target == dlq_arn, f"function {function.name} sends failed events to {target!r}, not the DLQ"
        statements = json.loads(policy_text)["Statement"]
        send = [s for s in statements if s.get("Effect") == "Allow" and "sqs:SendMessage" in _actions(s)]
        assert send, f"the Lambda role's policy grants no sqs:SendMessage on the dead-letter queue {dlq_arn}"
        granted = sorted({resource for s in send for resource in _resources(s)})
        assert granted == [dlq_arn], f"sqs:SendMessage is granted on {granted}, not exactly [{dlq_arn!r}]"

    return pulumi.Output.all(stack.lambda_policy.policy, stack.dead_letter_queue.arn).apply(verify)


def _store_problems(mocks: RecordingMocks, key_arn: str) -> list[str]:
    problems: list[str] = []
    encrypted_buckets = {}
    for config in mocks.of_type(BUCKET_ENCRYPTION):
        for rule in config.inputs.get("rules", []):
            default = rule.get("applyServerSideEncryptionByDefault", {})
            if default.get("sseAlgorithm") == "aws:kms" and default.get("kmsMasterKeyId") == key_arn:
                encrypted_buckets[config.inputs.get("bucket")] = config.name
    for bucket in mocks.of_type(BUCKET):
        if f"{bucket.inputs.get('bucket')}-id" not in encrypted_buckets:
            problems.append(f"bucket {bucket.name} is not encrypted with the stack's key")
    for table in mocks.of_type(TABLE):
        sse = table.inputs.get("serverSideEncryption") or {}
        if not (sse.get("enabled") and sse.get("kmsKeyArn") == key_arn):
            problems.append(f"table {table.name} is not encrypted with the stack's key")
    for store in mocks.of_type(TOPIC, QUEUE):
        if store.inputs.get("kmsMasterKeyId") != key_arn:
            kind = "topic" if store.type == TOPIC else "queue"
            problems.append(f"{kind} {store.name} is encrypted with {store.inputs.get('kmsMasterKeyId')!r}")
    return problems


def check_stores_encrypted(mocks: RecordingMocks, stack: Stack) -> pulumi.Output[None]:
    """Every bucket, table, topic and queue is encrypted with the stack's own KMS key."""

    def verify(key_arn: str) -> None:
        stores = mocks.of_type(BUCKET, TABLE, TOPIC, QUEUE)
        assert len({s.type for s in stores}) == 4, "expected a bucket, a table, a topic and a queue"
        problems = _store_problems(mocks, key_arn)
        assert not problems, "; ".join(problems)

    return stack.kms_key.arn.apply(verify)


def check_names_suffixed(mocks: RecordingMocks, stack: Stack) -> pulumi.Output[None]:
    """Every AWS resource's logical name and physical name carries the environment suffix."""

    def verify(suffix: str) -> None:
        problems = []
        for resource in mocks.registered:
            if not resource.type.startswith("aws:"):
                continue  # the component itself: a Pulumi grouping, no AWS name
            names = {"logical name": resource.name}
            names.update({key: resource.inputs[key] for key in NAME_INPUTS if key in resource.inputs})
            if resource.type == BUCKET and "bucket" in resource.inputs:
                names["bucket"] = resource.inputs["bucket"]
            for what, value in names.items():
                if not isinstance(value, str) or suffix not in value:
                    problems.append(f"{resource.type.rsplit(':', 1)[1]} {resource.name}: {what} {value!r}")
        assert not problems, f"names without the suffix {suffix!r}: " + "; ".join(problems)

    return stack.urn.apply(lambda _: verify(SUFFIX))


EXPECTED_RESOURCES = {
    "aws:kms/key:Key": 1,
    "aws:kms/alias:Alias": 1,
    BUCKET_ENCRYPTION: 1,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
    TABLE: 1,
    TOPIC: 1,
    QUEUE: 1,
    "aws:iam/role:Role": 1,
    "aws:iam/rolePolicy:RolePolicy": 1,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 1,
    FUNCTION: 2,
    "aws:cloudwatch/eventRule:EventRule": 1,
    "aws:cloudwatch/eventTarget:EventTarget": 1,
    "aws:lambda/permission:Permission": 1,
    "aws:cloudwatch/dashboard:Dashboard": 1,
}
"""The least each variant must create (the issue's list); a variant may create more."""


def check_resources_complete(mocks: RecordingMocks, stack: Stack) -> pulumi.Output[None]:
    """The stack creates every resource the issue lists (and every registration has finished)."""

    def verify(_: Any) -> None:
        counts = Counter(r.type for r in mocks.registered)
        missing = sorted(
            f"{t.rsplit(':', 1)[1]} x{n - counts[t]}" for t, n in EXPECTED_RESOURCES.items() if counts[t] < n
        )
        assert not missing, f"missing resources: {', '.join(missing)}"

    return stack.urn.apply(verify)


CHECKS: dict[str, Callable[[RecordingMocks, Stack], pulumi.Output[None]]] = {
    "resources-complete": check_resources_complete,
    "config-recorder-referenced": check_config_recorder_referenced,
    "dlq-send-message": check_dlq_send_message,
    "stores-encrypted": check_stores_encrypted,
    "names-suffixed": check_names_suffixed,
}


def build(variant: str) -> Stack:
    """Import the variant's module (after `set_mocks`) and build its stack."""
    sys.path.insert(0, str(EXAMPLE))
    if variant == "program":
        return cast(Stack, runpy.run_path(str(EXAMPLE / "__main__.py"), run_name="__main__")["stack"])
    compliance = importlib.import_module("compliance")
    module = importlib.import_module("model_variant" if variant == "model" else "compliance")
    args = compliance.ComplianceArgs(environment_suffix=SUFFIX)
    return cast(Stack, module.ComplianceMonitoringStack("compliance", args))


def run(variant: str, mutation: str | None = None) -> dict[str, str | None]:
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="compliance", stack="dev", preview=False)
    pulumi.runtime.set_all_config({"compliance:environmentSuffix": SUFFIX})
    if mutation:
        mutate(mutation)
    stack = build(variant)

    @run_test
    def settle() -> pulumi.Output[Any]:
        # Returning makes the runtime wait for every outstanding registration before the checks.
        return stack.urn

    settle()
    results: dict[str, str | None] = {}
    for name, check in CHECKS.items():
        try:
            run_test(check)(mocks, stack)
        except AssertionError as exc:
            results[name] = str(exc)
        else:
            results[name] = None
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=["fixed", "model", "program"])
    parser.add_argument("--mutate", choices=sorted(MUTATIONS))
    args = parser.parse_args(argv)
    print(json.dumps(run(args.variant, args.mutate), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
