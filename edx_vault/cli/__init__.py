"""The admin CLI, ``edx-vault``: :func:`main` runs the command the table of commands names.

:data:`edx_vault.cli.commands.COMMANDS` lists every command (name, help, arguments, run
function); :func:`edx_vault.cli.parser.build_parser` makes the parser from it. Each command's
``run(args, context) -> int`` lives in its own module (``edx_vault/cli/<name>.py``, or a
package such as ``doctor/``) with the pieces only it uses.

Expected failures (a stack that is not deployed, an empty secret, a bad file, a gpg refusal, an
AWS error such as AccessDenied) print one line, ``error: ...``, on stderr and exit 1, or 2 for
a wrong command line; never a traceback, never a secret value.

Exit status: 0 success, 1 failure (including ``verify`` problems and a failed ``sync --wait``),
2 usage, 130 interrupted.
"""

from __future__ import annotations

import logging

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
)

from edx_vault.cli.context import CliContext
from edx_vault.cli.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CliError,
    aws_error_code,
    aws_error_message,
)
from edx_vault.cli.parser import build_parser, config_path
from edx_vault.engine.gnupg_config import GnupgHomeError
from edx_vault.engine.openpgp_keys import OpenPgpError
from edx_vault.settings.config import ConfigError
from edx_vault.settings.deployment import DeploymentError
from edx_vault.settings.secret_document import SecretFormatError
from edx_vault.settings.secret_formats import SecretNotSetError


def _aws_error(error: ClientError) -> str:
    code = aws_error_code(error)
    hint = ""
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
        hint = " (run the CLI with one of the deployment's admin roles)"
    elif code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId"):
        hint = " (refresh your AWS credentials)"
    return f"AWS refused {error.operation_name}: {code}: {aws_error_message(error)}{hint}"


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
    context = CliContext(config_path=config_path(args), region_override=args.region)

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
