"""The bucket Athena writes researchers' query results to, each researcher under its own prefix."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.vault_boundary import VaultPrincipals, protect_bucket_configuration, protect_key

# Where the results bucket's server access logs go in the logs bucket.
RESULTS_ACCESS_LOG_PREFIX = "query-results/"
INCOMPLETE_UPLOAD_DAYS = 1
# cdk-nag findings on the results bucket that are decisions, with their reasons, for whoever
# wires the bucket into a stack to acknowledge (stacks/nag_acknowledgements.py).
ACCEPTED_FINDINGS = {
    "NIST.800.53.R5-S3BucketVersioningEnabled": (
        "Query results are disposable and reproducible from their query; versions would keep "
        "overwritten or deleted results (learner data) beyond their expiry."
    ),
    "NIST.800.53.R5-S3BucketReplicationEnabled": (
        "Query results are disposable and expire within days; a replica would be one more copy "
        "of learner data to govern."
    ),
}


class QueryResultsBucket(Construct):
    """Query results: learner data derived from the vault, kept ``expire_days`` and no longer.

    Each researcher's workgroup writes under ``results/{researcher}/``
    (:mod:`stacks.research_workgroups`), and each researcher role may touch only that prefix
    (:mod:`edx_vault.access.query_statements`): IAM keeps researchers apart, so the bucket
    policy refuses plain HTTP and, given the vault's ``principals``, any change of its
    configuration but by the vault's managers; its own key is then used only by researchers
    and admins, through S3, and administered only by the managers
    (:mod:`stacks.vault_boundary`).

    **The key.** Results are learner data, so they are SSE-KMS under a customer-managed key with
    an S3 bucket key (fewer KMS calls; the encryption context is then the bucket's ARN, which
    the researcher roles' policies pin). Not the data key: writing under SSE-KMS needs
    ``kms:GenerateDataKey`` with the writer's credentials, and the data key's policy lets
    researcher roles do nothing but decrypt (``DenyResearchersAnythingButDecrypt``), a promise
    kept for the data bucket. Without ``kms_key`` the construct makes a key of its own.

    **No versioning.** A result is reproducible from its query and is never worth keeping
    longer than ``expire_days``; versions would keep overwritten or deleted results (learner
    data) out of sight. Noncurrent versions still expire after a day, should versioning ever
    be turned on.

    Attributes
    ----------
    bucket
        The results bucket.
    bucket_name
        Its name, as a plain string.
    key
        The KMS key of its objects.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        expire_days: int,
        kms_key: kms.IKey | None = None,
        logs_bucket: s3.IBucket | None = None,
        principals: VaultPrincipals | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.bucket_name = name
        self.key: kms.IKey = kms_key or kms.Key(
            self,
            "Key",
            description="edx-vault: encrypts researchers' Athena query results",
            enable_key_rotation=True,
            # Results expire within days, but an old version of an object, a log or a
            # copy would be unreadable without it: keep it and wait the longest window.
            removal_policy=RemovalPolicy.RETAIN,
            pending_window=Duration.days(30),
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=False,
            server_access_logs_bucket=logs_bucket,
            server_access_logs_prefix=RESULTS_ACCESS_LOG_PREFIX if logs_bucket else None,
            # Deleting the stack must not delete learner data with it; the lifecycle rule
            # empties the bucket within expire_days anyway.
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireQueryResults",
                    expiration=Duration.days(expire_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_DAYS),
                )
            ],
        )
        if principals is not None:
            self._restrict_to_vault_principals(principals)

    def _restrict_to_vault_principals(self, principals: VaultPrincipals) -> None:
        # Only the managers change the bucket's configuration; the key of its own (not one
        # passed in) is used only by researchers and admins, through S3: Athena writes and
        # reads results with the researcher's credentials (SSE_KMS, see query_statements).
        protect_bucket_configuration(self.bucket, principals.managers)
        if isinstance(self.key, kms.Key) and self.key.node.scope is self:
            region = Stack.of(self).region
            protect_key(
                self.key,
                principals,
                users=[*principals.researcher_roles, *principals.admin_roles],
                via_services=[f"s3.{region}.amazonaws.com"],
            )
