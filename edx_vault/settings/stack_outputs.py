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
# The de-identified tier's key (not in STORAGE_OUTPUTS: a storage stack deployed before it
# still loads; the commands that need it say to deploy again).
PSEUDONYM_KEY_SECRET_ARN: Final = "PseudonymKeySecretArn"
# Researchers' SQL (not needed by the CLI, so not in STORAGE_OUTPUTS: a deployment from before
# them still loads).
QUERY_RESULTS_BUCKET: Final = "QueryResultsBucketName"
RESEARCH_DATABASE: Final = "ResearchDatabaseName"

# Pipeline stack
STATE_MACHINE_ARN: Final = "SyncStateMachineArn"
ALERTS_TOPIC_ARN: Final = "AlertsTopicArn"
SCHEDULE_NAME: Final = "SyncScheduleName"

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

PIPELINE_OUTPUTS: Final = (STATE_MACHINE_ARN, ALERTS_TOPIC_ARN, SCHEDULE_NAME)

# Stack names are "{stack_prefix}-{suffix}"; the CLI reads outputs from these two.
STORAGE_STACK_SUFFIX: Final = "Storage"
PIPELINE_STACK_SUFFIX: Final = "Pipeline"


def stack_name(prefix: str, suffix: str) -> str:
    """The CloudFormation stack name for a stack prefix from the config and a stack suffix."""
    return f"{prefix}-{suffix}"
