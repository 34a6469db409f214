"""Compliance monitoring for one environment: the IDEAL_RESPONSE of kb case `pr7060`, in Python.

The seed's program was TypeScript; this is its Pulumi Python equivalent, with the three fixes the
knowledge base records (`failures/pr7060/`) applied where their `ideal_response.reference` points:

- 01 `ComplianceMonitoringStack.reference_config_recorder`: AWS Config allows one recorder and one
  delivery channel per account and region, so the stack references the existing recorder by name and
  creates no `aws.cfg.Recorder`, `DeliveryChannel` or `RecorderStatus`.
- 02 `lambda_policy_document`: the functions' dead-letter queue needs `sqs:SendMessage` on exactly that
  queue, and the queue's ARN is an input of the policy.
- 03 `ComplianceMonitoringStack`: resources created only for their side effects are not bound to
  names, so `ruff check --select F841` passes.

Every name carries the environment suffix and every store is encrypted with the stack's KMS key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

EXISTING_CONFIG_RECORDER = "config-recorder-pr7060"
"""The account's AWS Config recorder (one per account and region, set up outside this stack)."""
FUNCTIONS_DIR = Path(__file__).resolve().parent / "functions"
LAMBDA_RUNTIME = "python3.12"
BASIC_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
COMPONENT_TYPE = "kb:examples:ComplianceMonitoringStack"
_SUFFIX = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")


@dataclass(frozen=True)
class ComplianceArgs:
    """What differs between environments."""

    environment_suffix: str
    """Appended to every name (`dev`, `pr7060`): lowercase, as S3 bucket names require."""
    config_recorder_name: str = EXISTING_CONFIG_RECORDER
    """The existing AWS Config recorder the scanner reads."""
    scan_schedule: str = "rate(1 hour)"
    """The EventBridge schedule expression of the scan."""

    def __post_init__(self) -> None:
        if not _SUFFIX.match(self.environment_suffix):
            raise ValueError(
                f"environment suffix {self.environment_suffix!r}: use 1-20 lowercase letters, digits or hyphens"
            )


def lambda_assume_role_policy() -> str:
    """The trust policy letting the Lambda service assume the functions' role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def lambda_policy_document(table_arn: str, bucket_arn: str, topic_arn: str, key_arn: str, dlq_arn: str) -> str:
    """The functions' inline policy, least privilege, including the dead-letter queue.

    Lambda delivers a failed asynchronous event to the function's dead-letter queue with the
    function's own role, and checks that permission when the function is created: without
    `sqs:SendMessage` on the queue, creation fails with `InvalidParameterValueException: The provided
    execution role does not have permissions to call SendMessage on SQS`. So the queue's ARN is an
    input of this policy, and the statement grants exactly that queue.
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ComplianceFindings",
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
            "Resource": table_arn,
        },
        {
            "Sid": "Reports",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject"],
            "Resource": f"{bucket_arn}/*",
        },
        {"Sid": "Alerts", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": topic_arn},
        {
            "Sid": "StackKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": key_arn,
        },
        {
            # Config's read actions support no resource-level permissions.
            "Sid": "ConfigCompliance",
            "Effect": "Allow",
            "Action": ["config:DescribeComplianceByResource", "config:DescribeConfigurationRecorderStatus"],
            "Resource": "*",
        },
        {
            "Sid": "RemediateBucketEncryption",
            "Effect": "Allow",
            "Action": ["s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration"],
            "Resource": "arn:aws:s3:::*",
        },
        {"Sid": "DeadLetterQueue", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": dlq_arn},
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


def dashboard_body(region: str, function_names: list[str], queue_name: str) -> str:
    """The CloudWatch dashboard: invocations and errors per function, messages waiting in the DLQ."""

    def metric_widget(title: str, metrics: list[list[str]], x: int) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": 0,
            "width": 8,
            "height": 6,
            "properties": {"title": title, "region": region, "stat": "Sum", "period": 300, "metrics": metrics},
        }

    invocations = [["AWS/Lambda", "Invocations", "FunctionName", name] for name in function_names]
    errors = [["AWS/Lambda", "Errors", "FunctionName", name] for name in function_names]
    dead_letters = [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue_name]]
    widgets = [
        metric_widget("Invocations", invocations, 0),
        metric_widget("Errors", errors, 8),
        metric_widget("Dead letters", dead_letters, 16),
    ]
    return json.dumps({"widgets": widgets})


