"""``edx-vault local``: the embedded AWS, to run the real product with no AWS account.

- ``local up`` starts moto as a local AWS in a background process, deploys the app's
  synthesized stacks into it (the configuration given, else the committed example) and prints
  the environment that points every ``edx-vault`` command, boto3 and the AWS CLI at it;
- ``local env`` prints that environment again;
- ``local seed`` plays edX: a synthetic data package in the source buckets, encrypted to the
  pipeline's key, and a ``credentials.csv.gpg`` to import;
- ``local down`` stops it; everything in it is gone.

See ``docs/embedded-aws.md`` for what runs where and what is emulated.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from edx_vault.cli.context import CliContext
from edx_vault.cli.errors import CliError
from edx_vault.devtools.embedded_aws import DEFAULT_PORT, DEFAULT_STATE_FILE, project_root
from edx_vault.devtools.embedded_aws.state import LocalState, LocalStateError, read_state

if TYPE_CHECKING:
    from edx_vault.devtools.embedded_aws.deploy.cdk_deploy import DeployReport

DEFAULT_CREDENTIALS_OUT = Path("credentials.csv.gpg")


def _config_to_deploy(context: CliContext) -> Path:
    """The configuration to deploy; a relative default is also looked up in the checkout."""
    path = context.config_path
    if not path.exists() and not path.is_absolute() and (project_root() / path).exists():
        return project_root() / path
    return path


def _running(state_file: Path) -> LocalState:
    from edx_vault.devtools.embedded_aws.lifecycle import running_state

    try:
        state = running_state(state_file)
    except LocalStateError as error:
        raise CliError(str(error)) from None
    if state is None:
        raise CliError(
            f"the embedded AWS is not running (no live server in {state_file}): "
            "run `edx-vault local up`"
        )
    return state


def _print_environment(context: CliContext, state: LocalState, *, as_json: bool) -> None:
    if as_json:
        context.out(json.dumps(state.to_json(), indent=2))
    else:
        context.out(state.shell_exports())


def run_up(args: argparse.Namespace, context: CliContext) -> int:
    """``local up``: start (or find) the server, deploy, print the environment."""
    from edx_vault.devtools.embedded_aws import lifecycle
    from edx_vault.devtools.embedded_aws.deploy.assembly import DeployError
    from edx_vault.devtools.embedded_aws.synth import SynthError

    state_file: Path = getattr(args, "state_file", DEFAULT_STATE_FILE)
    config = _config_to_deploy(context)
    try:
        result = lifecycle.up(
            config=config,
            port=getattr(args, "port", DEFAULT_PORT),
            state_file=state_file,
            assembly=getattr(args, "assembly", None),
            faults=getattr(args, "faults", None),
            progress=context.note,
        )
    except (lifecycle.LocalAwsError, DeployError, SynthError, LocalStateError) as error:
        raise CliError(str(error)) from None
    state = result.state
    if result.report is None:
        context.note(
            f"the embedded AWS is already running at {state.endpoint} (pid {state.pid}, "
            f"config {state.config}); `edx-vault local down` stops it"
        )
    else:
        _describe_deployment(context, result.report)
        context.note(
            f"embedded AWS ready at {state.endpoint}; stacks: {', '.join(state.stacks)}. "
            f'Use it with:  eval "$(edx-vault local env)"'
        )
    _print_environment(context, state, as_json=getattr(args, "json", False))
    return 0


def _describe_deployment(context: CliContext, report: DeployReport) -> None:
    """Name every resource that is emulated, patched or skipped, grouped by type."""
    resources: dict[tuple[str, str], list[str]] = {}
    reasons: dict[tuple[str, str], str] = {}
    for note in report.notes:
        key = (str(note.treatment), note.resource_type)
        resources.setdefault(key, []).append(f"{note.stack}/{note.logical_id}")
        reasons[key] = note.reason
    order = {"skipped": 0, "emulated": 1, "patched": 2}
    for group in sorted(resources, key=lambda item: (order[item[0]], item[1])):
        treatment, resource_type = group
        context.note(f"{treatment}: {resource_type} x{len(resources[group])}: {reasons[group]}")
        context.note(f"    {', '.join(resources[group])}")


def run_env(args: argparse.Namespace, context: CliContext) -> int:
    """``local env``: the environment of the running server."""
    state = _running(args.state_file)
    _print_environment(context, state, as_json=args.json)
    return 0


def run_seed(args: argparse.Namespace, context: CliContext) -> int:
    """``local seed``: edX's part, for the running server's deployment."""
    from edx_vault.devtools.embedded_aws.seed import SeedError, seed
    from edx_vault.settings.config import load_config

    state = _running(args.state_file)
    try:
        result = seed(
            config=load_config(Path(state.config)),
            endpoint=state.endpoint,
            region=state.region,
            credentials_out=args.out,
            size=args.size,
            corrupt=args.corrupt,
            progress=context.note,
        )
    except SeedError as error:
        raise CliError(str(error)) from None
    summary = {
        "objects": len(result.package.objects),
        "files_inside": len(result.package.units),
        "files_to_publish": len(result.package.published_units),
        "buckets": list(result.buckets),
        "credentials_file": str(result.credentials_file),
        "access_key_id": result.access_key_id,
        "encrypted_to": result.recipient,
        "corrupted": result.corrupted,
        # What the sync must publish: each file's key in the data bucket and its source.
        "to_publish": [
            {"key": unit.output_key, "source": f"{unit.source_bucket}/{unit.source_key}"}
            for unit in result.package.published_units
        ],
    }
    if args.json:
        context.out(json.dumps(summary, indent=2))
        return 0
    context.out(
        f"seeded {summary['objects']} objects in {', '.join(result.buckets)}: "
        f"{summary['files_inside']} encrypted files, {summary['files_to_publish']} to publish"
    )
    if result.corrupted:
        context.out(
            f"tampered with {result.corrupted} and shipped one failed export: the sync must "
            "report both as failed"
        )
    context.out(
        f"wrote {result.credentials_file} (fake key {result.access_key_id}); next: "
        f"edx-vault import-credentials {result.credentials_file}"
    )
    return 0


def run_down(args: argparse.Namespace, context: CliContext) -> int:
    """``local down``: stop the server and forget it."""
    from edx_vault.devtools.embedded_aws.lifecycle import down, is_our_server

    try:
        previous = read_state(args.state_file)
    except LocalStateError as error:
        raise CliError(str(error)) from None
    if previous is None or not is_our_server(previous.pid):
        down(args.state_file)
        context.out("the embedded AWS is not running")
        return 0
    down(args.state_file)
    context.out(f"stopped the embedded AWS (pid {previous.pid}, {previous.endpoint})")
    return 0
