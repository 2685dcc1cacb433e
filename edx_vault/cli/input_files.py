"""Reading the small files an admin hands the CLI (a key, edX's credentials), into memory."""

from __future__ import annotations

from pathlib import Path
from typing import Final, TextIO

from edx_vault.cli.errors import CliError

# Far above a key file or credentials.csv.gpg (a few KB): a larger file is the wrong file.
MAX_INPUT_BYTES: Final = 1024 * 1024
STDIN_NAME: Final = "-"


def read_input_file(name: str, *, stdin: TextIO, what: str) -> bytes:
    """The bytes of ``name``, or of standard input when ``name`` is ``-``.

    Parameters
    ----------
    name
        A path, or ``-``.
    stdin
        The standard input to read for ``-``.
    what
        What the file should be, for messages (``"the key file"``).

    Raises
    ------
    CliError
        When it cannot be read, is empty, or is larger than :data:`MAX_INPUT_BYTES`.
    """
    if name == STDIN_NAME:
        binary = getattr(stdin, "buffer", None)
        data = (
            binary.read(MAX_INPUT_BYTES + 1)
            if binary is not None
            else stdin.read(MAX_INPUT_BYTES + 1).encode()
        )
        source = "standard input"
    else:
        path = Path(name)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_INPUT_BYTES + 1)
        except OSError as error:
            raise CliError(f"cannot read {what} {name}: {error.strerror}") from None
        source = name
    if not data:
        raise CliError(f"{what} ({source}) is empty")
    if len(data) > MAX_INPUT_BYTES:
        raise CliError(f"{what} ({source}) is larger than {MAX_INPUT_BYTES} bytes: wrong file?")
    return data
