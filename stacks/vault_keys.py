"""The customer-managed KMS keys: one for learner data, one for secrets."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.vault_boundary import VaultPrincipals, protect_key

# The longest waiting period KMS allows before it deletes a key ("PendingWindowInDays ... from
# 7 to 30", AWS::KMS::Key), time to notice a deletion someone scheduled and cancel it.
MAX_PENDING_WINDOW_DAYS = 30


class VaultKeys(Construct):
    """Two keys, so that a grant to read data never implies a grant to read edX's credentials.

    Attributes
    ----------
    data_key
        Encrypts every object in the data bucket and the manifest table.
    secrets_key
        Encrypts the Secrets Manager secrets (edX credentials, the pipeline's OpenPGP key).
    """

    def __init__(self, scope: Construct, id_: str, *, alias_prefix: str) -> None:
        super().__init__(scope, id_)
        self.data_key = self._key(
            "DataKey",
            alias=f"alias/{alias_prefix}/data",
            description="edx-vault: encrypts decrypted learner data and the manifest",
        )
        self.secrets_key = self._key(
            "SecretsKey",
            alias=f"alias/{alias_prefix}/secrets",
            description="edx-vault: encrypts the edX credentials and the pipeline's OpenPGP key",
        )

    def restrict_to_vault_principals(self, principals: VaultPrincipals) -> None:
        """Only the managers administer the keys; only the vault's roles use them, through the
        services that hold what they encrypt (:func:`stacks.vault_boundary.protect_key`).

        The data key: the pipeline's, researchers' and admin roles, through S3 (objects) and
        DynamoDB (the manifest table). The secrets key: the pipeline's and admin roles, through
        Secrets Manager; researchers never.
        """
        region = Stack.of(self).region
        protect_key(
            self.data_key,
            principals,
            users=principals.data_users,
            via_services=[f"s3.{region}.amazonaws.com", f"dynamodb.{region}.amazonaws.com"],
        )
        protect_key(
            self.secrets_key,
            principals,
            users=[*principals.pipeline_roles, *principals.admin_roles],
            via_services=[f"secretsmanager.{region}.amazonaws.com"],
        )

    def _key(self, id_: str, *, alias: str, description: str) -> kms.Key:
        return kms.Key(
            self,
            id_,
            alias=alias,
            description=description,
            enable_key_rotation=True,
            # Deleting a key makes every object under it unreadable: keep it and wait the
            # longest window if someone schedules deletion by hand.
            removal_policy=RemovalPolicy.RETAIN,
            pending_window=Duration.days(MAX_PENDING_WINDOW_DAYS),
        )
