"""A small CDK app with what the embedded AWS must run: a Lambda and a Distributed Map over S3.

Two stacks, so deployment order and cross-stack references are exercised as in the vault app:
``LocalFixture-Data`` holds a bucket; ``LocalFixture-Flow`` holds a Lambda function (code from
``fixture_lambdas/``, handler ``fixture_handler.handler``) and a Standard state machine whose
Distributed Map reads its items from a JSON array in that bucket (``ItemReader`` with
``s3:getObject``), invokes the function per item with a Retry for ``FixtureFlakyError`` and a
Catch for ``FixtureBoomError``.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

HANDLERS = Path(__file__).resolve().parent / "fixture_lambdas"
HANDLER_PACKAGE = "tests.local.fixture_lambdas"
DATA_STACK = "LocalFixture-Data"
FLOW_STACK = "LocalFixture-Flow"
ACCOUNT = "123456789012"
REGION = "us-east-1"
GREETING = "hello from the function's environment"


class DataStack(cdk.Stack):
    def __init__(self, scope: cdk.App, id_: str, **kwargs: object) -> None:
        super().__init__(scope, id_, **kwargs)  # type: ignore[arg-type]
        self.bucket = s3.Bucket(self, "Items", removal_policy=cdk.RemovalPolicy.DESTROY)
        cdk.CfnOutput(self, "ItemsBucketName", value=self.bucket.bucket_name)


class FlowStack(cdk.Stack):
    def __init__(self, scope: cdk.App, id_: str, *, bucket: s3.IBucket, **kwargs: object) -> None:
        super().__init__(scope, id_, **kwargs)  # type: ignore[arg-type]
        function = lambda_.Function(
            self,
            "Worker",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="fixture_handler.handler",
            code=lambda_.Code.from_asset(str(HANDLERS)),
            environment={"FIXTURE_GREETING": GREETING, "FIXTURE_BUCKET": bucket.bucket_name},
            timeout=cdk.Duration.seconds(30),
        )
        bucket.grant_read_write(function)
        invoke = tasks.LambdaInvoke(
            self,
            "Work",
            lambda_function=function,
            retry_on_service_exceptions=False,
            output_path="$.Payload",
        )
        invoke.add_retry(
            errors=["FixtureFlakyError"],
            interval=cdk.Duration.seconds(5),
            max_attempts=3,
            backoff_rate=2,
        )
        caught = sfn.Pass(
            self,
            "Caught",
            parameters={"id.$": "$.id", "failed": True, "error.$": "$.caught.Error"},
        )
        invoke.add_catch(caught, errors=["FixtureBoomError"], result_path="$.caught")
        each_item = sfn.DistributedMap(
            self,
            "EachItem",
            item_reader=sfn.S3JsonItemReader(
                bucket=bucket, key=sfn.JsonPath.string_at("$.itemsKey")
            ),
            max_concurrency=4,
        )
        each_item.item_processor(invoke)
        machine = sfn.StateMachine(
            self,
            "Machine",
            definition_body=sfn.DefinitionBody.from_chainable(each_item),
            state_machine_type=sfn.StateMachineType.STANDARD,
        )
        cdk.CfnOutput(self, "StateMachineArn", value=machine.state_machine_arn)
        cdk.CfnOutput(self, "FunctionName", value=function.function_name)


def build_fixture_app(outdir: str) -> cdk.App:
    """The two-stack app, writing its cloud assembly to ``outdir``."""
    app = cdk.App(outdir=outdir)
    env = cdk.Environment(account=ACCOUNT, region=REGION)
    data = DataStack(app, DATA_STACK, env=env)
    FlowStack(app, FLOW_STACK, bucket=data.bucket, env=env)
    return app
