"""The sync state machine: Plan, a Distributed Map that mirrors, Collect, a Distributed Map that
decrypts, Collect again, a Distributed Map that splits the daily event logs by course, the
de-identified tier's plan and a Distributed Map that makes its due copies, UpdateCatalog (the research catalog's SELECT * tables from the newest headers), Report, and a
verdict that fails the execution when any item failed (or the catalog step reported a problem).

Work lists travel through S3 (Distributed Map ItemReader), in batches of up to 100 items (one Map
item, one Lambda invocation: edx_vault/pipeline/run_files.py), results through S3 too: every batch
writes its items' results, and the Report step checks each planned item for one. A Map never fails
because of its items (each iteration catches its task's error), so the verdict is the Report's.

Each Distributed Map also has a ResultWriter: the child executions' outputs go to S3 (under the
run's ``_work/`` prefix), so the Map's result is the address of their manifest, not every
child's output, which would break Step Functions' 256 KiB payload quota on a backfill. A Map's
own read of its work list or write of its results is retried like the tasks' transient errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from edx_vault.package.bucket_layout import WORK_PREFIX
from edx_vault.settings.iam_paths import PIPELINE_ROLE_PATH

# Retried with back-off: throttling and network trouble (raised by the handlers as
# TransientError) and Lambda's own transient failures. Nothing else is retried.
TRANSIENT_ERRORS: Final = [
    "TransientError",
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
]

# A Distributed Map's own S3 calls: "States.ItemReaderFailed: A Map state failed to read all
# items as specified by the ItemReader field", "States.ResultWriterFailed: A Map state failed to
# write all results as specified by the ResultWriter field" (Amazon States Language, Appendix A),
# and "Task States, Parallel States, and Map States MAY have a field named Retry" (its
# "Retrying after error"). S3 throttling (503 SlowDown) or a 500 there is transient like the
# tasks' errors; a retry runs the Map again (a new Map Run), whose items find their earlier
# work in the manifest.
MAP_IO_ERRORS: Final = ["States.ItemReaderFailed", "States.ResultWriterFailed"]

# Each Map run writes its results to _work/{run id}/map-runs/{state}/{map run id}/: a
# manifest.json and the result files it lists. The run id is the execution's name (Plan is
# given $$.Execution.Name as its execution_name), read here from the context object.
MAP_RUNS_FOLDER: Final = "map-runs"
# What Step Functions does in the bucket to write a Map run's results: the actions CDK grants
# for a ResultWriter (and AWS's "IAM policies for ResultWriter" lists), on _work/ only.
RESULT_WRITER_ACTIONS: Final = (
    "s3:PutObject",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
)


class _WorkPrefixResultWriter(sfn.ResultWriterV2):
    """CDK's ResultWriter, with the state machine's S3 access limited to ``_work/``.

    CDK grants the ResultWriter's actions on every object of the bucket (``bucket/*``), which
    would let the state machine overwrite published data; the results only ever go under
    ``_work/``, so that is where the grant is.
    """

    def __init__(self, bucket: s3.IBucket, state_name: str) -> None:
        super().__init__(
            bucket=bucket,
            prefix=sfn.JsonPath.format(
                f"{WORK_PREFIX}{{}}/{MAP_RUNS_FOLDER}/{state_name}",
                sfn.JsonPath.string_at("$$.Execution.Name"),
            ),
        )
        self._work_objects = bucket.arn_for_objects(f"{WORK_PREFIX}*")

    def provide_policy_statements(self) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(actions=list(RESULT_WRITER_ACTIONS), resources=[self._work_objects])
        ]


class _WorkPrefixItemReader(sfn.S3JsonItemReader):
    """CDK's JSON ItemReader, reading only ``_work/``.

    CDK grants the ItemReader ``s3:GetObject`` on every object of the bucket (the key is only
    known at run time), which would let the state machine read published learner data; the
    work lists are only ever under ``_work/`` (the items_key paths Plan and Collect return).
    """

    def __init__(self, bucket: s3.IBucket, key_path: str) -> None:
        super().__init__(bucket=bucket, key=sfn.JsonPath.string_at(key_path))
        self._work_objects = bucket.arn_for_objects(f"{WORK_PREFIX}*")

    def provide_policy_statements(self) -> list[iam.PolicyStatement]:
        return [iam.PolicyStatement(actions=["s3:GetObject"], resources=[self._work_objects])]


class SyncStateMachine(Construct):
    """The sync's state machine, running as the role named ``role_name``.

    Attributes
    ----------
    state_machine
        The Standard state machine.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        plan: lambda_.IFunction,
        mirror: lambda_.IFunction,
        collect: lambda_.IFunction,
        decrypt: lambda_.IFunction,
        split: lambda_.IFunction,
        deidentify: lambda_.IFunction,
        catalog: lambda_.IFunction,
        report: lambda_.IFunction,
        max_concurrency: int,
        logs_key: kms.IKey,
        name: str,
        role_name: str,
    ) -> None:
        super().__init__(scope, id_)
        plan_task = self._step(
            "Plan",
            plan,
            {
                "execution_name": sfn.JsonPath.string_at("$$.Execution.Name"),
                "start_time": sfn.JsonPath.string_at("$$.Execution.StartTime"),
                "input": sfn.JsonPath.object_at("$"),
            },
            result_path="$.plan",
        )
        run_id = {"run_id": sfn.JsonPath.string_at("$.plan.run_id")}
        mirror_map = self._item_map(
            "MirrorFiles", bucket, "$.plan.mirror_items_key", mirror, max_concurrency
        )
        collect_task = self._step("CollectUnits", collect, run_id, result_path="$.collect")
        decrypt_map = self._item_map(
            "DecryptFiles", bucket, "$.plan.decrypt_items_key", decrypt, max_concurrency
        )
        collect_splits_task = self._step(
            "CollectSplits",
            collect,
            {**run_id, "work_list": "split"},
            result_path="$.collect_splits",
        )
        split_map = self._item_map(
            "SplitEventLogs", bucket, "$.plan.split_items_key", split, max_concurrency
        )
        report_task = self._step("Report", report, run_id, result_path="$.report")
        catalog_task = self._step("UpdateCatalog", catalog, run_id, result_path="$.catalog")
        # A catalog step that still fails after its retries must not keep the run from its
        # report (which settles the sources): the Report step finds no catalog result and
        # reports it as a failure of the run. The published data is not touched either way.
        catalog_task.add_catch(report_task, result_path="$.catalog_error")
        # The de-identified tier, rebuilt from the published files after the split: its plan
        # (one task), then its due copies (a Map, as the others). A plan that fails after its
        # retries (the pseudonym key not set yet) skips the copies: the Report step finds the
        # plan's error, or no plan, and fails the run; the published data is not touched.
        deidentify_plan_task = self._step(
            "PlanDeidentified",
            deidentify,
            {**run_id, "action": "plan"},
            result_path="$.deidentify_plan",
        )
        deidentify_plan_task.add_catch(catalog_task, result_path="$.deidentify_error")
        deidentify_map = self._item_map(
            "DeidentifyFiles", bucket, "$.deidentify_plan.items_key", deidentify, max_concurrency
        )
        verdict = (
            sfn.Choice(self, "AnyItemFailed")
            .when(
                sfn.Condition.number_greater_than("$.report.failed", 0),
                sfn.Fail(
                    self,
                    "ItemsFailed",
                    error="ItemsFailed",
                    cause="Some files failed; the run report in reports/ says which and why",
                ),
            )
            .otherwise(sfn.Succeed(self, "AllFilesSynced"))
        )
        definition = (
            plan_task.next(mirror_map)
            .next(collect_task)
            .next(decrypt_map)
            .next(collect_splits_task)
            .next(split_map)
            .next(deidentify_plan_task)
            .next(deidentify_map)
            .next(catalog_task)
            .next(report_task)
        ).next(verdict)
        log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.THIRTEEN_MONTHS,
            encryption_key=logs_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            role=iam.Role(
                self,
                "Role",
                role_name=role_name,
                path=PIPELINE_ROLE_PATH,
                assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            ),
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.hours(24),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
        )
        self._allow_result_writer_encryption(bucket)

    def _allow_result_writer_encryption(self, bucket: s3.IBucket) -> None:
        """Let the ResultWriters' puts be encrypted under the bucket's key.

        They send no encryption headers (so the bucket policy, which only refuses a put that
        asks for another encryption, lets them through) and get the bucket's default, SSE-KMS
        with the data key: S3 then calls KMS as the state machine's role, GenerateDataKey for a
        put, Decrypt for the parts of a multipart upload. This construct is handed the bucket by
        name, not the key, so the grant names no key but holds only through S3 and only for
        this bucket: the encryption context of an object under an S3 Bucket Key is the bucket's
        ARN (of an object without one, the object's ARN, here under ``_work/``).
        """
        stack = Stack.of(self)
        any_key = stack.format_arn(service="kms", resource="key", resource_name="*")
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[any_key],
                conditions={
                    "StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"},
                    "ArnLike": {
                        "kms:EncryptionContext:aws:s3:arn": [
                            bucket.bucket_arn,
                            bucket.arn_for_objects(f"{WORK_PREFIX}*"),
                        ]
                    },
                },
            )
        )
        # cdk-nag's wildcard findings on these two grants, acknowledged here, where the grants
        # are made (stacks/nag_acknowledgements.py holds the others).
        Validations.of(self.state_machine.role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{bucket.arn_for_objects(f'{WORK_PREFIX}*')}]",
                reason=(
                    "The Distributed Maps' ResultWriters write each Map run's results under "
                    "_work/{run}/map-runs/, in files Step Functions names at run time."
                ),
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{any_key}]",
                reason=(
                    "S3 encrypts the ResultWriters' objects with the bucket's default key; the "
                    "grant holds only through S3 (kms:ViaService) and only for this bucket's "
                    "objects (kms:EncryptionContext:aws:s3:arn)."
                ),
            ),
        )

    def _step(
        self,
        id_: str,
        function: lambda_.IFunction,
        payload: Mapping[str, object] | None,
        *,
        result_path: str | None = None,
    ) -> tasks.LambdaInvoke:
        """A Lambda task that passes the handler's dict on and retries only transient errors."""
        task = tasks.LambdaInvoke(
            self,
            id_,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload) if payload is not None else None,
            payload_response_only=True,
            result_path=result_path,
            retry_on_service_exceptions=False,
        )
        task.add_retry(
            errors=TRANSIENT_ERRORS,
            interval=Duration.seconds(5),
            max_attempts=5,
            backoff_rate=2.0,
            jitter_strategy=sfn.JitterType.FULL,
        )
        return task

    def _item_map(
        self,
        id_: str,
        bucket: s3.IBucket,
        items_key_path: str,
        function: lambda_.IFunction,
        max_concurrency: int,
    ) -> sfn.DistributedMap:
        task = self._step(f"{id_}Task", function, None)
        # A task that still fails leaves no result file; the Report step turns that into a
        # "no-result" failure. The iteration itself succeeds, so the Map runs every item.
        task.add_catch(sfn.Pass(self, f"{id_}LeftNoResult"), result_path="$.error")
        item_map = sfn.DistributedMap(
            self,
            id_,
            item_reader=_WorkPrefixItemReader(bucket, items_key_path),
            item_selector={"item": sfn.JsonPath.object_at("$$.Map.Item.Value")},
            max_concurrency=max_concurrency,
            # Standard child executions: moto runs them, and a weekly run's few thousand
            # transitions cost cents (see docs/cost.md).
            map_execution_type=sfn.StateMachineType.STANDARD,
            # Without a ResultWriter the Map's result is every child's output ("COMPACT ...
            # Default when ResultWriter is not specified", AWS docs, ResultWriter (Map)), held
            # like a task's result to the quota "Maximum input or output size for a task,
            # state, or execution: 262,144 bytes of data as a UTF-8 encoded string" (Step
            # Functions service quotas) whatever ResultPath then does with it. A backfill
            # exceeds it and the execution fails with States.DataLimitExceeded, "a terminal
            # error that can't be caught by the States.ALL error type" (Handling errors in
            # Step Functions workflows). With one, the result is the address of the run's
            # manifest in S3, discarded too: the Report step reads the items' result files.
            result_writer_v2=_WorkPrefixResultWriter(bucket, id_),
            result_path=sfn.JsonPath.DISCARD,
        )
        item_map.item_processor(task)
        item_map.add_retry(
            errors=MAP_IO_ERRORS,
            interval=Duration.seconds(5),
            max_attempts=3,
            backoff_rate=2.0,
            jitter_strategy=sfn.JitterType.FULL,
        )
        return item_map
