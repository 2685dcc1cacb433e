"""Validate Step Functions state machine definitions with asl-validator, before any deployment.

This module owns one rule of the deploy-time rules: every ``AWS::StepFunctions::StateMachine``
the app synthesizes has an Amazon States Language definition a real ASL validator accepts.

Why: AWS validates the definition when CloudFormation calls ``CreateStateMachine`` and fails the
stack on an ``InvalidDefinition``, so a broken definition is found only at deploy time, in an
account. The embedded AWS does not catch all of it: moto's Step Functions interpreter parses
the definition (it refuses unknown fields, or a Task without ``Resource``) but accepts, for
example, a ``Next`` naming a state that does not exist, until an execution reaches it, and
states no transition reaches. So the definition is checked here,
on the template, both when the embedded AWS deploys it and in ``make test``.

The validator is the npm package ``asl-validator`` (its exact version is pinned in
``package.json`` and installed by ``npm ci`` into ``node_modules``). It checks a definition
against JSON schemas of the States Language (every state type's required and allowed fields,
Distributed Map's ``ItemReader``/``ItemProcessor``/``ItemBatcher``/``ResultWriter``, JSONata
``QueryLanguage``/``Arguments``/``Output``/``Assign`` and JSONata ``{% %}`` expression syntax),
the syntax of JSONPath and reference paths (``InputPath``, ``ResultPath``, ``.$`` fields), the
ARN format of a Task's ``Resource``, that every ``StartAt``/``Next``/``Default`` names an
existing state and every state is reachable, that no transition leaves a Map or Parallel, that
state names are unique and every machine has a terminal state, and mutual exclusions (such as
``TimeoutSeconds`` with ``TimeoutSecondsPath``, or ``End`` with ``Next``).

It does not check what only the service can (that the Lambda function or the bucket exists,
that an optimized integration takes the given ``Arguments``, IAM), nor, in the pinned
version, the contents of a Distributed Map's ``ReaderConfig`` and ``ResultWriter.WriterConfig``.
It also refuses one form AWS accepts: a ``ResultWriter`` with only ``WriterConfig`` (no
``Resource``), which previews the formatted results without writing them to S3.

The validator runs as its command line, ``node_modules/.bin/asl-validator --json-path FILE``,
one process for all the definitions to check; it has no JSON output, so its text output is read
(``ERROR_CODE: message`` lines under a line naming the file). Its ``--json-definition``
option is not used: in the pinned version it exits 0 when a definition does not parse, and its
exit status is that of the last definition only. (Its ``--no-arn-check`` and
``--no-path-check`` options have no effect in that version; nothing here needs them.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from edx_vault.devtools.embedded_aws import ACCOUNT_ID, project_root

VALIDATOR_PACKAGE: Final = "asl-validator"
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
_TIMEOUT_SECONDS: Final = 120
# asl-validator's exit status when it throws instead of judging a definition.
_CRASHED: Final = 2
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
_INVALID_HEADER: Final = re.compile(r'^\u2715 State machine definition "(?P<name>.*)" is invalid:$')
_SUBSTITUTION: Final = re.compile(r"\$\{(?P<name>[^}]*)\}")


class AslValidatorUnavailableError(RuntimeError):
    """asl-validator (or Node.js) is not installed as ``package.json`` pins it."""


class AslValidatorError(RuntimeError):
    """asl-validator failed instead of judging the definitions; the message has its output."""


def _pinned_version(root: Path) -> str | None:
    package = json.loads((root / "package.json").read_text(encoding="utf-8"))
    version = package.get("devDependencies", {}).get(VALIDATOR_PACKAGE)
    return None if version is None else str(version)


def validator_command(root: Path | None = None) -> Path:
    """The pinned asl-validator's command line, ``node_modules/.bin/asl-validator``.

    Parameters
    ----------
    root
        The checkout holding ``package.json`` and ``node_modules``;
        :func:`edx_vault.devtools.embedded_aws.project_root` when omitted.

    Raises
    ------
    AslValidatorUnavailableError
        When Node.js is not on ``PATH``, or ``node_modules`` lacks the validator or holds
        another version than ``package.json`` pins (the fix, ``npm ci``, is in the message).
    """
    root = root or project_root()
    command = root / "node_modules" / ".bin" / VALIDATOR_PACKAGE
    installed = root / "node_modules" / VALIDATOR_PACKAGE / "package.json"
    fix = f"run `npm ci` in {root} (or `make setup`)"
    if not command.exists() or not installed.exists():
        raise AslValidatorUnavailableError(
            f"{VALIDATOR_PACKAGE} is not installed in {root / 'node_modules'}: {fix}"
        )
    pinned = _pinned_version(root)
    version = json.loads(installed.read_text(encoding="utf-8")).get("version")
    if pinned is not None and version != pinned:
        raise AslValidatorUnavailableError(
            f"{VALIDATOR_PACKAGE} {version} is installed but package.json pins {pinned}: {fix}"
        )
    if shutil.which("node") is None:
        raise AslValidatorUnavailableError(
            f"{VALIDATOR_PACKAGE} needs Node.js (`node` is not on PATH); install Node.js 20 "
            f"or newer, then {fix}"
        )
    return command


def _parse_definition(definition: str | Mapping[str, Any]) -> Mapping[str, Any] | str:
    """The definition as a JSON object, or why it is not one (as AWS would refuse it)."""
    if not isinstance(definition, str):
        return definition
    try:
        parsed = json.loads(definition)
    except json.JSONDecodeError as error:
        return f"INVALID_JSON: the definition is not JSON ({error})"
    if not isinstance(parsed, dict):
        return "INVALID_JSON: the definition is not a JSON object"
    return parsed


def _validator_errors(output: str) -> dict[str, list[str]]:
    """The errors asl-validator printed, by the file it named (its text output, not JSON).

    For each invalid definition it prints ``✕ State machine definition "FILE" is invalid:``
    then one ``ERROR_CODE: message`` line per error.
    """
    errors: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        header = _INVALID_HEADER.match(line)
        if header is not None:
            current = errors.setdefault(header["name"], [])
        elif line.strip():
            if current is None:
                raise AslValidatorError(f"unexpected output from {VALIDATOR_PACKAGE}: {output}")
            current.append(line.strip())
    return errors


def validate_definitions(
    definitions: Mapping[str, str | Mapping[str, Any]], *, root: Path | None = None
) -> dict[str, list[str]]:
    """Validate several definitions with one run of asl-validator.

    Parameters
    ----------
    definitions
        Definitions by a name of the caller's choosing; each the JSON text of the definition
        or the parsed JSON object.
    root
        The checkout whose ``node_modules`` holds the validator; the project's when omitted.

    Returns
    -------
    dict[str, list[str]]
        For every name, the validator's messages (``"ERROR_CODE: message"``); an empty list
        when the definition is valid. Text that is not a JSON object gets an ``INVALID_JSON``
        message without running the validator.

    Raises
    ------
    AslValidatorUnavailableError
        When the pinned validator is not installed (run ``npm ci``).
    AslValidatorError
        When the validator crashes instead of judging a definition (the message names it and
        has the exception; the pinned version throws, for example, when a ``States`` object
        holds a value that is not an object), or prints what this module cannot read.
    """
    results: dict[str, list[str]] = {name: [] for name in definitions}
    parsed: dict[str, Mapping[str, Any]] = {}
    for name, definition in definitions.items():
        outcome = _parse_definition(definition)
        if isinstance(outcome, str):
            results[name] = [outcome]
        else:
            parsed[name] = outcome
    if not parsed:
        return results
    command = validator_command(root)
    with tempfile.TemporaryDirectory(prefix="asl-validation-") as scratch:
        files: dict[str, str] = {}
        arguments: list[str] = [str(command)]
        for index, (name, definition) in enumerate(parsed.items()):
            path = Path(scratch) / f"definition-{index}.json"
            path.write_text(json.dumps(definition, default=dict), encoding="utf-8")
            files[str(path)] = name
            arguments += ["--json-path", str(path)]
        result = subprocess.run(  # noqa: S603 - the pinned validator, on files we wrote
            arguments,
            capture_output=True,
            text=True,
            encoding="utf-8",
            check=False,
            timeout=_TIMEOUT_SECONDS,
        )
    if result.returncode == _CRASHED and len(parsed) > 1:
        # The crash report does not name the definition: judge them one at a time, so the
        # verdicts stand and the error names the definition the validator cannot judge.
        for name, definition in parsed.items():
            results[name] = validate_definitions({name: definition}, root=root)[name]
        return results
    output = (result.stderr + result.stdout).strip()
    if result.returncode not in (0, 1):
        crash = [line for line in output.splitlines() if line.startswith("Validator exception")]
        raise AslValidatorError(
            f"{VALIDATOR_PACKAGE} exited {result.returncode} on {', '.join(parsed)}: "
            f"{crash[0] if crash else output or '(no output)'}"
        )
    errors = _validator_errors(result.stderr)
    unknown = set(errors) - set(files)
    if unknown or (result.returncode == 1) != bool(errors):
        raise AslValidatorError(
            f"unexpected output from {VALIDATOR_PACKAGE} (exit {result.returncode}): {output}"
        )
    for file, messages in errors.items():
        results[files[file]] = messages
    return results


def validate_definition(
    definition: str | Mapping[str, Any], *, root: Path | None = None
) -> list[str]:
    """Validate one state machine definition with the pinned asl-validator.

    Parameters
    ----------
    definition
        The definition's JSON text, or the parsed JSON object.
    root
        The checkout whose ``node_modules`` holds the validator; the project's when omitted.

    Returns
    -------
    list[str]
        The validator's messages, ``"ERROR_CODE: message"`` (for example
        ``"MISSING_TRANSITION_TARGET: Missing 'StartAt'|'Next'|'Default' target: Nowhere"``);
        empty when the definition is valid.

    Raises
    ------
    AslValidatorUnavailableError
        When the pinned validator is not installed (run ``npm ci``).
    AslValidatorError
        When the validator crashes instead of judging the definition.
    """
    return validate_definitions({"definition": definition}, root=root)["definition"]


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
