"""The customer-managed KMS keys: one for learner data, one for secrets."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct


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
            pending_window=Duration.days(30),
        )
