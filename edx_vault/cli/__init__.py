"""The admin CLI, ``edx-vault``: one module per command, registered from :data:`COMMAND_MODULES`.

Each module ``edx_vault/cli/<name>.py`` has ``register(subparsers)``, which adds its parser and
sets ``func=run``, and ``run(args, context) -> int``. Adding a command is adding a module and
its name here.

Expected failures (a stack that is not deployed, an empty secret, a bad file, a gpg refusal, an
AWS error such as AccessDenied) print one line, ``error: ...``, on stderr and exit 1, or 2 for
a wrong command line; never a traceback, never a secret value.

Exit status: 0 success, 1 failure (including ``verify`` problems and a failed ``sync --wait``),
2 usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
from pathlib import Path
from typing import Final

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
)

from edx_vault.cli.context import CliContext
from edx_vault.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, CliError
from edx_vault.engine.gnupg_config import GnupgHomeError
from edx_vault.engine.openpgp_keys import OpenPgpError
from edx_vault.settings.config import ConfigError
from edx_vault.settings.deployment import DeploymentError
from edx_vault.settings.secret_document import SecretFormatError
from edx_vault.settings.secret_formats import SecretNotSetError

COMMAND_MODULES: Final = (
    "keygen",
    "import_key",
    "import_credentials",
    "sync",
    "status",
    "info",
    "verify",
    "doctor",
    "local",
    "grants",
)
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command of :data:`COMMAND_MODULES`."""
    parser = argparse.ArgumentParser(
        prog="edx-vault",
        description=(
            "Administer an edx-vault deployment: the pipeline's OpenPGP key, edX's "
            "credentials, syncs, status and verification."
        ),
    )
    _add_global_options(parser, suppress=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    # Global options also work after the command name (edx-vault status --config x.toml).
    for subparser in subparsers.choices.values():
        _add_global_options(subparser, suppress=True)
    return parser


def _config_path(args: argparse.Namespace) -> Path:
    if args.config is not None:
        return Path(args.config)
    from_environment = os.environ.get(CONFIG_ENVIRONMENT_VARIABLE)
    return Path(from_environment) if from_environment else DEFAULT_CONFIG


def _aws_error(error: ClientError) -> str:
    details = error.response.get("Error", {})
    code = details.get("Code", "error")
    message = details.get("Message", "")
    hint = ""
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
        hint = " (run the CLI with one of the deployment's admin roles)"
    elif code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId"):
        hint = " (refresh your AWS credentials)"
    return f"AWS refused {error.operation_name}: {code}: {message}{hint}"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI.

    Parameters
    ----------
    argv
        The arguments after the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The exit status: 0 success, 1 failure, 2 usage error, 130 interrupted.
    """
    # python-gnupg logs what passes through gpg (key material, decrypted chunks) at DEBUG;
    # whatever logging the caller set up, none of that may leave the CLI.
    logging.getLogger("gnupg").setLevel(logging.WARNING)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        # argparse exits for --help (0) and for usage errors (2, message already printed).
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_USAGE
    context = CliContext(config_path=_config_path(args), region_override=args.region)

    def fail(message: str, exit_code: int = EXIT_FAILURE) -> int:
        print(f"error: {message}", file=context.stderr)
        return exit_code

    try:
        return int(args.func(args, context))
    except CliError as error:
        return fail(str(error), error.exit_code)
    except (
        ConfigError,
        DeploymentError,
        SecretFormatError,
        SecretNotSetError,
        GnupgHomeError,
        OpenPgpError,
    ) as error:
        return fail(str(error))
    except ClientError as error:
        return fail(_aws_error(error))
    except NoCredentialsError:
        return fail(
            "no AWS credentials found: sign in (aws sso login, AWS_PROFILE=...) with a role "
            "allowed to administer the vault"
        )
    except NoRegionError:
        return fail("no AWS region: set deployment.region in the configuration or use --region")
    except BotoCoreError as error:
        return fail(f"AWS call failed: {error}")
    except KeyboardInterrupt:
        print("interrupted", file=context.stderr)
        return EXIT_INTERRUPTED
