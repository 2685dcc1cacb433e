"""A stack whose resource fails to create ends ``CREATE_FAILED`` with the reason, as on AWS.

moto creates a stack's resources inside the CreateStack request and, when one raises, answers
HTTP 500 with no message and leaves the stack ``CREATE_IN_PROGRESS`` forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

LOGGER = logging.getLogger("edx_vault.devtools.embedded_aws")


class ResourceCreationFailedError(Exception):
    """One resource of a stack could not be created."""

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


def report_failed_resources_as_cloudformation_does() -> None:
    """Turn a resource that fails to create into a ``CREATE_FAILED`` stack, with the reason.

    moto creates a stack's resources inside the CreateStack request: when one raises, the
    request fails with an HTTP 500 and no message, and the stack stays ``CREATE_IN_PROGRESS``
    forever. Here the stack becomes ``CREATE_FAILED``, with a ``CREATE_FAILED`` event naming the
    resource, its type and the error, as CloudFormation reports it. (There is no rollback: what
    was created stays, as with ``--disable-rollback``.)
    """
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend

    original_create: Callable[..., Any] = parsing.parse_and_create_resource

    def parse_and_create_resource(
        logical_id: str,
        resource_json: dict[str, Any],
        resources_map: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        try:
            return original_create(
                logical_id, resource_json, resources_map, account_id, region_name
            )
        except ResourceCreationFailedError:
            raise
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            raise ResourceCreationFailedError(
                logical_id, str(resource_json.get("Type")), reason
            ) from error

    parsing.parse_and_create_resource = parse_and_create_resource

    # Resources are created lazily, from wherever moto first needs one: CreateStack's export
    # check as well as Stack.create_resources. So the failure is caught around CreateStack.
    original_create_stack: Callable[..., Any] = CloudFormationBackend.create_stack

    def create_stack(self: CloudFormationBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return original_create_stack(self, name, *args, **kwargs)
        except ResourceCreationFailedError as failure:
            LOGGER.warning("stack %s: %s", name, failure)
            stack = next((stack for stack in self.stacks.values() if stack.name == name), None)
            if stack is None:  # failed before moto recorded the stack
                raise ValidationError(message=f"{name}: {failure}") from failure
            _mark_failed(stack, failure)
            return stack

    CloudFormationBackend.create_stack = create_stack  # type: ignore[method-assign]


class _NoOutputs(dict[str, Any]):
    """The outputs of a stack that failed: none, and no exports."""

    @property
    def exports(self) -> list[Any]:
        return []


def _mark_failed(stack: Any, failure: ResourceCreationFailedError) -> None:
    from moto.cloudformation.models import Event

    stack.status = "CREATE_FAILED"
    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=failure.logical_id,
            physical_resource_id="",
            resource_type=failure.resource_type,
            resource_status="CREATE_FAILED",
            resource_status_reason=failure.reason,
            resource_properties=None,
        )
    )
    # A failed stack has no outputs; moto would evaluate them, and so retry the failed resource.
    stack.output_map = _NoOutputs()
    stack._add_stack_event(
        "CREATE_FAILED",
        resource_status_reason=f"The following resource failed to create: [{failure.logical_id}].",
    )
