"""PipelineStack: the functions, state machine, schedule, topic and alarms of the sync."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from edx_vault.settings import stack_outputs
from edx_vault.settings.config import VaultConfig
from edx_vault.settings.resource_names import pipeline_role_name
from stacks.monitoring import AlertsTopic, OperationsKey, SyncAlarms
from stacks.storage_stack import StorageStack
from stacks.sync_functions import SyncFunctions
from stacks.sync_schedule import SyncSchedule
from stacks.sync_state_machine import SyncStateMachine


class PipelineStack(Stack):
    """Everything that runs. It holds no data: it can be redeployed or removed freely."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: VaultConfig,
        storage: StorageStack,
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, id_, **stack_props)
        self.storage_bucket_name = storage.data.bucket_name
        # Declared before any grant, so CDK writes this stack's grants as identity policy rather
        # than into the storage stack's key policies (a reference back, and KMS rejects a
        # Principal naming a role that does not exist yet). The storage stack names these
        # roles itself, by their fixed names, in its policies' aws:PrincipalArn conditions
        # (stacks/vault_boundary.py).
        self.add_stack_dependency(storage)
        self.operations_key = OperationsKey(self, "OperationsKey").key
        self.alerts = AlertsTopic(
            self, "Alerts", email=config.alerts.email, key=self.operations_key
        )
        # Named, so the functions can ask about its executions without a reference to it (the
        # state machine refers to the functions; a reference back would be a cycle).
        sync_name = f"{self.stack_name}-sync"
        self.functions = SyncFunctions(
            self,
            "Functions",
            config=config,
            storage=storage,
            topic=self.alerts.topic,
            logs_key=self.operations_key,
            sync_state_machine_name=sync_name,
        )
        functions = self.functions
        self.sync = SyncStateMachine(
            self,
            "Sync",
            # By name, so the state machine's policy names the bucket as a plain string.
            bucket=s3.Bucket.from_bucket_name(self, "DataBucket", storage.data.bucket_name),
            plan=functions.plan,
            mirror=functions.mirror,
            collect=functions.collect,
            decrypt=functions.decrypt,
            split=functions.split,
            deidentify=functions.deidentify,
            catalog=functions.catalog,
            report=functions.report,
            max_concurrency=config.schedule.max_concurrency,
            logs_key=self.operations_key,
            name=sync_name,
            role_name=pipeline_role_name(config.deployment.stack_prefix, "sync"),
        )
        # The ItemReader reads the work lists, which are encrypted under the data key: S3
        # decrypts them on the role's behalf, the only way the role may use the key.
        self.sync.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[storage.keys.data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"}},
            )
        )
        self.schedule = SyncSchedule(
            self, "Schedule", config=config.schedule, state_machine=self.sync.state_machine
        )
        self.alarms = SyncAlarms(
            self,
            "Alarms",
            topic=self.alerts.topic,
            state_machine=self.sync.state_machine,
            no_new_data_days=config.schedule.no_new_data_alarm_days,
        )
        outputs = {
            stack_outputs.STATE_MACHINE_ARN: self.sync.state_machine.state_machine_arn,
            stack_outputs.ALERTS_TOPIC_ARN: self.alerts.topic.topic_arn,
            stack_outputs.SCHEDULE_NAME: self.schedule.schedule.schedule_name,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
