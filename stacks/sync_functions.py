"""The pipeline's Lambda functions, each with only the permissions its step needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from aws_cdk import (
    ArnFormat,
    Duration,
    Fn,
    RemovalPolicy,
    Size,
    Stack,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from edx_vault.access.audit import known_principals
from edx_vault.settings import pipeline_settings
from edx_vault.settings.config import VaultConfig
from edx_vault.settings.iam_paths import PIPELINE_ROLE_PATH
from edx_vault.settings.resource_names import glue_database_name, pipeline_role_name
from stacks.data_bucket import ACCESS_LOG_PREFIX
from stacks.lambda_layers import LambdaLayers
from stacks.storage_stack import StorageStack
from stacks.sync_grants import SyncGrants

HANDLERS_DIR: Final = Path(__file__).resolve().parent.parent / "lambdas"
LOG_RETENTION: Final = logs.RetentionDays.THIRTEEN_MONTHS


class SyncFunctions(Construct):
    """plan, mirror, collect, decrypt, split, deidentify, catalog and report.

    Attributes
    ----------
    plan, mirror, collect, decrypt, split, deidentify, catalog, report
        The functions, for the state machine to invoke.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: VaultConfig,
        storage: StorageStack,
        topic: sns.ITopic,
        logs_key: kms.IKey,
        sync_state_machine_name: str,
    ) -> None:
        super().__init__(scope, id_)
        self._storage = storage
        self._stack_prefix = config.deployment.stack_prefix
        self._logs_key = logs_key
        # Every object prefix each function may touch, for the cdk-nag acknowledgements.
        self.object_prefixes: dict[str, list[str]] = {}
        self._layers = LambdaLayers(self, "Layers")
        self._code = lambda_.Code.from_asset(str(HANDLERS_DIR), exclude=["__pycache__", "*.pyc"])
        edx = config.edx
        base_environment = {
            pipeline_settings.DATA_BUCKET: storage.data.bucket.bucket_name,
            pipeline_settings.DATA_KEY_ARN: storage.keys.data_key.key_arn,
            pipeline_settings.MANIFEST_TABLE: storage.manifest.table.table_name,
            "POWERTOOLS_SERVICE_NAME": "edx-vault",
            "POWERTOOLS_METRICS_NAMESPACE": pipeline_settings.METRICS_NAMESPACE,
        }
        scope_environment = {
            pipeline_settings.ORG_GROUPS: json.dumps([list(org.all_ids) for org in edx.orgs]),
            pipeline_settings.SITES: json.dumps(list(edx.sites)),
            pipeline_settings.CATEGORIES: json.dumps(list(edx.categories)),
            pipeline_settings.BACKFILL_FROM: edx.backfill_from.isoformat(),
            pipeline_settings.EVENT_BUCKET: edx.source_buckets.events,
            pipeline_settings.DATABASE_BUCKET: edx.source_buckets.database,
        }
        # The research catalog's database: the catalog step keeps its SELECT * tables, and the
        # Report step expects the catalog step's result when it is set.
        glue_database = {
            pipeline_settings.GLUE_DATABASE: glue_database_name(config.deployment.stack_prefix)
        }
        self._glue_database = glue_database_name(config.deployment.stack_prefix)
        edx_credentials = {
            pipeline_settings.EDX_CREDENTIALS_SECRET_ARN: storage.secrets.edx_credentials.secret_arn
        }
        # Mirror and Decrypt claim manifest rows; a row held by a run that has ended is taken
        # over, which they ask Step Functions about (edx_vault/pipeline/run_liveness.py).
        stack = Stack.of(self)
        sync_state_machine = {
            pipeline_settings.SYNC_STATE_MACHINE_ARN: stack.format_arn(
                service="states",
                resource="stateMachine",
                resource_name=sync_state_machine_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        }
        self.sync_executions_arn = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{sync_state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.plan = self._function(
            "Plan",
            "plan",
            environment={**base_environment, **scope_environment, **edx_credentials},
            timeout=Duration.minutes(10),
            memory_mb=1024,
        )
        self.mirror = self._function(
            "Mirror",
            "mirror",
            environment={**base_environment, **edx_credentials, **sync_state_machine},
            timeout=Duration.minutes(15),
            memory_mb=1024,
        )
        self.collect = self._function(
            "Collect",
            "collect",
            environment=base_environment,
            timeout=Duration.minutes(5),
            # One full vCPU ("At 1,769 MB, a function has the equivalent of one vCPU", Lambda
            # developer guide, Configure Lambda function memory; less memory, a share of one):
            # Collect and Report are botocore's CPU per request and JSON, one Python process,
            # and a backfill's tens of thousands of items fit a quarter of the timeout only
            # with a whole vCPU (bench/pipeline_scale.py). More would add no CPU Python uses.
            memory_mb=1769,
        )
        self.decrypt = self._function(
            "Decrypt",
            "decrypt",
            environment={
                **base_environment,
                **sync_state_machine,
                pipeline_settings.PIPELINE_KEY_SECRET_ARN: storage.secrets.pipeline_key.secret_arn,
                pipeline_settings.PIPELINE_PASSPHRASE_SECRET_ARN: (
                    storage.secrets.pipeline_passphrase.secret_arn
                ),
            },
            timeout=Duration.minutes(15),
            # 1769 MB: one full vCPU, as AWS documents the memory-to-CPU rule (docs/engine.md,
            # "Decrypt speed per dollar", bench/decrypt_cpus.py). On one CPU the engine runs at
            # 0.52 of plain gpg, as fast as its CPU time allows, so every size up to here costs
            # the same per GiB and this one is the fastest. A second core (from 1770 MB) makes it
            # about 1.5x faster but costs 7-14% more CPU per GiB, and needs about 2850 MB to get
            # there; and the one S3 GET the ciphertext comes through (85-90 MB/s) is under half
            # of what one vCPU decrypts. edx_vault/pipeline/cost_model.py prices this same size.
            memory_mb=1769,
            ephemeral_mb=512,
        )
        self.split = self._function(
            "Split",
            "split",
            environment={**base_environment, **sync_state_machine},
            timeout=Duration.minutes(15),
            # One full vCPU, as Decrypt: the split is one Python thread parsing events, and the
            # memory is far more than its buffers need (SplitLimits.peak_bytes, about 400 MiB,
            # whatever the number of courses: edx_vault/engine/course_files.py). A 2 GB gzip log
            # (about 20 GB of events) splits in about 20,000 / 50 = 400 s at the engine's speed
            # on one core (bench/course_split.py: 53-58 MB/s here), inside the 15-minute limit.
            memory_mb=1769,
        )
        self.deidentify = self._function(
            "Deidentify",
            "deidentify",
            environment={
                **base_environment,
                pipeline_settings.PSEUDONYM_KEY_SECRET_ARN: (
                    storage.secrets.pseudonym_key.secret_arn
                ),
            },
            # One full vCPU, as Split: one Python thread parsing events, about 13 MB/s of
            # plaintext (docs/deidentification.md); a batch holds at most 64 MiB of originals
            # (edx_vault/pipeline/steps/deidentify.py), minutes of work, and the plan's listing
            # of the published prefixes takes seconds per hundred thousand files.
            timeout=Duration.minutes(15),
            memory_mb=1769,
        )
        self.catalog = self._function(
            "Catalog",
            "catalog",
            # The projection's org values and first date, as the storage stack's catalog has
            # them (the same configuration fields: stacks/vault_app.py).
            environment={
                **base_environment,
                **glue_database,
                pipeline_settings.ORG_GROUPS: scope_environment[pipeline_settings.ORG_GROUPS],
                pipeline_settings.BACKFILL_FROM: scope_environment[pipeline_settings.BACKFILL_FROM],
            },
            # A listing of database/ and ora/ (1,000 keys a request) and one small GET per
            # table: seconds for a year of weekly exports of a few hundred courses; the timeout
            # leaves room for decades of them.
            timeout=Duration.minutes(15),
            memory_mb=1024,
        )
        self.report = self._function(
            "Report",
            "report",
            environment={
                **base_environment,
                **glue_database,
                pipeline_settings.ALERTS_TOPIC_ARN: topic.topic_arn,
                pipeline_settings.PIPELINE_KEY_SECRET_ARN: storage.secrets.pipeline_key.secret_arn,
                # Says that the de-identify step runs, so its plan must be there (never read:
                # the Report role has no grant on the secret).
                pipeline_settings.PSEUDONYM_KEY_SECRET_ARN: storage.secrets.pseudonym_key.secret_arn,
                # The week's read audit (edx_vault/pipeline/read_audit.py): the data bucket's
                # access logs, and the principals expected in them.
                # arn:{partition}:s3:::{name}: the name is the sixth ":" field.
                pipeline_settings.ACCESS_LOGS_BUCKET: Fn.select(
                    5, Fn.split(":", Fn.import_value(storage.access_logs_arn_export))
                ),
                pipeline_settings.ACCESS_LOG_PREFIX: ACCESS_LOG_PREFIX,
                pipeline_settings.AUDIT_PRINCIPALS: known_principals(config).to_json(),
            },
            timeout=Duration.minutes(10),
            memory_mb=1769,  # one full vCPU, as Collect (above)
        )
        SyncGrants(
            self,
            region=Stack.of(self).region,
            storage=storage,
            logs_key=logs_key,
            glue_database=self._glue_database,
        ).grant_all(topic)
        for function in (self.mirror, self.decrypt, self.split):
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["states:DescribeExecution"], resources=[self.sync_executions_arn]
                )
            )

    def _function(
        self,
        id_: str,
        module: str,
        *,
        environment: dict[str, str],
        timeout: Duration,
        memory_mb: int = 512,
        ephemeral_mb: int = 512,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{id_}Logs",
            retention=LOG_RETENTION,
            encryption_key=self._logs_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        role = iam.Role(
            self,
            f"{id_}Role",
            role_name=pipeline_role_name(self._stack_prefix, module),
            path=PIPELINE_ROLE_PATH,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AWSLambdaBasicExecutionRole"
                )
            ],
        )
        return lambda_.Function(
            self,
            id_,
            role=role,
            description=f"edx-vault sync: {module} step",
            code=self._code,
            handler=f"{module}.handler",
            runtime=self._layers.runtime,
            architecture=self._layers.architecture,
            layers=self._layers.layers,
            environment=environment,
            timeout=timeout,
            memory_size=memory_mb,
            ephemeral_storage_size=Size.mebibytes(ephemeral_mb),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
        )

    @property
    def all(self) -> tuple[lambda_.Function, ...]:
        return (
            self.plan,
            self.mirror,
            self.collect,
            self.decrypt,
            self.split,
            self.deidentify,
            self.catalog,
            self.report,
        )
