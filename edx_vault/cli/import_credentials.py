"""``edx-vault import-credentials``: store the S3 keys edX emails the data czar.

edX sends ``credentials.csv.gpg`` encrypted to the czar keys it knows, the pipeline's included.
The file is decrypted in memory with the pipeline key from Secrets Manager (in a throwaway
GnuPG home), checked, and stored as JSON in the edX credentials secret. Nothing is written to
disk. A plain CSV is accepted too, from a file or, better, from a pipe (``-``), for a czar who
decrypted it with their own key: ``gpg -d credentials.csv.gpg | edx-vault import-credentials -``.
"""

from __future__ import annotations

import argparse

from botocore.exceptions import ClientError

from edx_vault.cli.context import CliContext
from edx_vault.cli.credentials_csv import looks_like_openpgp, parse_credentials_csv
from edx_vault.cli.errors import CliError, aws_error_code
from edx_vault.cli.input_files import read_input_file
from edx_vault.engine.openpgp_message import decrypt_message
from edx_vault.settings.secret_store import load_pipeline_keyring, store_edx_credentials


def run(args: argparse.Namespace, context: CliContext) -> int:
    """Decrypt if needed, validate, optionally check with STS, store."""
    data = read_input_file(args.file, stdin=context.stdin, what="the credentials file")
    storage = context.deployment().storage
    client = context.secretsmanager()
    if looks_like_openpgp(data):
        keys, passphrase, _ = load_pipeline_keyring(
            client, storage.pipeline_key_secret_arn, storage.pipeline_passphrase_secret_arn
        )
        plaintext = decrypt_message(data, keys, passphrase)
    else:
        plaintext = data
    credentials = parse_credentials_csv(plaintext, imported_at=context.now())

    if args.check:
        sts = context.sts_with(
            access_key_id=credentials.access_key_id,
            secret_access_key=credentials.secret_access_key,
        )
        try:
            identity = sts.get_caller_identity()
        except ClientError as error:
            code = aws_error_code(error)
            raise CliError(
                f"AWS rejected edX's keys ({code}); nothing was stored. The file may hold "
                "retired keys: ask edX for current ones"
            ) from None
        context.note(f"AWS accepts the keys: they belong to {identity.get('Arn', '?')}")

    store_edx_credentials(client, storage.edx_credentials_secret_arn, credentials)
    context.out(
        f"Stored edX's credentials for IAM user {credentials.user_name} (access key "
        f"{credentials.masked_access_key_id}) in {storage.edx_credentials_secret_arn}."
    )
    context.out(
        "The previous value, if any, is kept as version AWSPREVIOUS. The next sync uses the "
        "new keys."
    )
    return 0
