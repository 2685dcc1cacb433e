"""StorageStack: everything that holds data or secrets, and nothing that runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from edx_vault.settings import stack_outputs
from edx_vault.settings.resource_names import glue_database_name, query_results_bucket_name
from stacks.data_bucket import DataBucket, data_bucket_name
from stacks.manifest_table import ManifestTable
from stacks.pipeline_secrets import PipelineSecrets
from stacks.query_results import QueryResultsBucket
from stacks.research_catalog import ResearchCatalog
from stacks.vault_boundary import vault_principals
from stacks.vault_keys import VaultKeys


class StorageStack(Stack):
    """Keys, the data and access-log buckets, the secrets, the manifest table, and what
    researchers' SQL reads and writes: the Glue catalog of the published datasets and the query
    results bucket.

    Kept apart from the pipeline so that the pipeline can be redeployed or torn down without
    touching anything that holds data. Its outputs are what the CLI reads. Its bucket and key
    policies name the vault's roles by exact ARN (``researcher_role_names``: the access
    stack's roles; the pipeline's are fixed) and the ``admin_role_arns``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        resource_prefix: str,
        stack_prefix: str,
        orgs: Sequence[str],
        first_date: dt.date,
        results_expire_days: int,
        researcher_role_names: Sequence[str] = (),
        admin_role_arns: Sequence[str] = (),
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, id_, **stack_props)
        # Every role that may reach the data, by exact name: the pipeline's (fixed names) and
        # every configured researcher's. Adding a researcher changes the bucket and key
        # policies, so it redeploys this stack too (before the access stack creates the role).
        self.principals = vault_principals(
            self,
            stack_prefix=stack_prefix,
            researcher_role_names=researcher_role_names,
            admin_role_arns=admin_role_arns,
        )
        self.keys = VaultKeys(self, "Keys", alias_prefix=resource_prefix)
        self.data = DataBucket(
            self,
            "Buckets",
            data_key=self.keys.data_key,
            bucket_name=data_bucket_name(resource_prefix, self.account, self.region),
        )
        self.secrets = PipelineSecrets(
            self, "Secrets", secrets_key=self.keys.secrets_key, name_prefix=resource_prefix
        )
        self.manifest = ManifestTable(self, "Manifest", data_key=self.keys.data_key)
        self.catalog = ResearchCatalog(
            self,
            "ResearchCatalog",
            bucket_name=self.data.bucket_name,
            orgs=orgs,
            first_date=first_date,
            database_name=glue_database_name(stack_prefix),
        )
        self.query_results = QueryResultsBucket(
            self,
            "QueryResults",
            name=query_results_bucket_name(resource_prefix, self.account, self.region),
            expire_days=results_expire_days,
            logs_bucket=self.data.access_logs_bucket,
            principals=self.principals,
        )
        self.keys.restrict_to_vault_principals(self.principals)
        self.data.restrict_to_vault_principals(
            data_key=self.keys.data_key, principals=self.principals
        )

        outputs = {
            stack_outputs.DATA_BUCKET: self.data.bucket.bucket_name,
            stack_outputs.ACCESS_LOGS_BUCKET: self.data.access_logs_bucket.bucket_name,
            stack_outputs.DATA_KEY_ARN: self.keys.data_key.key_arn,
            stack_outputs.SECRETS_KEY_ARN: self.keys.secrets_key.key_arn,
            stack_outputs.EDX_CREDENTIALS_SECRET_ARN: self.secrets.edx_credentials.secret_arn,
            stack_outputs.PIPELINE_KEY_SECRET_ARN: self.secrets.pipeline_key.secret_arn,
            stack_outputs.PIPELINE_PASSPHRASE_SECRET_ARN: (
                self.secrets.pipeline_passphrase.secret_arn
            ),
            stack_outputs.PSEUDONYM_KEY_SECRET_ARN: self.secrets.pseudonym_key.secret_arn,
            stack_outputs.MANIFEST_TABLE: self.manifest.table.table_name,
            stack_outputs.QUERY_RESULTS_BUCKET: self.query_results.bucket_name,
            stack_outputs.RESEARCH_DATABASE: glue_database_name(stack_prefix),
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
        # The access-logs bucket's ARN under a name of ours, for the pipeline's read audit to
        # import: a name CDK generates would leak into the pipeline's cdk-nag acknowledgement.
        self.access_logs_arn_export = f"{self.stack_name}-AccessLogsBucketArn"
        CfnOutput(
            self,
            "AccessLogsBucketArnExport",
            value=self.data.access_logs_bucket.bucket_arn,
            export_name=self.access_logs_arn_export,
        )
