"""Names of the CloudFormation outputs the CLI reads to find the deployed resources.

Shared by the stacks (which export them) and the CLI (which looks them up), so the two cannot
drift apart.
"""

from __future__ import annotations

from typing import Final

DATA_BUCKET: Final = "DataBucketName"
ACCESS_LOGS_BUCKET: Final = "AccessLogsBucketName"
DATA_KEY_ARN: Final = "DataKeyArn"
SECRETS_KEY_ARN: Final = "SecretsKeyArn"
EDX_CREDENTIALS_SECRET_ARN: Final = "EdxCredentialsSecretArn"
PIPELINE_KEY_SECRET_ARN: Final = "PipelineKeySecretArn"
PIPELINE_PASSPHRASE_SECRET_ARN: Final = "PipelinePassphraseSecretArn"
MANIFEST_TABLE: Final = "ManifestTableName"

STORAGE_OUTPUTS: Final = (
    DATA_BUCKET,
    ACCESS_LOGS_BUCKET,
    DATA_KEY_ARN,
    SECRETS_KEY_ARN,
    EDX_CREDENTIALS_SECRET_ARN,
    PIPELINE_KEY_SECRET_ARN,
    PIPELINE_PASSPHRASE_SECRET_ARN,
    MANIFEST_TABLE,
)