class ComplianceMonitoringStack(pulumi.ComponentResource):
    """The compliance monitoring stack: scan AWS Config results on a schedule, store, report, alert.

    Resources wanted only for their side effects (the KMS alias, the public access block, the
    basic-execution attachment, the remediation function, the schedule's target and invoke
    permission, the dashboard) are created without binding a name: an unused variable is a lint
    error (ruff F841, ESLint no-unused-vars), and the binding tells a reader the value is used.
    """

    def __init__(self, name: str, args: ComplianceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self.suffix = args.environment_suffix
        self.config_recorder_name = self.reference_config_recorder(args.config_recorder_name)
        self._create_encryption()
        self._create_storage()
        self._create_messaging()
        self._create_lambda_role()
        self._create_functions()
        self._create_schedule(args.scan_schedule)
        self._create_dashboard()
        self.register_outputs(
            {
                "configRecorderName": self.config_recorder_name,
                "kmsKeyArn": self.kms_key.arn,
                "reportBucketName": self.report_bucket.bucket,
                "complianceTableName": self.compliance_table.name,
                "alertTopicArn": self.alert_topic.arn,
                "deadLetterQueueUrl": self.dead_letter_queue.url,
                "scannerFunctionName": self.scanner_function.name,
            }
        )

    def _named(self, base: str) -> str:
        return f"compliance-{base}-{self.suffix}"

    def _child_opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def reference_config_recorder(self, recorder_name: str) -> pulumi.Output[str]:
        """The account's existing AWS Config recorder, referenced by name: never created here.

        AWS Config allows ONE configuration recorder and ONE delivery channel per account and
        region; creating another fails with `MaxNumberOfConfigurationRecordersExceededException`
        and `MaxNumberOfDeliveryChannelsExceededException`. They are account-level resources, set
        up once outside any application stack (and in shared test accounts they already exist), so
        this stack manages no `aws.cfg.Recorder`, `DeliveryChannel` or `RecorderStatus`: the
        scanner reads the named recorder's status and results, and the name is exported.
        """
        return pulumi.Output.from_input(recorder_name)

    def _create_encryption(self) -> None:
        self.kms_key = aws.kms.Key(
            self._named("key"),
            description=f"Compliance monitoring data ({self.suffix})",
            enable_key_rotation=True,
            deletion_window_in_days=7,
            opts=self._child_opts(),
        )
        aws.kms.Alias(
            self._named("key-alias"),
            name=f"alias/{self._named('key')}",
            target_key_id=self.kms_key.key_id,
            opts=self._child_opts(),
        )

    def _create_storage(self) -> None:
        self.report_bucket = aws.s3.Bucket(
            self._named("reports"),
            bucket=self._named("reports"),
            force_destroy=True,
            opts=self._child_opts(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            self._named("reports-encryption"),
            bucket=self.report_bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": self.kms_key.arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=self._child_opts(),
        )
        aws.s3.BucketPublicAccessBlock(
            self._named("reports-public-access"),
            bucket=self.report_bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._child_opts(),
        )
        self.compliance_table = aws.dynamodb.Table(
            self._named("findings"),
            name=self._named("findings"),
            billing_mode="PAY_PER_REQUEST",
            hash_key="resourceId",
            range_key="scanTime",
            attributes=[{"name": "resourceId", "type": "S"}, {"name": "scanTime", "type": "S"}],
            server_side_encryption={"enabled": True, "kms_key_arn": self.kms_key.arn},
            point_in_time_recovery={"enabled": True},
            opts=self._child_opts(),
        )

    def _create_messaging(self) -> None:
        self.alert_topic = aws.sns.Topic(
            self._named("alerts"),
            name=self._named("alerts"),
            kms_master_key_id=self.kms_key.arn,
            opts=self._child_opts(),
        )
        self.dead_letter_queue = aws.sqs.Queue(
            self._named("dlq"),
            name=self._named("dlq"),
            kms_master_key_id=self.kms_key.arn,
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=14 * 24 * 3600,
            opts=self._child_opts(),
        )

    def _create_lambda_role(self) -> None:
        self.lambda_role = aws.iam.Role(
            self._named("lambda-role"),
            name=self._named("lambda-role"),
            assume_role_policy=lambda_assume_role_policy(),
            opts=self._child_opts(),
        )
        aws.iam.RolePolicyAttachment(
            self._named("lambda-basic-execution"),
            role=self.lambda_role.name,
            policy_arn=BASIC_EXECUTION_POLICY,
            opts=self._child_opts(),
        )
        self.lambda_policy = aws.iam.RolePolicy(
            self._named("lambda-policy"),
            name=self._named("lambda-policy"),
            role=self.lambda_role.id,
            policy=pulumi.Output.all(
                self.compliance_table.arn,
                self.report_bucket.arn,
                self.alert_topic.arn,
                self.kms_key.arn,
                self.dead_letter_queue.arn,
            ).apply(lambda arns: lambda_policy_document(*arns)),
            opts=self._child_opts(),
        )

    def _function(self, base: str, description: str, variables: dict[str, Any]) -> aws.lambda_.Function:
        """A Python function with the dead-letter queue, created after the policy that allows it."""
        return aws.lambda_.Function(
            self._named(base),
            name=self._named(base),
            description=description,
            runtime=LAMBDA_RUNTIME,
            handler="index.handler",
            code=pulumi.FileArchive(str(FUNCTIONS_DIR / base)),
            role=self.lambda_role.arn,
            timeout=300,
            memory_size=256,
            kms_key_arn=self.kms_key.arn,
            environment={"variables": variables},
            dead_letter_config={"target_arn": self.dead_letter_queue.arn},
            opts=self._child_opts(depends_on=[self.lambda_policy]),
        )

    def _create_functions(self) -> None:
        self.scanner_function = self._function(
            "scanner",
            "Records AWS Config compliance findings, writes a report, alerts on violations",
            {
                "CONFIG_RECORDER_NAME": self.config_recorder_name,
                "TABLE_NAME": self.compliance_table.name,
                "REPORT_BUCKET": self.report_bucket.bucket,
                "ALERT_TOPIC_ARN": self.alert_topic.arn,
            },
        )
        self._function(
            "remediation",
            "Turns on default KMS encryption for the S3 buckets named in the event",
            {"KMS_KEY_ARN": self.kms_key.arn},
        )

    def _create_schedule(self, schedule: str) -> None:
        self.scan_rule = aws.cloudwatch.EventRule(
            self._named("scan-schedule"),
            name=self._named("scan-schedule"),
            schedule_expression=schedule,
            opts=self._child_opts(),
        )
        aws.cloudwatch.EventTarget(
            self._named("scan-target"),
            rule=self.scan_rule.name,
            arn=self.scanner_function.arn,
            opts=self._child_opts(),
        )
        aws.lambda_.Permission(
            self._named("scan-permission"),
            action="lambda:InvokeFunction",
            function=self.scanner_function.name,
            principal="events.amazonaws.com",
            source_arn=self.scan_rule.arn,
            opts=self._child_opts(),
        )

    def _create_dashboard(self) -> None:
        functions = [self._named("scanner"), self._named("remediation")]
        aws.cloudwatch.Dashboard(
            self._named("dashboard"),
            dashboard_name=self._named("dashboard"),
            dashboard_body=aws.get_region_output().region.apply(
                lambda region: dashboard_body(region, functions, self._named("dlq"))
            ),
            opts=self._child_opts(),
        )
