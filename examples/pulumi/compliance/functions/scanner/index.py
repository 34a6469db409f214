"""Scanner Lambda: records AWS Config compliance findings, writes a report, alerts on violations.

Runs on the EventBridge schedule. Reads the account's existing Config recorder (referenced by
name, never created by the stack), so it first checks that the recorder is recording.
"""

import json
import os
from datetime import UTC, datetime

import boto3

config = boto3.client("config")
dynamodb = boto3.client("dynamodb")
s3 = boto3.client("s3")
sns = boto3.client("sns")


def non_compliant_resources():
    """Every resource AWS Config currently evaluates as NON_COMPLIANT."""
    paginator = config.get_paginator("describe_compliance_by_resource")
    for page in paginator.paginate(ComplianceTypes=["NON_COMPLIANT"]):
        for item in page["ComplianceByResource"]:
            yield {"resourceType": item["ResourceType"], "resourceId": item["ResourceId"]}


def handler(event, context):
    recorder = os.environ["CONFIG_RECORDER_NAME"]
    status = config.describe_configuration_recorder_status(ConfigurationRecorderNames=[recorder])
    recording = bool(status["ConfigurationRecordersStatus"][0].get("recording"))
    scan_time = datetime.now(UTC).isoformat()
    findings = list(non_compliant_resources()) if recording else []
    for finding in findings:
        dynamodb.put_item(
            TableName=os.environ["TABLE_NAME"],
            Item={
                "resourceId": {"S": finding["resourceId"]},
                "scanTime": {"S": scan_time},
                "resourceType": {"S": finding["resourceType"]},
            },
        )
    report = {"scanTime": scan_time, "recorder": recorder, "recording": recording, "findings": findings}
    s3.put_object(
        Bucket=os.environ["REPORT_BUCKET"],
        Key=f"reports/{scan_time}.json",
        Body=json.dumps(report).encode(),
        ContentType="application/json",
    )
    if findings or not recording:
        subject = (
            f"{len(findings)} non-compliant resources" if recording else f"Config recorder {recorder} is not recording"
        )
        sns.publish(TopicArn=os.environ["ALERT_TOPIC_ARN"], Subject=subject[:100], Message=json.dumps(report))
    return {"findings": len(findings), "recording": recording}
