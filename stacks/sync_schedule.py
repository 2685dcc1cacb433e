"""The EventBridge Scheduler schedule that starts the sync."""

from __future__ import annotations

from aws_cdk import TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from edx_vault.settings.config import ScheduleConfig


class SyncSchedule(Construct):
    """Starts the state machine on the configured cron or rate, in the configured time zone.

    An execution that overlaps the previous one is harmless: the manifest's conditional claims
    make sure no file is processed twice.

    Attributes
    ----------
    schedule
        The schedule.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: ScheduleConfig,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, id_)
        # Our own role rather than the shared one the target would create at stack level.
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com")
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description="edx-vault: start the sync",
            schedule=scheduler.ScheduleExpression.expression(
                config.expression, time_zone=TimeZone.of(config.timezone)
            ),
            target=targets.StepFunctionsStartExecution(
                state_machine,
                input=scheduler.ScheduleTargetInput.from_object({"retry_failed": False}),
                role=self.role,
            ),
        )
