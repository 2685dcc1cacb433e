"""The institutional data bucket and the separate bucket that receives its access logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

# How long replaced or deleted versions stay recoverable before S3 expires them.
NONCURRENT_VERSION_DAYS = 90
# Server access logs are the audit trail of who read learner data; keep them 13 months.
ACCESS_LOG_RETENTION_DAYS = 400
# A multipart upload the pipeline aborted (or that died with its Lambda) is not billed for long.
INCOMPLETE_UPLOAD_DAYS = 2
ACCESS_LOG_PREFIX = "data-bucket/"


def data_bucket_name(resource_prefix: str, account: str, region: str) -> str:
    """The data bucket's name: fixed, so policies in other stacks (and researchers' scripts)
    can name it as a plain string rather than through a cross-stack reference."""
    return f"{resource_prefix}-data-{account}-{region}"


class DataBucket(Construct):
    """The bucket that holds the mirror, the decrypted data, reports and the pipeline's work.

    Every object is SSE-KMS under ``data_key`` with an S3 bucket key. The bucket policy refuses
    plain HTTP and any put that asks for another encryption type or another key.

    Attributes
    ----------
    bucket
        The data bucket.
    bucket_name
        Its name, as a plain string.
    access_logs_bucket
        Receives the data bucket's server access logs.
    """

    def __init__(self, scope: Construct, id_: str, *, data_key: kms.IKey, bucket_name: str) -> None:
        super().__init__(scope, id_)
        self.bucket_name = bucket_name
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            # S3 server access logging can only deliver to SSE-S3 buckets, not SSE-KMS.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(ACCESS_LOG_RETENTION_DAYS),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
        )
        self.bucket = s3.Bucket(
            self,
            "Data",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=data_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=ACCESS_LOG_PREFIX,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireNoncurrentVersions",
                    noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_DAYS),
                )
            ],
        )
        self._deny_wrong_encryption(data_key)

    def _deny_wrong_encryption(self, data_key: kms.IKey) -> None:
        # "IfExists": a put without encryption headers gets the bucket default (the data key),
        # and UploadPart requests never carry the headers, so requiring them would break
        # multipart uploads. What is refused is asking for anything other than the data key.
        put_object = "s3:PutObject"
        objects = self.bucket.arn_for_objects("*")
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyPutsNotEncryptedWithKms",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=[put_object],
                resources=[objects],
                conditions={
                    "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
                },
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyPutsWithAnotherKmsKey",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=[put_object],
                resources=[objects],
                conditions={
                    "StringNotEqualsIfExists": {
                        "s3:x-amz-server-side-encryption-aws-kms-key-id": data_key.key_arn
                    }
                },
            )
        )
