"""What the MODEL_RESPONSE of kb case `pr7060` would create, ported to Python: its failures kept.

Not a program to deploy: the tests build it under Pulumi's mocks beside the fixed program
(`compliance.py`) and show that each check catches the failure its record describes:

- 01 `reference_config_recorder` creates an `aws.cfg.Recorder`, `DeliveryChannel` and
  `RecorderStatus` (and the bucket and role they need), although the account already has the one
  recorder and the one delivery channel AWS Config allows per region.
- 02 the functions' policy (`model_lambda_policy_document`) has no `sqs:SendMessage` on the
  dead-letter queue the functions are configured with.
- 03 resources created only for their side effects are bound to names never used (ruff F841).

Everything the record does not mention (names, encryption, messaging, schedule) is as in the fixed
program, so these three are the only differences. The record does not show the Config bucket's
settings: it is encrypted like the report bucket.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
from compliance import (
    BASIC_EXECUTION_POLICY,
    COMPONENT_TYPE,
    FUNCTIONS_DIR,
    LAMBDA_RUNTIME,
    ComplianceArgs,
    dashboard_body,
    lambda_assume_role_policy,
)

CONFIG_ROLE_POLICY = "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"


def model_lambda_policy_document(table_arn: str, bucket_arn: str, topic_arn: str, key_arn: str) -> str:
    """The model's policy: the same statements as the fix, but nothing for the dead-letter queue."""
    statements = [
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
        # Missing: sqs:SendMessage on the dead-letter queue.
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


class ComplianceMonitoringStack(pulumi.ComponentResource):
    """The model's stack, with the same attributes as the fixed `compliance.ComplianceMonitoringStack`."""

    def __init__(self, name: str, args: ComplianceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self.suffix = args.environment_suffix
        self._create_encryption()
        self.config_recorder_name = self.reference_config_recorder(args.config_recorder_name)
        self._create_storage()
        self._create_messaging()
        self._create_lambda_role()
        self._create_functions()
        self._create_schedule(args.scan_schedule)
        self._create_dashboard()
        self.register_outputs({"configRecorderName": self.config_recorder_name})

    def _named(self, base: str) -> str:
        return f"compliance-{base}-{self.suffix}"

    def _child_opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _encrypted_bucket(self, base: str) -> aws.s3.Bucket:
        bucket = aws.s3.Bucket(self._named(base), bucket=self._named(base), force_destroy=True, opts=self._child_opts())
        aws.s3.BucketServerSideEncryptionConfiguration(
            self._named(f"{base}-encryption"),
            bucket=bucket.id,
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
        return bucket

    def reference_config_recorder(self, recorder_name: str) -> pulumi.Output[str]:
        """Failure 01: creates the account-level Config resources (`recorder_name` is ignored)."""
        config_bucket = self._encrypted_bucket("config")
        config_role = aws.iam.Role(
            self._named("config-role"),
            name=self._named("config-role"),
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "config.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            opts=self._child_opts(),
        )
        aws.iam.RolePolicyAttachment(
            self._named("config-role-policy"),
            role=config_role.name,
            policy_arn=CONFIG_ROLE_POLICY,
            opts=self._child_opts(),
        )
        config_bucket_policy = aws.s3.BucketPolicy(
            self._named("config-bucket-policy"),
            bucket=config_bucket.id,
            policy=config_bucket.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "config.amazonaws.com"},
                                "Action": ["s3:GetBucketAcl", "s3:PutObject"],
                                "Resource": [arn, f"{arn}/*"],
                            }
                        ],
                    }
                )
            ),
            opts=self._child_opts(),
        )
        config_recorder = aws.cfg.Recorder(
            self._named("recorder"),
            name=self._named("recorder"),
            role_arn=config_role.arn,
            recording_group={"all_supported": True, "include_global_resource_types": True},
            opts=self._child_opts(depends_on=[config_bucket_policy]),
        )
        config_delivery_channel = aws.cfg.DeliveryChannel(
            self._named("delivery"),
            name=self._named("delivery"),
            s3_bucket_name=config_bucket.id,
            opts=self._child_opts(depends_on=[config_recorder]),
        )
        config_recorder_status = aws.cfg.RecorderStatus(  # noqa: F841 (failure 03, kept on purpose)
            self._named("recorder-status"),
            name=config_recorder.name,
            is_enabled=True,
            opts=self._child_opts(depends_on=[config_delivery_channel]),
        )
        return config_recorder.name

    def _create_encryption(self) -> None:
        self.kms_key = aws.kms.Key(
            self._named("key"),
            description=f"Compliance monitoring data ({self.suffix})",
            enable_key_rotation=True,
            deletion_window_in_days=7,
            opts=self._child_opts(),
        )
        kms_alias = aws.kms.Alias(  # noqa: F841 (failure 03, kept on purpose)
            self._named("key-alias"),
            name=f"alias/{self._named('key')}",
            target_key_id=self.kms_key.key_id,
            opts=self._child_opts(),
        )

    def _create_storage(self) -> None:
        self.report_bucket = self._encrypted_bucket("reports")
        report_bucket_public_access_block = aws.s3.BucketPublicAccessBlock(  # noqa: F841 (failure 03, kept on purpose)
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
        lambda_basic_policy = aws.iam.RolePolicyAttachment(  # noqa: F841 (failure 03, kept on purpose)
            self._named("lambda-basic-execution"),
            role=self.lambda_role.name,
            policy_arn=BASIC_EXECUTION_POLICY,
            opts=self._child_opts(),
        )
        # Failure 02: the dead-letter queue's ARN is not an input, its permission is missing.
        self.lambda_policy = aws.iam.RolePolicy(
            self._named("lambda-policy"),
            name=self._named("lambda-policy"),
            role=self.lambda_role.id,
            policy=pulumi.Output.all(
                self.compliance_table.arn, self.report_bucket.arn, self.alert_topic.arn, self.kms_key.arn
            ).apply(lambda arns: model_lambda_policy_document(*arns)),
            opts=self._child_opts(),
        )

    def _function(self, base: str, description: str, variables: dict[str, Any]) -> aws.lambda_.Function:
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
        remediation_function = self._function(  # noqa: F841 (failure 03, kept on purpose)
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
        scan_target = aws.cloudwatch.EventTarget(  # noqa: F841 (failure 03, kept on purpose)
            self._named("scan-target"), rule=self.scan_rule.name, arn=self.scanner_function.arn, opts=self._child_opts()
        )
        scan_permission = aws.lambda_.Permission(  # noqa: F841 (failure 03, kept on purpose)
            self._named("scan-permission"),
            action="lambda:InvokeFunction",
            function=self.scanner_function.name,
            principal="events.amazonaws.com",
            source_arn=self.scan_rule.arn,
            opts=self._child_opts(),
        )

    def _create_dashboard(self) -> None:
        functions = [self._named("scanner"), self._named("remediation")]
        dashboard = aws.cloudwatch.Dashboard(  # noqa: F841 (failure 03, kept on purpose)
            self._named("dashboard"),
            dashboard_name=self._named("dashboard"),
            dashboard_body=aws.get_region_output().region.apply(
                lambda region: dashboard_body(region, functions, self._named("dlq"))
            ),
            opts=self._child_opts(),
        )
