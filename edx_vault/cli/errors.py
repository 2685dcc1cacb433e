"""The errors a command raises for expected failures (``main`` prints them as one line), and AWS's.

:func:`aws_error_code` and :func:`aws_error_message` read a botocore ``ClientError`` for every
command, so each names AWS's refusals the same way.
"""

from __future__ import annotations

from typing import Final

from botocore.exceptions import ClientError

from edx_vault.engine.errors import aws_error_code as service_error_code

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
# What a shell reports for a process stopped by Ctrl-C.
EXIT_INTERRUPTED: Final = 130


class CliError(Exception):
    """An expected failure: printed as ``error: <message>``, exit status ``exit_code``.

    Messages say what went wrong and what to do; they never include secret values.
    """

    exit_code: int = EXIT_FAILURE


class UsageError(CliError):
    """The command line itself is wrong (a bad option value): exit status 2."""

    exit_code = EXIT_USAGE


def aws_error_code(error: ClientError) -> str:
    """AWS's error code (``AccessDenied``, ``NoSuchKey``...); ``error`` when it gives none."""
    return service_error_code(error) or "error"


def aws_error_message(error: ClientError) -> str:
    """AWS's own message for the error; empty when it gives none."""
    return str(error.response.get("Error", {}).get("Message", ""))
