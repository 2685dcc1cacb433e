"""The ``edx-vault`` argument parser, built from the table of commands.

Each row of :data:`edx_vault.cli.commands.COMMANDS` becomes a subparser with its help, its
arguments, its subcommands and ``func`` (what ``main`` calls). The global options
(``--config``, ``--region``) are accepted before the command and after it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Final

from edx_vault.cli.commands import COMMANDS, Command

CONFIG_ENVIRONMENT_VARIABLE: Final = "EDX_VAULT_CONFIG"
DEFAULT_CONFIG: Final = Path("config/example.toml")


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # On subcommands the defaults are suppressed so that a value given before the command
    # (edx-vault --region X status) is not overwritten by the subparser's default.
    default = argparse.SUPPRESS if suppress else None
    # A command may define one of them itself (its own --region, say): keep the command's.
    existing = parser._option_string_actions
    if "--config" not in existing:
        parser.add_argument(
            "--config",
            type=Path,
            default=default,
            help=(
                f"the deployment configuration (default: ${CONFIG_ENVIRONMENT_VARIABLE}, "
                f"else {DEFAULT_CONFIG})"
            ),
        )
    if "--region" not in existing:
        parser.add_argument(
            "--region", default=default, help="AWS region (default: the configuration's)"
        )


def _add_command(subparsers: Any, command: Command) -> argparse.ArgumentParser:
    """Add ``command``'s parser (and its subcommands') to ``subparsers``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        command.name, help=command.help, description=command.description or command.help
    )
    for argument in command.arguments:
        parser.add_argument(*argument.flags, **argument.options)
    if command.run is not None:
        parser.set_defaults(func=command.run)
    if command.subcommands:
        nested = parser.add_subparsers(
            dest=f"{command.name}_command",
            metavar=command.metavar,
            required=command.run is None,
        )
        for subcommand in command.subcommands:
            _add_command(nested, subcommand)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command of :data:`~edx_vault.cli.commands.COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="edx-vault",
        description=(
            "Administer an edx-vault deployment: the pipeline's OpenPGP key, edX's "
            "credentials, syncs, status and verification."
        ),
    )
    _add_global_options(parser, suppress=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        # Global options also work after the command name (edx-vault status --config x.toml).
        _add_global_options(_add_command(subparsers, command), suppress=True)
    return parser


def config_path(args: argparse.Namespace) -> Path:
    """The configuration to use: ``--config``, else ``$EDX_VAULT_CONFIG``, else the example."""
    if args.config is not None:
        return Path(args.config)
    from_environment = os.environ.get(CONFIG_ENVIRONMENT_VARIABLE)
    return Path(from_environment) if from_environment else DEFAULT_CONFIG
