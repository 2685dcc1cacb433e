"""Validate Step Functions state machine definitions with asl-validator, before any deployment.

This module runs the validator for one rule of the deploy-time rules: every
``AWS::StepFunctions::StateMachine`` the app synthesizes has an Amazon States Language
definition a real ASL validator accepts (the definitions are taken from the templates by
:mod:`edx_vault.devtools.embedded_aws.deploy.rules.state_machines`).

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from edx_vault.devtools.embedded_aws import project_root

VALIDATOR_PACKAGE: Final = "asl-validator"
_TIMEOUT_SECONDS: Final = 120
# asl-validator's exit status when it throws instead of judging a definition.
_CRASHED: Final = 2
_INVALID_HEADER: Final = re.compile(r'^\u2715 State machine definition "(?P<name>.*)" is invalid:$')


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
