"""moto CloudFormation handlers for the types in the emulation table, and for unknown types.

Loaded by the server process only (the deploy side's only modules that import moto are this one
and :mod:`edx_vault.devtools.embedded_aws.deploy.emulated_types`). :func:`register` makes moto's
CloudFormation create each type of :data:`~edx_vault.devtools.embedded_aws.deploy.emulated_types.EMULATIONS`
with its row, so moto's CloudFormation keeps working around it: ``Ref`` and ``Fn::GetAtt``
resolve, outputs are filled, DescribeStackResources lists it. A type of
``resource_support.SKIPPED`` creates nothing; a type neither moto nor the table knows fails the
stack by name.

moto finds CloudFormation handlers as the *direct* subclasses of ``CloudFormationModel``, so
:func:`_handler` makes one such class per row from one generic class. Stack updates are not
supported (``local down`` then ``local up`` redeploys from scratch), so no handler implements
``update_from_cloudformation_json``.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from moto.cloudformation import parsing as cfn_parsing
from moto.core.common_models import CloudFormationModel

from edx_vault.devtools.embedded_aws.deploy.emulated_types import (
    EMULATIONS,
    Created,
    Emulation,
    Resource,
)
from edx_vault.devtools.embedded_aws.resource_support import SKIPPED

SKIPPED_TYPE: Final = "edx-vault::Local::Skipped"
UNSUPPORTED_TYPE: Final = "edx-vault::Local::Unsupported"


class UnsupportedResourceError(Exception):
    """A resource type that neither moto nor edx-vault can create."""


def _refuse_unsupported(resource: Resource) -> Created:
    raise UnsupportedResourceError(
        f"{resource.resource_type} is supported neither by moto's CloudFormation nor "
        "by the embedded AWS (edx_vault/devtools/embedded_aws/deploy/emulated_types.py)"
    )


# Stand-ins, not types: any type of ``resource_support.SKIPPED`` (nothing is created), and any
# type neither moto nor the table knows (its creation fails, by name).
_STAND_INS: Final[Mapping[str, Emulation]] = {
    SKIPPED_TYPE: Emulation(lambda resource: Created(resource.name)),
    UNSUPPORTED_TYPE: Emulation(_refuse_unsupported),
}


class _EmulatedResource:
    """What moto's CloudFormation sees of an emulated resource; :func:`_handler` sets the row."""

    RESOURCE_TYPE: ClassVar[str]
    EMULATION: ClassVar[Emulation]

    def __init__(self, created: Created) -> None:
        self.physical_resource_id = created.physical_id
        self._attributes = created.attributes

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.RESOURCE_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.EMULATION.name_property

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name not in self._attributes:
            raise UnsupportedResourceError(
                f"{self.RESOURCE_TYPE} has no attribute {attribute_name!r} on the embedded AWS"
            )
        return self._attributes[attribute_name]

    def is_created(self) -> bool:
        return True

    @classmethod
    def _resource(
        cls, name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> Resource:
        return Resource(
            name,
            str(cloudformation_json.get("Type", cls.RESOURCE_TYPE)),
            cloudformation_json.get("Properties", {}),
            account_id,
            region_name,
        )

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _EmulatedResource:
        resource = cls._resource(resource_name, cloudformation_json, account_id, region_name)
        return cls(cls.EMULATION.create(resource))

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        cls.EMULATION.delete(
            cls._resource(resource_name, cloudformation_json, account_id, region_name)
        )


def _handler(resource_type: str, emulation: Emulation) -> type[CloudFormationModel]:
    """A direct subclass of ``CloudFormationModel`` for one row, as moto looks for them."""
    attributes = {"RESOURCE_TYPE": resource_type, "EMULATION": emulation, "__module__": __name__}
    handler: type[CloudFormationModel] = types.new_class(
        "Emulated" + "".join(resource_type.split("::")[1:]),
        (_EmulatedResource, CloudFormationModel),
        exec_body=lambda namespace: namespace.update(attributes),
    )
    return handler


HANDLERS: Final[Mapping[str, type[CloudFormationModel]]] = {
    resource_type: _handler(resource_type, emulation)
    for resource_type, emulation in {**EMULATIONS, **_STAND_INS}.items()
}


def register() -> None:
    """Make moto's CloudFormation use the handlers above, and fail on unknown types by name.

    moto caches its type-to-handler map on first use (``lru_cache``); the caches are cleared so
    the classes defined here are found whenever this runs.
    """
    for cache in (
        cfn_parsing.get_model_list,
        cfn_parsing.get_model_map,
        cfn_parsing.get_name_type_map,
    ):
        cache.cache_clear()
    original = cfn_parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> type[CloudFormationModel]:
        if resource_type in SKIPPED:
            return HANDLERS[SKIPPED_TYPE]
        found = original(resource_type)
        if found is None and resource_type not in cfn_parsing.NULL_MODELS:
            # moto would warn and leave the resource out, and every Ref to it would resolve to
            # nothing: the stack would report success and be broken.
            return HANDLERS[UNSUPPORTED_TYPE]
        return found

    cfn_parsing.resource_class_from_type = resource_class_from_type
