"""What each pipeline function may do: exactly the actions its step uses, on exactly its prefixes.

Written out rather than with CDK's ``grant_*`` helpers, whose action groups (``s3:GetObject*``,
``s3:DeleteObject*``, ``kms:ReEncrypt*``...) allow more than any step does; a step that never
deletes gets no delete. Kept apart from :mod:`stacks.sync_functions`, which makes the functions,
so each reads in one sitting.
"""

from __future__ import annotations

from typing import Protocol

from aws_cdk import Acknowledgment, Aws, Fn, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns

from edx_vault.package import bucket_layout
from edx_vault.pipeline.deidentify_plan import COPIED_PREFIXES
from edx_vault.pipeline.steps.catalog import CATALOG_RESULT, listed_prefixes
from edx_vault.pipeline.steps.deidentify import EPOCH_KEY
from stacks.data_bucket import ACCESS_LOG_PREFIX
from stacks.research_catalog import grant_table_upkeep
from stacks.storage_stack import StorageStack


class PipelineFunctions(Protocol):
    """What the grants need of :class:`~stacks.sync_functions.SyncFunctions` (a protocol, so
    this module does not import the one that calls it)."""

    plan: lambda_.Function
    mirror: lambda_.Function
    collect: lambda_.Function
    decrypt: lambda_.Function
    split: lambda_.Function
    deidentify: lambda_.Function
    catalog: lambda_.Function
    report: lambda_.Function
    # Every object prefix each function may touch, by function id, filled in here.
    object_prefixes: dict[str, list[str]]

    @property
    def all(self) -> tuple[lambda_.Function, ...]: ...


