"""State machine definitions: rebuilt from the template, then judged by asl-validator.

AWS validates a definition when CloudFormation calls ``CreateStateMachine`` and fails the stack
on an ``InvalidDefinition``. :func:`state_machine_definitions` rebuilds each definition as
CloudFormation would pass it, with plausible placeholders for what only the deployment knows,
and :func:`template_definition_errors` has asl-validator
(:mod:`edx_vault.devtools.embedded_aws.deploy.rules.asl_validation`) judge them all in one run;
:func:`state_machine_violations` reports its findings as the deploy-time rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from edx_vault.devtools.embedded_aws import ACCOUNT_ID
from edx_vault.devtools.embedded_aws.deploy.rules.asl_validation import validate_definitions
from edx_vault.devtools.embedded_aws.deploy.rules.violation import Violation

STATE_MACHINE_TYPE: Final = "AWS::StepFunctions::StateMachine"
# Where the placeholders say the resources are: any well-formed values would do.
PLACEHOLDER_REGION: Final = "us-east-1"
PLACEHOLDER_ACCOUNT: Final = ACCOUNT_ID
# What an intrinsic function this module does not evaluate becomes: an ARN, so it is
# well-formed wherever the definition expects one (a Task's Resource) and a plain string
# elsewhere.
PLACEHOLDER_ARN: Final = (
    f"arn:aws:lambda:{PLACEHOLDER_REGION}:{PLACEHOLDER_ACCOUNT}:function:placeholder"
)
_PSEUDO_PARAMETERS: Final[Mapping[str, str]] = {
    "AWS::Partition": "aws",
    "AWS::Region": PLACEHOLDER_REGION,
    "AWS::AccountId": PLACEHOLDER_ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "placeholder-stack",
    "AWS::StackId": (
        f"arn:aws:cloudformation:{PLACEHOLDER_REGION}:{PLACEHOLDER_ACCOUNT}:stack/"
        "placeholder-stack/00000000-0000-0000-0000-000000000000"
    ),
    "AWS::NoValue": "",
}
# Resource types whose Ref is their ARN (for the others, Ref is a name or an id).
_REF_IS_ARN: Final = frozenset(
    {
        "AWS::Lambda::Alias",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Version",
        "AWS::SNS::Topic",
        "AWS::SecretsManager::Secret",
        "AWS::IAM::ManagedPolicy",
        "AWS::StepFunctions::Activity",
        "AWS::StepFunctions::StateMachine",
    }
)
# The ARN shapes a Task's Resource names directly; other types get a generic shape.
_ARN_FORMATS: Final[Mapping[str, str]] = {
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::Lambda::Alias": "arn:aws:lambda:{region}:{account}:function:{name}:live",
    "AWS::Lambda::Version": "arn:aws:lambda:{region}:{account}:function:{name}:1",
    "AWS::StepFunctions::Activity": "arn:aws:states:{region}:{account}:activity:{name}",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
}
_SUBSTITUTION: Final = re.compile(r"\$\{(?P<name>[^}]*)\}")


class _Placeholders:
    """Plausible values for a template's intrinsic functions, so a definition parses."""

    def __init__(self, template: Mapping[str, Any]) -> None:
        self._resources: Mapping[str, Any] = template.get("Resources", {})
        self._parameters: Mapping[str, Any] = template.get("Parameters", {})
        self._mappings: Mapping[str, Any] = template.get("Mappings", {})

    def _type(self, logical_id: str) -> str:
        resource = self._resources.get(logical_id, {})
        return str(resource.get("Type", "")) if isinstance(resource, Mapping) else ""

    def arn(self, logical_id: str) -> str:
        """An ARN of the resource's type, named after its logical id."""
        kind = self._type(logical_id)
        template = _ARN_FORMATS.get(kind)
        if template is not None:
            return template.format(
                region=PLACEHOLDER_REGION, account=PLACEHOLDER_ACCOUNT, name=logical_id
            )
        parts = kind.split("::")
        if len(parts) == 3:
            service, noun = parts[1].lower(), parts[2].lower()
            return (
                f"arn:aws:{service}:{PLACEHOLDER_REGION}:{PLACEHOLDER_ACCOUNT}:{noun}/{logical_id}"
            )
        return PLACEHOLDER_ARN

    def ref(self, name: str) -> str:
        if name in _PSEUDO_PARAMETERS:
            return _PSEUDO_PARAMETERS[name]
        parameter = self._parameters.get(name)
        if isinstance(parameter, Mapping):
            default = parameter.get("Default")
            return f"placeholder-{name.lower()}" if default is None else str(default)
        if name in self._resources:
            if self._type(name) in _REF_IS_ARN:
                return self.arn(name)
            # A name or an id; lower case, so it is also a plausible bucket name.
            return name.lower()
        return PLACEHOLDER_ARN

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute.endswith("Arn"):
            return self.arn(logical_id)
        return f"{logical_id.lower()}-{attribute.lower()}"

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match["name"]
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return self.resolve(variables[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return self.ref(name)

        return _SUBSTITUTION.sub(replace, text)

    def resolve(self, value: Any) -> str:
        """The value as CloudFormation would give it, with placeholders for the unknowable."""
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if not isinstance(value, Mapping) or len(value) != 1:
            return PLACEHOLDER_ARN
        [(function, argument)] = value.items()
        resolved = PLACEHOLDER_ARN
        if function == "Ref":
            resolved = self.ref(str(argument))
        elif function == "Fn::GetAtt":
            logical_id, attribute = (
                argument.split(".", 1) if isinstance(argument, str) else argument
            )
            resolved = self.get_att(str(logical_id), str(attribute))
        elif function == "Fn::Join" and isinstance(argument[1], list):
            resolved = self.resolve(argument[0]).join(self.resolve(part) for part in argument[1])
        elif function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            resolved = self._sub(text, variables)
        elif (
            function == "Fn::Select"
            and isinstance(argument[0], int)
            and isinstance(argument[1], list)
        ):
            resolved = self.resolve(argument[1][argument[0]])
        elif function == "Fn::If":
            # The condition's value is not known here; either branch must make a valid
            # definition, so the first one is checked.
            resolved = self.resolve(argument[1])
        elif function == "Fn::FindInMap":
            mapped = self._mappings
            for key in argument:
                mapped = mapped.get(self.resolve(key), {}) if isinstance(mapped, Mapping) else {}
            resolved = self.resolve(mapped) if isinstance(mapped, str | int | float) else resolved
        return resolved


def _json_string_content(text: str) -> str:
    """The text escaped for the inside of a JSON string, where the template pieces put it."""
    return json.dumps(text)[1:-1]


def _definition_text(properties: Mapping[str, Any], placeholders: _Placeholders) -> str | None:
    """The definition CloudFormation would pass to CreateStateMachine; None if it is in S3."""
    definition = properties.get("DefinitionString")
    if definition is None and "Definition" in properties:
        text = json.dumps(properties["Definition"])
    elif definition is None:
        return None
    elif isinstance(definition, Mapping) and set(definition) == {"Fn::Join"}:
        separator, parts = definition["Fn::Join"]
        text = str(separator).join(
            part if isinstance(part, str) else _json_string_content(placeholders.resolve(part))
            for part in parts
        )
    else:
        text = placeholders.resolve(definition)
    for name, value in properties.get("DefinitionSubstitutions", {}).items():
        text = text.replace("${" + name + "}", _json_string_content(placeholders.resolve(value)))
    return text


def _state_machines(template: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if isinstance(resource, Mapping) and resource.get("Type") == STATE_MACHINE_TYPE:
            yield logical_id, resource.get("Properties", {})


def state_machine_definitions(template: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every state machine's definition in a CloudFormation template, as JSON text.

    The definition is rebuilt as CloudFormation would: a ``DefinitionString`` that is an
    ``Fn::Join`` (as the CDK writes it) is joined, with each intrinsic function part
    (``Ref``, ``Fn::GetAtt``, ``Fn::ImportValue``...) replaced by a plausible placeholder: the
    pseudo parameters' values (``aws``, ``us-east-1``, ``123456789012``), an ARN of the
    resource's type for ARNs (``arn:aws:lambda:us-east-1:123456789012:function:LogicalId``),
    a parameter's default, and :data:`PLACEHOLDER_ARN` for what cannot be known. A
    ``Definition`` object is serialized. ``DefinitionSubstitutions`` are then applied.

    Parameters
    ----------
    template
        The template document (a parsed ``*.template.json``).

    Returns
    -------
    list[tuple[str, str]]
        ``(logical id, definition JSON text)`` per ``AWS::StepFunctions::StateMachine``, in
        template order. A machine whose definition is in S3 (``DefinitionS3Location``) is left
        out: see :func:`template_definition_errors`.
    """
    placeholders = _Placeholders(template)
    pairs: list[tuple[str, str]] = []
    for logical_id, properties in _state_machines(template):
        text = _definition_text(properties, placeholders)
        if text is not None:
            pairs.append((logical_id, text))
    return pairs


def template_definition_errors(
    template: Mapping[str, Any], *, root: Path | None = None
) -> list[str]:
    """What asl-validator finds wrong with the template's state machine definitions.

    Parameters
    ----------
    template
        The template document (a parsed ``*.template.json``).
    root
        The checkout whose ``node_modules`` holds the validator; the project's when omitted.

    Returns
    -------
    list[str]
        ``"LogicalId: ERROR_CODE: message"`` per error, for example
        ``"SyncStateMachine81090156: MISSING_TRANSITION_TARGET: Missing
        'StartAt'|'Next'|'Default' target: Nowhere"``; empty when every definition is valid
        (and when the template has no state machine, without running the validator). A
        machine with no inline definition (``DefinitionS3Location``) gets a message too: it
        cannot be checked here.

    Raises
    ------
    AslValidatorUnavailableError
        When the pinned validator is not installed (run ``npm ci``).
    AslValidatorError
        When the validator crashes instead of judging the definitions.
    """
    definitions = dict(state_machine_definitions(template))
    messages: list[str] = []
    for logical_id, properties in _state_machines(template):
        if logical_id not in definitions:
            where = "in S3 (DefinitionS3Location)" if "DefinitionS3Location" in properties else ""
            messages.append(
                f"{logical_id}: the definition is {where or 'missing'}; asl-validator cannot "
                "check it before deployment"
            )
    if definitions:
        for logical_id, errors in validate_definitions(definitions, root=root).items():
            messages += [f"{logical_id}: {error}" for error in errors]
    return messages


def state_machine_violations(template: Mapping[str, Any]) -> Iterator[Violation]:
    """asl-validator's findings, one violation each."""
    resources = template.get("Resources", {})
    for message in template_definition_errors(template):
        logical_id, _, finding = message.partition(": ")
        resource = resources.get(logical_id, {})
        properties = resource.get("Properties") or {}
        where = "Definition" if "Definition" in properties else "DefinitionString"
        code, _, text = finding.partition(": ")
        if not text or not code.replace("_", "").isupper():
            code, text = "(not checkable)", finding
        yield Violation(
            logical_id,
            str(resource.get("Type", STATE_MACHINE_TYPE)),
            where,
            code,
            "Step Functions: CreateStateMachine refuses an invalid definition "
            f"(InvalidDefinition); asl-validator: {text}",
        )
