"""Remediation Lambda, invoked on demand: turns on default KMS encryption for the S3 buckets named.

Event: {"buckets": ["name", ...]}. Uses the stack's KMS key (KMS_KEY_ARN).
"""

import os

import boto3

s3 = boto3.client("s3")


def handler(event, context):
    remediated = []
    for bucket in event.get("buckets", []):
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": os.environ["KMS_KEY_ARN"],
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        remediated.append(bucket)
    return {"remediated": remediated}
