"""The pipeline's Lambda functions, each with only the permissions its step needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    Aws,
    Duration,
    Fn,
    RemovalPolicy,
    Size,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from edx_vault.access.audit import known_principals
from edx_vault.package import bucket_layout
from edx_vault.package.bucket_layout import TABLE_CATEGORIES
from edx_vault.pipeline.deidentify_plan import COPIED_PREFIXES
from edx_vault.pipeline.steps.catalog import CATALOG_RESULT
from edx_vault.pipeline.steps.deidentify import EPOCH_KEY
from edx_vault.settings import pipeline_settings
from edx_vault.settings.config import VaultConfig
from edx_vault.settings.iam_paths import PIPELINE_ROLE_PATH
from edx_vault.settings.resource_names import glue_database_name, pipeline_role_name
from stacks.data_bucket import ACCESS_LOG_PREFIX
from stacks.lambda_layers import LambdaLayers
from stacks.research_catalog import grant_table_upkeep
from stacks.storage_stack import StorageStack

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
        self._grant(topic)
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

    def _grant_secret_value(self, function: lambda_.Function, secret_arn: str) -> None:
        """Read one secret, and decrypt with the secrets key only through Secrets Manager.

        Written as identity policy on purpose: ``Secret.grant_read`` would also add this role to
        the secrets key's policy in the storage stack, a reference back to this stack that makes
        the two stacks depend on each other. The key policy already lets IAM policies grant.
        """
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[secret_arn],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self._storage.keys.secrets_key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{Stack.of(self).region}.amazonaws.com"
                    }
                },
            )
        )

    def _grant(self, topic: sns.ITopic) -> None:
        """Each function gets exactly the actions its step uses, on exactly its prefixes.

        Written out rather than with CDK's ``grant_*`` helpers, whose action groups
        (``s3:GetObject*``, ``s3:DeleteObject*``, ``kms:ReEncrypt*``...) allow more than any step
        does; a step that never deletes gets no delete.
        """
        storage = self._storage
        work = bucket_layout.WORK_PREFIX
        raw = bucket_layout.RAW_PREFIX

        secrets = storage.secrets
        for function, secret in (
            (self.plan, secrets.edx_credentials),
            (self.mirror, secrets.edx_credentials),
            (self.decrypt, secrets.pipeline_key),
            (self.decrypt, secrets.pipeline_passphrase),
            (self.deidentify, secrets.pseudonym_key),
        ):
            self._grant_secret_value(function, secret.secret_arn)

        read, write = ["s3:GetObject", "s3:GetObjectVersion"], ["s3:PutObject"]
        multipart = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
        self._allow_objects(self.plan, write, [work])
        self._allow_objects(self.mirror, read + multipart, [raw, work])
        # Whether a copy exists is asked by listing it (see mirror.existing_copy).
        self._allow_list(self.mirror, raw)
        self._allow_objects(self.collect, read + write, [work])
        self._allow_list(self.collect, work)
        self._allow_objects(self.decrypt, read, [raw, work])
        decrypted = [
            prefix
            for prefix in bucket_layout.PUBLISHED_PREFIXES
            if prefix != bucket_layout.EVENTS_BY_COURSE_PREFIX  # the split's, not Decrypt's
        ]
        self._allow_objects(self.decrypt, ["s3:GetObject", *multipart], decrypted)
        self._allow_objects(self.decrypt, write, [work])
        # Split: reads the published org-level logs, writes the course files (and removes those
        # of courses a re-issued log no longer has, by delete marker: never s3:DeleteObjectVersion),
        # reads and writes its index and results under _work/ and deletes its own spills.
        self._allow_objects(self.split, ["s3:GetObject"], [bucket_layout.EVENTS_PREFIX])
        self._allow_objects(
            self.split,
            [*multipart, "s3:DeleteObject"],
            [bucket_layout.EVENTS_BY_COURSE_PREFIX],
        )
        self._allow_objects(self.split, ["s3:GetObject", *write], [work])
        self._allow_objects(
            self.split, ["s3:DeleteObject"], [bucket_layout.COURSE_SPLIT_SPILL_PREFIX]
        )
        self._grant_deidentify(multipart)
        self._allow_objects(self.report, read + write, [work])
        self._allow_list(self.report, work)
        self._allow_objects(self.report, write, [bucket_layout.REPORTS_PREFIX])

        table_arn = storage.manifest.table.table_arn
        for function, actions in (
            (self.plan, ["dynamodb:BatchGetItem", "dynamodb:GetItem"]),
            (self.mirror, ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]),
            (self.decrypt, ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]),
            (self.split, ["dynamodb:GetItem", "dynamodb:UpdateItem"]),
            (self.report, ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]),
        ):
            function.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[table_arn]))

        self._grant_catalog()

        # Objects and the manifest are under the data key: S3 and DynamoDB ask KMS on the role's
        # behalf, and that is the only way each role may use the key (kms:ViaService, "the
        # request comes from the specified AWS service", AWS KMS developer guide): through
        # DynamoDB only for the functions that read or write the manifest.
        region = Stack.of(self).region
        manifest_users = (self.plan, self.mirror, self.decrypt, self.split, self.report)
        for function in self.all:
            if function is self.catalog:
                continue  # through S3 only, in _grant_catalog
            services = ["s3", *(["dynamodb"] if function in manifest_users else [])]
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[storage.keys.data_key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": [
                                f"{service}.{region}.amazonaws.com" for service in services
                            ]
                        }
                    },
                )
            )

        # The read audit lists and reads the data bucket's access logs, under their prefix only
        # (SSE-S3: no key to grant).
        logs_bucket_arn = Fn.import_value(storage.access_logs_arn_export)
        self.report.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[logs_bucket_arn],
                conditions={"StringLike": {"s3:prefix": f"{ACCESS_LOG_PREFIX}*"}},
            )
        )
        log_objects = f"{logs_bucket_arn}/{ACCESS_LOG_PREFIX}*"
        self.report.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[log_objects])
        )
        Validations.of(self.report.role).acknowledge(  # type: ignore[arg-type]
            Acknowledgment(
                id=(
                    f"AwsSolutions-IAM5[Resource::{storage.access_logs_arn_export}"
                    f"/{ACCESS_LOG_PREFIX}*]"
                ),
                reason=(
                    "The read audit reads the data bucket's access-log objects, which S3 names "
                    "by delivery time under the data-bucket/ prefix; nothing else of the bucket."
                ),
            )
        )
        # The report warns before the key expires from the secret's tags: describe, never read.
        self.report.add_to_role_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:DescribeSecret"],
                resources=[storage.secrets.pipeline_key.secret_arn],
            )
        )
        # Publishing to an encrypted topic needs the topic's key (SNS encrypts on our behalf).
        self.report.add_to_role_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn])
        )
        self.report.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self._logs_key.key_arn]
            )
        )

    def _grant_deidentify(self, multipart: list[str]) -> None:
        """The de-identify step: list and read the published files that have copies (each
        copied table's folder, not database/ whole), list, write and remove copies under
        deidentified/ only (by delete marker: never s3:DeleteObjectVersion), its tier marker
        and run files under _work/. No manifest, no raw/, no other published prefix."""
        function = self.deidentify
        tier = bucket_layout.DEIDENTIFIED_PREFIX
        self._allow_objects(function, ["s3:GetObject"], list(COPIED_PREFIXES))
        # One statement for every listed prefix ("If a single condition operator includes
        # multiple values for a context key, those values are evaluated using a logical OR",
        # IAM User Guide, Conditions with multiple context keys or values): one statement per
        # prefix would take the role's inline policy past IAM's size quota (CDK then moves the
        # overflow to a managed policy).
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket_arn(self._storage.data.bucket_name)],
                conditions={
                    "StringLike": {
                        "s3:prefix": [
                            f"{prefix}*" for prefix in (*COPIED_PREFIXES, tier, EPOCH_KEY)
                        ]
                    }
                },
            )
        )
        self._allow_objects(function, [*multipart, "s3:DeleteObject"], [tier])
        self._allow_objects(function, ["s3:GetObject", "s3:PutObject"], [bucket_layout.WORK_PREFIX])

    def _grant_catalog(self) -> None:
        """The catalog step: list the SELECT * tables' folders and read one header each, keep
        their Glue tables (:func:`stacks.research_catalog.grant_table_upkeep`), write its one
        result file; nothing else."""
        grant_table_upkeep(self.catalog, database_name=self._glue_database)
        table_prefixes = [
            bucket_layout.GRANT_CATEGORY_PREFIXES[category] for category in sorted(TABLE_CATEGORIES)
        ]
        self._allow_objects(self.catalog, ["s3:GetObject"], table_prefixes)
        for prefix in table_prefixes:
            self._allow_list(self.catalog, prefix)
        # Its one write: the run's catalog.json, for the Report step (RunFiles.key).
        result_file = f"{bucket_layout.WORK_PREFIX}*/{CATALOG_RESULT}"
        self.catalog.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[f"{bucket_arn(self._storage.data.bucket_name)}/{result_file}"],
            )
        )
        # S3 decrypts what it reads and encrypts the result file with the data key, on the
        # role's behalf; the role cannot use the key any other way.
        region = Stack.of(self).region
        self.catalog.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[self._storage.keys.data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            )
        )
        Validations.of(self.catalog.role).acknowledge(  # type: ignore[arg-type]
            Acknowledgment(
                id=(
                    f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::"
                    f"{self._storage.data.bucket_name}/{result_file}]"
                ),
                reason=(
                    "The catalog step writes its run's result, _work/{run}/catalog.json; run "
                    "ids are only known at run time."
                ),
            )
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

    def _allow_objects(
        self, function: lambda_.Function, actions: list[str], prefixes: list[str]
    ) -> None:
        known = self.object_prefixes.setdefault(function.node.id, [])
        known.extend(prefix for prefix in prefixes if prefix not in known)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=actions,
                resources=[
                    object_arn(self._storage.data.bucket_name, prefix) for prefix in prefixes
                ],
            )
        )

    def _allow_list(self, function: lambda_.Function, prefix: str) -> None:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket_arn(self._storage.data.bucket_name)],
                conditions={"StringLike": {"s3:prefix": f"{prefix}*"}},
            )
        )


def bucket_arn(bucket_name: str) -> str:
    return f"arn:{Aws.PARTITION}:s3:::{bucket_name}"


def object_arn(bucket_name: str, prefix: str) -> str:
    """The ARN pattern of every object under ``prefix`` (IAM needs the trailing wildcard)."""
    return f"{bucket_arn(bucket_name)}/{prefix}*"
