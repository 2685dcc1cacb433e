"""``edx-vault import-key``: store an existing private key as the pipeline's key.

For an institution whose pipeline key already exists (made on an offline machine, or moved from
another deployment). The key is checked before anything is stored: one secret key, not expired
or revoked, with a usable encryption subkey, its passphrase correct (a test message round-trips)
and not empty.
"""

from __future__ import annotations

import argparse
import getpass
import secrets

from edx_vault.cli.context import CliContext
from edx_vault.cli.errors import CliError, UsageError
from edx_vault.cli.input_files import STDIN_NAME, read_input_file
from edx_vault.cli.key_storage import describe_key, reserve_key_slot, store_new_key
from edx_vault.engine.openpgp_keys import check_private_key
from edx_vault.settings.secret_document import SecretFormatError
from edx_vault.settings.secret_formats import PipelinePassphrase


def passphrase_from_user(args: argparse.Namespace, context: CliContext) -> PipelinePassphrase:
    """The key's passphrase from stdin (``--passphrase-stdin``) or a terminal prompt.

    Raises
    ------
    UsageError
        No ``--passphrase-stdin`` and no terminal to prompt on, or an empty passphrase.
    """
    if args.passphrase_stdin:
        # One line: a trailing newline (echo, a here-string) is not part of the passphrase.
        text = context.stdin.readline().rstrip("\r\n")
    elif context.stdin.isatty():
        text = getpass.getpass("Passphrase of the key to import: ", stream=context.stderr)
    else:
        raise UsageError(
            "give the key's passphrase on standard input with --passphrase-stdin "
            "(it is never accepted on the command line)"
        )
    try:
        return PipelinePassphrase(passphrase=text)
    except SecretFormatError as error:
        raise UsageError(f"the passphrase cannot be used: {error}") from None


def run(args: argparse.Namespace, context: CliContext) -> int:
    """Check the key, then store it as keygen would."""
    now = context.now()
    if args.file == STDIN_NAME and args.passphrase_stdin:
        raise UsageError("the key and its passphrase cannot both come from standard input")
    key_data = read_input_file(args.file, stdin=context.stdin, what="the key file")
    passphrase = passphrase_from_user(args, context)

    storage = context.deployment().storage
    client = context.secretsmanager()
    slot = reserve_key_slot(client, storage, rotate=args.rotate, today=now.date())
    if slot.passphrase is not None and not secrets.compare_digest(
        slot.passphrase.passphrase.encode(), passphrase.passphrase.encode()
    ):
        raise CliError(
            "this key's passphrase differs from the one protecting the stored key(s), and one "
            "passphrase must protect every stored key. Change the new key's passphrase to the "
            "stored one first (gpg --passwd; the stored one is in "
            f"{storage.pipeline_passphrase_secret_arn}), then import it again"
        )

    context.note("checking the key (a test message is encrypted to it and decrypted)...")
    key = check_private_key(key_data, passphrase.passphrase, now=now)
    store_new_key(client, storage, slot, key, passphrase)

    context.out(
        f"Stored {'the new primary key' if slot.rotating else 'the pipeline key'}: "
        f"{describe_key(key, now.date())}"
    )
    context.out(f"  secrets  {storage.pipeline_key_secret_arn}")
    context.out(f"           {storage.pipeline_passphrase_secret_arn} (passphrase)")
    context.out(
        "If edX does not have this key's public half yet, send it to them: "
        "`gpg --export --armor FINGERPRINT`."
    )
    return 0
