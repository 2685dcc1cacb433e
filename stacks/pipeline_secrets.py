"""Secrets Manager entries the pipeline reads; created empty, filled by the admin CLI."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct


class PipelineSecrets(Construct):
    """edX's S3 credentials and the pipeline's own OpenPGP key, each in its own secret.

    The secrets are deployed without a value: CloudFormation must never see a credential, and
    a generated placeholder would look like a real value to the CLI. ``edx-vault keygen`` and
    ``edx-vault import-credentials`` write the first versions.

    Attributes
    ----------
    edx_credentials
        JSON ``{"user_name", "access_key_id", "secret_access_key"}`` from edX's credentials.csv.
    pipeline_key
        The pipeline's armored OpenPGP private key(s).
    pipeline_passphrase
        The passphrase protecting ``pipeline_key``; a separate secret so that a leak of one alone
        is not enough.
    """

    def __init__(
        self, scope: Construct, id_: str, *, secrets_key: kms.IKey, name_prefix: str
    ) -> None:
        super().__init__(scope, id_)
        self.edx_credentials = self._empty_secret(
            "EdxCredentials",
            name=f"{name_prefix}/edx-credentials",
            description="edX research data S3 access keys (imported by edx-vault import-credentials)",
            secrets_key=secrets_key,
        )
        self.pipeline_key = self._empty_secret(
            "PipelineKey",
            name=f"{name_prefix}/pipeline-openpgp-key",
            description="The pipeline's OpenPGP private key (written by edx-vault keygen)",
            secrets_key=secrets_key,
        )
        self.pipeline_passphrase = self._empty_secret(
            "PipelinePassphrase",
            name=f"{name_prefix}/pipeline-openpgp-passphrase",
            description="Passphrase of the pipeline's OpenPGP key (written by edx-vault keygen)",
            secrets_key=secrets_key,
        )

    def _empty_secret(
        self, id_: str, *, name: str, description: str, secrets_key: kms.IKey
    ) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            id_,
            secret_name=name,
            description=description,
            encryption_key=secrets_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # The L2 construct always asks CloudFormation to generate a value. Without
        # GenerateSecretString and SecretString, CloudFormation creates the secret with no
        # version at all, which is what "not configured yet" should look like.
        cfn_secret = secret.node.default_child
        assert isinstance(cfn_secret, secretsmanager.CfnSecret)
        cfn_secret.add_property_deletion_override("GenerateSecretString")
        return secret