class SyncGrants:
    """Grants the functions of :class:`~stacks.sync_functions.SyncFunctions` their permissions.

    Also records, per function, every object prefix it may touch
    (``SyncFunctions.object_prefixes``).
    """

    def __init__(
        self,
        functions: PipelineFunctions,
        *,
        region: str,
        storage: StorageStack,
        logs_key: kms.IKey,
        glue_database: str,
    ) -> None:
        self._functions = functions
        self._region = region
        self._storage = storage
        self._logs_key = logs_key
        self._glue_database = glue_database

    def _secret_value(self, function: lambda_.Function, secret_arn: str) -> None:
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
                        "kms:ViaService": f"secretsmanager.{self._region}.amazonaws.com"
                    }
                },
            )
        )

    def grant_all(self, topic: sns.ITopic) -> None:
        """Each function gets exactly the actions its step uses, on exactly its prefixes.

        Written out rather than with CDK's ``grant_*`` helpers, whose action groups
        (``s3:GetObject*``, ``s3:DeleteObject*``, ``kms:ReEncrypt*``...) allow more than any step
        does; a step that never deletes gets no delete.
        """
        functions = self._functions
        storage = self._storage
        work = bucket_layout.WORK_PREFIX
        raw = bucket_layout.RAW_PREFIX

        secrets = storage.secrets
        for function, secret in (
            (functions.plan, secrets.edx_credentials),
            (functions.mirror, secrets.edx_credentials),
            (functions.decrypt, secrets.pipeline_key),
            (functions.decrypt, secrets.pipeline_passphrase),
            (functions.deidentify, secrets.pseudonym_key),
        ):
            self._secret_value(function, secret.secret_arn)

        read, write = ["s3:GetObject", "s3:GetObjectVersion"], ["s3:PutObject"]
        multipart = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
        self.allow_objects(functions.plan, write, [work])
        self.allow_objects(functions.mirror, read + multipart, [raw, work])
        # Whether a copy exists is asked by listing it (see mirror.existing_copy).
        self.allow_list(functions.mirror, raw)
        self.allow_objects(functions.collect, read + write, [work])
        self.allow_list(functions.collect, work)
        self.allow_objects(functions.decrypt, read, [raw, work])
        decrypted = [
            prefix
            for prefix in bucket_layout.PUBLISHED_PREFIXES
            if prefix != bucket_layout.EVENTS_BY_COURSE_PREFIX  # the split's, not Decrypt's
        ]
        self.allow_objects(functions.decrypt, ["s3:GetObject", *multipart], decrypted)
        self.allow_objects(functions.decrypt, write, [work])
        # Split: reads the published org-level logs, writes the course files (and removes those
        # of courses a re-issued log no longer has, by delete marker: never s3:DeleteObjectVersion),
        # reads and writes its index and results under _work/ and deletes its own spills.
        self.allow_objects(functions.split, ["s3:GetObject"], [bucket_layout.EVENTS_PREFIX])
        self.allow_objects(
            functions.split,
            [*multipart, "s3:DeleteObject"],
            [bucket_layout.EVENTS_BY_COURSE_PREFIX],
        )
        self.allow_objects(functions.split, ["s3:GetObject", *write], [work])
        self.allow_objects(
            functions.split, ["s3:DeleteObject"], [bucket_layout.COURSE_SPLIT_SPILL_PREFIX]
        )
        self._deidentify(multipart)
        self.allow_objects(functions.report, read + write, [work])
        self.allow_list(functions.report, work)
        self.allow_objects(functions.report, write, [bucket_layout.REPORTS_PREFIX])

        table_arn = storage.manifest.table.table_arn
        for function, actions in (
            (functions.plan, ["dynamodb:BatchGetItem", "dynamodb:GetItem"]),
            (functions.mirror, ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]),
            (functions.decrypt, ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]),
            (functions.split, ["dynamodb:GetItem", "dynamodb:UpdateItem"]),
            (functions.report, ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]),
        ):
            function.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[table_arn]))

        self._catalog()

        # Objects and the manifest are under the data key: S3 and DynamoDB ask KMS on the role's
        # behalf, and that is the only way each role may use the key (kms:ViaService, "the
        # request comes from the specified AWS service", AWS KMS developer guide): through
        # DynamoDB only for the functions that read or write the manifest.
        region = self._region
        manifest_users = (
            functions.plan,
            functions.mirror,
            functions.decrypt,
            functions.split,
            functions.report,
        )
        for function in functions.all:
            if function is functions.catalog:
                continue  # through S3 only, in _catalog
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
        functions.report.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[logs_bucket_arn],
                conditions={"StringLike": {"s3:prefix": f"{ACCESS_LOG_PREFIX}*"}},
            )
        )
        log_objects = f"{logs_bucket_arn}/{ACCESS_LOG_PREFIX}*"
        functions.report.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[log_objects])
        )
        Validations.of(functions.report.role).acknowledge(  # type: ignore[arg-type]
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
        functions.report.add_to_role_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:DescribeSecret"],
                resources=[storage.secrets.pipeline_key.secret_arn],
            )
        )
        # Publishing to an encrypted topic needs the topic's key (SNS encrypts on our behalf).
        functions.report.add_to_role_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn])
        )
        functions.report.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self._logs_key.key_arn]
            )
        )

    def _deidentify(self, multipart: list[str]) -> None:
        """The de-identify step: list and read the published files that have copies (each
        copied table's folder, not database/ whole), list, write and remove copies under
        deidentified/ only (by delete marker: never s3:DeleteObjectVersion), its tier marker
        and run files under _work/. No manifest, no raw/, no other published prefix."""
        functions = self._functions
        function = functions.deidentify
        tier = bucket_layout.DEIDENTIFIED_PREFIX
        self.allow_objects(function, ["s3:GetObject"], list(COPIED_PREFIXES))
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
        self.allow_objects(function, [*multipart, "s3:DeleteObject"], [tier])
        self.allow_objects(function, ["s3:GetObject", "s3:PutObject"], [bucket_layout.WORK_PREFIX])

    def _catalog(self) -> None:
        """The catalog step: list the header tables' folders (``database/``, ``ora/`` and the
        de-identified tier's ``deidentified/database/``) and read one header each, keep their
        Glue tables (:func:`stacks.research_catalog.grant_table_upkeep`), write its one result
        file; nothing else."""
        functions = self._functions
        grant_table_upkeep(functions.catalog, database_name=self._glue_database)
        # The prefixes the step lists, from its own list: database/, ora/ and the tier's
        # deidentified/database/.
        table_prefixes = [prefix for prefix, _, _ in listed_prefixes()]
        self.allow_objects(functions.catalog, ["s3:GetObject"], table_prefixes)
        for prefix in table_prefixes:
            self.allow_list(functions.catalog, prefix)
        # Its one write: the run's catalog.json, for the Report step (RunFiles.key).
        result_file = f"{bucket_layout.WORK_PREFIX}*/{CATALOG_RESULT}"
        functions.catalog.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[f"{bucket_arn(self._storage.data.bucket_name)}/{result_file}"],
            )
        )
        # S3 decrypts what it reads and encrypts the result file with the data key, on the
        # role's behalf; the role cannot use the key any other way.
        region = self._region
        functions.catalog.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[self._storage.keys.data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            )
        )
        Validations.of(functions.catalog.role).acknowledge(  # type: ignore[arg-type]
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

    def allow_objects(
        self, function: lambda_.Function, actions: list[str], prefixes: list[str]
    ) -> None:
        known = self._functions.object_prefixes.setdefault(function.node.id, [])
        known.extend(prefix for prefix in prefixes if prefix not in known)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=actions,
                resources=[
                    object_arn(self._storage.data.bucket_name, prefix) for prefix in prefixes
                ],
            )
        )

    def allow_list(self, function: lambda_.Function, prefix: str) -> None:
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
