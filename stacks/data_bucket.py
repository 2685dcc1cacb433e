"""The institutional data bucket and the separate bucket that receives its access logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from edx_vault.package import bucket_layout, grant_patterns
from edx_vault.settings.iam_paths import RESEARCHER_ROLE_PATH

# The data bucket's name is fixed, so policies in other stacks (and researchers' scripts) can
# name it as a plain string rather than through a cross-stack reference. Spelled in
# edx_vault.settings.resource_names, where the configuration checks it fits S3's rules.
from edx_vault.settings.resource_names import data_bucket_name as data_bucket_name
from stacks.vault_boundary import VaultPrincipals, protect_bucket_configuration

# How long replaced or deleted versions stay recoverable before S3 expires them.
NONCURRENT_VERSION_DAYS = 90
SPILL_DAYS = 2
# Server access logs are the audit trail of who read learner data; keep them 13 months.
ACCESS_LOG_RETENTION_DAYS = 400
# A multipart upload the pipeline aborted (or that died with its Lambda) is not billed for long.
INCOMPLETE_UPLOAD_DAYS = 2
ACCESS_LOG_PREFIX = "data-bucket/"
# Everything that reads or changes objects (and lists them). Bucket configuration is
# refused separately, to all but the vault's managers (stacks/vault_boundary.py).
OBJECT_ACTIONS = (
    "s3:GetObject*",
    "s3:PutObject*",
    "s3:DeleteObject*",
    "s3:ListBucket*",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
    "s3:RestoreObject",
    "s3:ReplicateObject",
    "s3:ReplicateDelete",
)
# The only things a researcher role may do with this bucket, whatever its own policy says.
# GetBucketLocation answers a region name, no data: Athena may ask it with the researcher's
# credentials before reading a table (edx_vault/access/query_statements.py).
RESEARCHER_ACTIONS = ("s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation")


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
                ),
                # A split by course deletes its spilled buffers when it ends; one killed
                # mid-way (a Lambda timeout) leaves them, and they expire here.
                s3.LifecycleRule(
                    id="ExpireCourseSplitSpills",
                    prefix=bucket_layout.COURSE_SPLIT_SPILL_PREFIX,
                    expiration=Duration.days(SPILL_DAYS),
                    noncurrent_version_expiration=Duration.days(1),
                ),
            ],
        )
        self._deny_wrong_encryption(data_key)

    def restrict_to_vault_principals(
        self, *, data_key: kms.IKey, principals: VaultPrincipals
    ) -> None:
        """Keep every object away from principals that are not the vault's, the bucket's
        configuration away from all but its managers, and researchers in their lane.

        Only the vault's roles, each by exact ARN (every pipeline step's role, every configured
        researcher's role, the admin roles), may touch objects (each still needs its own policy
        to allow it); a role created later at the vault's IAM paths is not one of them. Only
        the admin roles and CloudFormation's execution role may change the bucket's policy,
        replication, lifecycle, notifications, ownership or public access block
        (:func:`stacks.vault_boundary.protect_bucket_configuration`). A researcher role can only
        read and list, never in ``raw/``, ``_work/`` or ``reports/``, and lists only below the
        published prefixes; with the data key it can only decrypt, and only through S3.

        Parameters
        ----------
        data_key
            The bucket's KMS key.
        principals
            The vault's principals.
        """
        stack = Stack.of(self)
        # Denies that keep researchers in their lane name the researcher path, not the exact
        # roles: broader is safer for a Deny, and a role at that path that is not a configured
        # researcher is refused every object anyway (DenyObjectAccessOutsideTheVault).
        researcher_roles = f"arn:{stack.partition}:iam::{stack.account}:role{RESEARCHER_ROLE_PATH}*"
        is_researcher = {"ArnLike": {"aws:PrincipalArn": researcher_roles}}
        bucket = self.bucket
        everything = [bucket.bucket_arn, bucket.arn_for_objects("*")]
        statements = [
            iam.PolicyStatement(
                sid="DenyObjectAccessOutsideTheVault",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(OBJECT_ACTIONS),
                resources=everything,
                conditions={"ArnNotEquals": {"aws:PrincipalArn": list(principals.data_users)}},
            ),
            iam.PolicyStatement(
                sid="DenyResearchersAnythingButReading",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                not_actions=list(RESEARCHER_ACTIONS),
                resources=everything,
                conditions=is_researcher,
            ),
            iam.PolicyStatement(
                sid="DenyResearchersPipelineOnlyPrefixes",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:*"],
                resources=[
                    bucket.arn_for_objects(f"{prefix}*")
                    for prefix in bucket_layout.PIPELINE_ONLY_PREFIXES
                ],
                conditions=is_researcher,
            ),
            iam.PolicyStatement(
                # A list without a prefix, or under raw/ or reports/, would show key names
                # outside any grant. "Not like" is also true when s3:prefix is absent. The
                # prefixes are those a grant can name (events/ and events-by-course/ for events).
                sid="DenyResearchersListingOutsidePublishedData",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:ListBucket*"],
                resources=[bucket.bucket_arn],
                conditions={
                    **is_researcher,
                    "StringNotLike": {
                        "s3:prefix": [f"{prefix}*" for prefix in grant_patterns.RESEARCHER_PREFIXES]
                    },
                },
            ),
        ]
        for statement in statements:
            bucket.add_to_resource_policy(statement)
        protect_bucket_configuration(bucket, principals.managers)
        protect_bucket_configuration(self.access_logs_bucket, principals.managers)
        self._limit_researchers_on_key(data_key, is_researcher)

    @staticmethod
    def _limit_researchers_on_key(data_key: kms.IKey, is_researcher: Mapping[str, Any]) -> None:
        # The key policy delegates to IAM (it trusts the account), so researcher roles can
        # only do what their own policies allow; these statements hold even if someone
        # attaches a broader policy to a researcher role by hand.
        region = Stack.of(data_key).region
        data_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyResearchersAnythingButDecrypt",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                not_actions=["kms:Decrypt"],
                resources=["*"],
                conditions=is_researcher,
            )
        )
        data_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyResearchersDecryptOutsideS3",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={
                    **is_researcher,
                    "StringNotEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                },
            )
        )

    def _deny_wrong_encryption(self, data_key: kms.IKey) -> None:
        # Deny only a request that *asks* for something else: "StringNotEquals" plus "Null:
        # false" (the header is present). A request without the headers gets the bucket default,
        # the data key, and UploadPart requests never carry them; "...IfExists" would be true
        # for a missing header and so deny those too, breaking multipart uploads.
        put_object = "s3:PutObject"
        objects = self.bucket.arn_for_objects("*")
        for sid, header, required in (
            ("DenyPutsNotEncryptedWithKms", "s3:x-amz-server-side-encryption", "aws:kms"),
            (
                "DenyPutsWithAnotherKmsKey",
                "s3:x-amz-server-side-encryption-aws-kms-key-id",
                data_key.key_arn,
            ),
        ):
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=[put_object],
                    resources=[objects],
                    conditions={
                        "StringNotEquals": {header: required},
                        "Null": {header: "false"},
                    },
                )
            )
