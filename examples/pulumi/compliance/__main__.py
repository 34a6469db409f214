"""The Pulumi program: one compliance monitoring stack for this stack's environment.

Config: `environmentSuffix` (default: the stack name) and `configRecorderName` (the account's
existing AWS Config recorder, default `config-recorder-pr7060`).
"""

import pulumi
from compliance import EXISTING_CONFIG_RECORDER, ComplianceArgs, ComplianceMonitoringStack

config = pulumi.Config()
stack = ComplianceMonitoringStack(
    "compliance",
    ComplianceArgs(
        environment_suffix=config.get("environmentSuffix") or pulumi.get_stack(),
        config_recorder_name=config.get("configRecorderName") or EXISTING_CONFIG_RECORDER,
    ),
)

pulumi.export("configRecorderName", stack.config_recorder_name)
pulumi.export("kmsKeyArn", stack.kms_key.arn)
pulumi.export("reportBucketName", stack.report_bucket.bucket)
pulumi.export("complianceTableName", stack.compliance_table.name)
pulumi.export("alertTopicArn", stack.alert_topic.arn)
pulumi.export("deadLetterQueueUrl", stack.dead_letter_queue.url)
pulumi.export("scannerFunctionName", stack.scanner_function.name)
