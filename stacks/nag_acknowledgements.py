"""Every cdk-nag finding we accept, with the reason, in one place.

A finding is acknowledged on the one construct it is about, never on a whole stack, so that a
new resource with the same problem still fails the synth.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

from stacks.storage_stack import StorageStack

_NO_REPLICATION = (
    "Replicating learner data to a second bucket (often another region) is an institutional "
    "decision about data residency that edX's terms leave to the partner; the bucket is "
    "versioned and the raw/ mirror is the archive of record. Add replication per deployment."
)
_SECRETS_NOT_ROTATABLE = (
    "No Lambda can rotate these: edX issues the credentials and the pipeline key is registered "
    "with edX by hand. Rotation is `edx-vault import-credentials` and `edx-vault keygen "
    "--rotate`; the key-expiry alarm says when."
)
_ACCESS_LOGS_SSE_S3 = (
    "S3 server access logging delivers only to buckets encrypted with SSE-S3, not SSE-KMS. "
    "The logs hold request metadata, no learner data."
)
_MANIFEST_PITR_ONLY = (
    "Point-in-time recovery (35 days) covers the manifest, and every row can be rebuilt from "
    "the metadata on the mirrored objects; an AWS Backup plan would add cost and no recovery."
)


def _acknowledge(construct: IConstruct, reasons: dict[str, str]) -> None:
    Validations.of(construct).acknowledge(
        *(Acknowledgment(id=rule, reason=reason) for rule, reason in reasons.items())
    )


def acknowledge_storage_findings(storage: StorageStack) -> None:
    """Acknowledge the storage stack's accepted findings."""
    _acknowledge(
        storage.data.access_logs_bucket,
        {
            "NIST.800.53.R5-S3DefaultEncryptionKMS": _ACCESS_LOGS_SSE_S3,
            "NIST.800.53.R5-S3BucketReplicationEnabled": _NO_REPLICATION,
        },
    )
    _acknowledge(
        storage.data.bucket, {"NIST.800.53.R5-S3BucketReplicationEnabled": _NO_REPLICATION}
    )
    for secret in (
        storage.secrets.edx_credentials,
        storage.secrets.pipeline_key,
        storage.secrets.pipeline_passphrase,
    ):
        _acknowledge(
            secret,
            {
                "AwsSolutions-SMG4": _SECRETS_NOT_ROTATABLE,
                "NIST.800.53.R5-SecretsManagerRotationEnabled": _SECRETS_NOT_ROTATABLE,
            },
        )
    _acknowledge(
        storage.manifest.table, {"NIST.800.53.R5-DynamoDBInBackupPlan": _MANIFEST_PITR_ONLY}
    )
