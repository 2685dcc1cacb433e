"""Step Functions names errors as AWS does, so the vault's Retry and Catch match them.

A throttled Lambda invoke is ``Lambda.TooManyRequestsException`` whatever kind of task made it;
a Distributed Map's failed S3 read or write is ``States.ItemReaderFailed`` or
``States.ResultWriterFailed``. :func:`failure_event` and :func:`states_failure` build the
failure events moto's interpreter raises, for these patches and the payload limit's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast


def failure_event(
    env: Any, error_name: Any, event_type: Any, details_kind: str, error: str, cause: str
) -> Any:
    """A ``FailureEvent`` as moto's own carry it: one kind of event detail (``details_kind``,
    e.g. ``mapRunFailedEventDetails``; its TypedDict requires them all) with the error and
    its cause."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    # EventDetails is a TypedDict: at run time, the dict itself.
    details = cast("EventDetails", {details_kind: {"error": error, "cause": cause}})
    return FailureEvent(
        env=env, error_name=error_name, event_type=event_type, event_details=details
    )


def states_failure(env: Any, error_type: Any, details_kind: str, cause: str) -> Exception:
    """The exception a state raises to fail with a ``States.*`` error (a ``StatesErrorNameType``)."""
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )

    return FailureEventException(
        failure_event=failure_event(
            env,
            StatesErrorName(typ=error_type),
            HistoryEventType.TaskFailed,
            details_kind,
            error_type.to_name(),
            cause,
        )
    )


def _lambda_service_error(client_error: Any) -> tuple[str, str]:
    """The error name and cause Step Functions gives a Lambda ``ClientError``.

    The cause is in the shape moto's ``lambda:invoke`` integration gives it (AWS's, from its
    Java SDK), with ``Request ID: null`` when the response carried none (the fault injector's
    Lambda errors do not), where moto's own formatter raised ``KeyError`` and the task failed
    as ``States.Runtime``.
    """
    response = client_error.response
    code = response["Error"]["Code"]
    metadata = response.get("ResponseMetadata", {})
    details = "; ".join(
        [
            "Service: AWSLambda",
            f"Status Code: {metadata.get('HTTPStatusCode')}",
            f"Error Code: {code}",
            f"Request ID: {metadata.get('RequestId') or 'null'}",
            "Proxy: null",
        ]
    )
    return f"Lambda.{code}", f"{response['Error'].get('Message', '')} ({details})"


def name_lambda_service_errors() -> None:
    """Name a Lambda service error of a task that names its function's ARN ``Lambda.<code>``.

    AWS: "Lambda errors are reported as Lambda.<ErrorCode> ... When Lambda hits the maximum
    number of invocations, the error is Lambda.TooManyRequestsException" (Step Functions
    Developer Guide, "Handle Lambda service exceptions"). moto's interpreter does so for the
    ``arn:aws:states:::lambda:invoke`` integration, but a Task whose Resource is the function's
    ARN (what CDK's ``LambdaInvoke`` synthesizes with ``payload_response_only``, as the vault's
    tasks do) names every Invoke ``ClientError`` ``Exception``: a Retry for
    ``Lambda.TooManyRequestsException`` never matched a throttled invoke. Both kinds of task
    now name and describe it alike (:func:`_lambda_service_error`). A handler's exception
    (``FunctionError: Unhandled``) is not a ``ClientError`` and keeps the handler's
    ``errorType``, as before.
    """
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
        StateTaskLambda,
    )

    original: Callable[..., Any] = StateTaskLambda._from_error

    def from_error(self: StateTaskLambda, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        error, cause = _lambda_service_error(ex)
        return failure_event(
            env,
            CustomErrorName(error),
            HistoryEventType.LambdaFunctionFailed,
            "lambdaFunctionFailedEventDetails",
            error,
            cause,
        )

    StateTaskLambda._from_error = from_error  # type: ignore[method-assign]
    StateTaskServiceLambda._error_cause_from_client_error = staticmethod(  # type: ignore[method-assign]
        _lambda_service_error
    )


def name_map_reader_and_writer_errors() -> None:
    """Name a Distributed Map's failed S3 read or write as AWS does, so a Retry can match it.

    AWS names them ``States.ItemReaderFailed`` ("A Map state failed to read all items as
    specified by the ItemReader field") and ``States.ResultWriterFailed`` ("A Map state failed
    to write all results as specified by the ResultWriter field") (Amazon States Language,
    Appendix A; the ResultWriter (Map) page of the Step Functions Developer Guide: the
    "execution will fail with the States.ResultWriterFailed error"), and "Task States,
    Parallel States, and Map States MAY have a field named Retry" (Amazon States Language,
    "Retrying after error"). moto's interpreter lets the S3 client's exception out of the Map
    state, where it becomes ``States.Runtime``, which no Retry or Catch should match. Here
    any exception of the ItemReader's or ResultWriter's evaluation (an S3 error, a cut
    connection, a work list that is not JSON) is that state's failure under AWS's name, with
    the exception as its cause; failures moto already names (``MaxItems``, a non-array list,
    a path error) are left as they are. moto's Map state then applies its Retry, and a retry
    evaluates the whole state again: a new Map Run that reads the items, runs every child and
    writes the results, as a retried Distributed Map does on AWS.
    """
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.item_reader_decl import (
        ItemReader,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.result_writer_decl import (
        ResultWriter,
    )

    def fail_as(component: type[Any], error_type: StatesErrorNameType) -> None:
        original: Callable[..., None] = component._eval_body

        def eval_body(self: Any, env: Any) -> None:
            try:
                original(self, env)
            except FailureEventException:
                raise
            except Exception as error:
                # The event moto's own ItemReaderFailed (a non-array work list) carries.
                raise states_failure(
                    env, error_type, "mapRunFailedEventDetails", str(error)
                ) from error

        component._eval_body = eval_body

    fail_as(ItemReader, StatesErrorNameType.StatesItemReaderFailed)
    fail_as(ResultWriter, StatesErrorNameType.StatesResultWriterFailed)
