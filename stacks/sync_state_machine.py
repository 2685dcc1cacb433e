"""The sync state machine: Plan, a Distributed Map that mirrors, Collect, a Distributed Map that
decrypts, Report, and a verdict that fails the execution when any item failed.

Work lists travel through S3 (Distributed Map ItemReader), results through S3 too: every item
writes its own result, and the Report step checks each planned item for one. A Map never fails
because of its items (each iteration catches its task's error), so the verdict is the Report's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from edx_vault.iam_paths import PIPELINE_ROLE_PATH

# Retried with back-off: throttling and network trouble (raised by the handlers as
# TransientError) and Lambda's own transient failures. Nothing else is retried.
TRANSIENT_ERRORS: Final = [
    "TransientError",
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
]


class SyncStateMachine(Construct):
    """Attributes
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
        report: lambda_.IFunction,
        max_concurrency: int,
        logs_key: kms.IKey,
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
        report_task = self._step("Report", report, run_id, result_path="$.report")
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
            plan_task.next(mirror_map).next(collect_task).next(decrypt_map).next(report_task)
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
                path=PIPELINE_ROLE_PATH,
                assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            ),
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.hours(24),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
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
            item_reader=sfn.S3JsonItemReader(
                bucket=bucket, key=sfn.JsonPath.string_at(items_key_path)
            ),
            item_selector={"item": sfn.JsonPath.object_at("$$.Map.Item.Value")},
            max_concurrency=max_concurrency,
            # Standard child executions: moto runs them, and a weekly run's few thousand
            # transitions cost cents (see docs/cost.md).
            map_execution_type=sfn.StateMachineType.STANDARD,
            result_path=sfn.JsonPath.DISCARD,
        )
        item_map.item_processor(task)
        return item_map
