"""Whether the run holding a manifest claim is still running, asked of Step Functions.

A claim protects a row for a lease (:data:`edx_vault.pipeline.manifest.DEFAULT_LEASE`) because a step
may still be working on it. A run that has ended cannot be: its execution failed before its
report could release what it held (a fault that also stopped the Report step), it was stopped
by an admin, or it timed out. Its claims are dead, and the next run takes them over at once
instead of reporting ``held-by-another-run`` for 20 minutes after an admin fixed the fault.

A run id is its execution's name (the Plan step is given ``$$.Execution.Name``), so the holder's
execution ARN is the state machine's with the name appended. Only a definite answer ends a
claim: a run Step Functions says is not ``RUNNING``, or one it does not know (not an execution of
this state machine, or one older than its history). Any other error keeps the lease.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError

from edx_vault.engine.errors import aws_error_code

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

logger = logging.getLogger(__name__)

RUNNING: Final = "RUNNING"
_STATE_MACHINE_PART: Final = ":stateMachine:"
_EXECUTION_PART: Final = ":execution:"


def execution_arn(state_machine_arn: str, run_id: str) -> str:
    """The ARN of execution ``run_id`` of the state machine ``state_machine_arn``."""
    if _STATE_MACHINE_PART not in state_machine_arn:
        raise ValueError(f"not a state machine ARN: {state_machine_arn}")
    return f"{state_machine_arn.replace(_STATE_MACHINE_PART, _EXECUTION_PART, 1)}:{run_id}"


class RunLiveness:
    """Answers "has run X ended?" for the runs of one state machine.

    Parameters
    ----------
    stepfunctions
        A Step Functions client allowed ``states:DescribeExecution`` on the machine's executions.
    state_machine_arn
        The sync state machine's ARN.
    """

    def __init__(self, stepfunctions: SFNClient, state_machine_arn: str) -> None:
        self._stepfunctions = stepfunctions
        self._state_machine_arn = state_machine_arn

    def has_ended(self, run_id: str) -> bool:
        """True when Step Functions says run ``run_id`` is over (or never was one of ours)."""
        arn = execution_arn(self._state_machine_arn, run_id)
        try:
            status = self._stepfunctions.describe_execution(executionArn=arn)["status"]
        except ClientError as error:
            code = aws_error_code(error)
            if code == "ExecutionDoesNotExist":
                return True
            logger.warning("could not tell whether run %s has ended (%s)", run_id, code)
            return False
        except BotoCoreError as error:
            logger.warning("could not tell whether run %s has ended (%s)", run_id, error)
            return False
        return status != RUNNING
