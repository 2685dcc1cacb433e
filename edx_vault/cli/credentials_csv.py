"""edX's ``credentials.csv``: a header and one row of IAM access keys, checked before storing.

edX documents the file as exactly ``User Name,Access Key Id,Secret Access Key`` and one row.
Anything else (another CSV, a second row, a value of the wrong shape) is refused with a message
that names the problem and never repeats a value from the file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from typing import Final

from edx_vault.cli.errors import CliError
from edx_vault.settings.secret_formats import (
    ACCESS_KEY_ID_PATTERN,
    SECRET_ACCESS_KEY_PATTERN,
    EdxCredentials,
)

CREDENTIALS_HEADER: Final = ("User Name", "Access Key Id", "Secret Access Key")
_ARMOR_HEADER: Final = b"-----BEGIN PGP MESSAGE-----"


class CredentialsFileError(CliError):
    """The file is not edX's credentials CSV; the message says why, without its contents."""


def looks_like_openpgp(data: bytes) -> bool:
    """Whether ``data`` is an OpenPGP message (binary or armored) rather than text.

    A binary OpenPGP packet starts with a byte whose high bit is set; UTF-8 CSV text never
    does, except for a byte-order mark, which is checked first.
    """
    if data.startswith(codecs.BOM_UTF8):
        return False
    return data.lstrip().startswith(_ARMOR_HEADER) or (bool(data) and data[0] & 0x80 != 0)


def parse_credentials_csv(data: bytes, *, imported_at: dt.datetime) -> EdxCredentials:
    """Check and read the decrypted ``credentials.csv``.

    Parameters
    ----------
    data
        The CSV bytes (UTF-8, with or without a byte-order mark).
    imported_at
        When it is imported (UTC), recorded with the credentials.

    Raises
    ------
    CredentialsFileError
        Not UTF-8 text, not the documented header, not exactly one row, or a value that is not
        an AWS access key id or secret access key.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CredentialsFileError("the file is not UTF-8 text, so not a CSV") from None
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    except csv.Error:
        raise CredentialsFileError("the file is not a well-formed CSV") from None
    expected = ",".join(CREDENTIALS_HEADER)
    if not rows or tuple(rows[0]) != CREDENTIALS_HEADER:
        raise CredentialsFileError(
            f"the first line is not edX's header `{expected}`: this is not edX's credentials.csv"
        )
    if len(rows) != 2:
        raise CredentialsFileError(
            f"the file has {len(rows) - 1} credential rows; edX's credentials.csv has exactly one"
        )
    row = rows[1]
    if len(row) != len(CREDENTIALS_HEADER):
        raise CredentialsFileError(
            f"the credentials row has {len(row)} fields instead of {len(CREDENTIALS_HEADER)}"
        )
    user_name, access_key_id, secret_access_key = (cell.strip() for cell in row)
    if not user_name:
        raise CredentialsFileError("the User Name field is empty")
    if not ACCESS_KEY_ID_PATTERN.fullmatch(access_key_id):
        raise CredentialsFileError(
            "the Access Key Id field is not an AWS access key id "
            "(AKIA or ASIA followed by 16 upper-case letters or digits)"
        )
    if not SECRET_ACCESS_KEY_PATTERN.fullmatch(secret_access_key):
        raise CredentialsFileError(
            "the Secret Access Key field is not an AWS secret access key (40 characters)"
        )
    return EdxCredentials(
        user_name=user_name,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        imported_at=imported_at,
    )
