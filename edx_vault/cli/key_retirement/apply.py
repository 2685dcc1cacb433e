"""``keygen --retire``: plan, confirm, print the checks, then write the remaining keys once.

The key secret is written once (``PutSecretValue``) with the remaining keys; the primary key,
the passphrase secret and the secret's tags (which describe the primary key) stay as they are.
The secret is read again just before the write: if it changed while the checks ran (another
``keygen``), nothing is written. The previous version, which still holds the retired key, stays
``AWSPREVIOUS`` until the secret next changes: the way back.
"""

from __future__ import annotations

from edx_vault.cli.checks import print_checks
from edx_vault.cli.context import CliContext
from edx_vault.cli.edx_newest_files import key_ids_by_key
from edx_vault.cli.errors import CliError
from edx_vault.cli.key_retirement import confirm
from edx_vault.cli.key_retirement.plan import (
    NOTHING_CHANGED,
    KeyNames,
    normalise_reference,
    refuse_needed_key,
    resolve_key,
    stored_keys,
)
from edx_vault.cli.key_storage import describe_key
from edx_vault.pipeline.manifest import Manifest
from edx_vault.settings.secret_formats import PipelineKeyring
from edx_vault.settings.secret_store import (
    read_edx_credentials,
    read_pipeline_keyring,
    store_pipeline_keyring,
)


def retire_key(context: CliContext, reference_text: str, *, dry_run: bool) -> int:
    """Check the key named by ``reference_text`` is no longer needed, then remove it.

    Returns
    -------
    int
        0 when it was removed (or, with ``dry_run``, would be).

    Raises
    ------
    UsageError
        ``reference_text`` is not a fingerprint or long key id.
    CliError
        The key is unknown, the only or the primary one, or a check shows it may still be
        needed; nothing is changed.
    """
    reference = normalise_reference(reference_text)
    today = context.now().date()
    storage = context.deployment().storage
    secretsmanager = context.secretsmanager()
    arn = storage.pipeline_key_secret_arn
    keyring = read_pipeline_keyring(secretsmanager, arn)
    if keyring is None:
        raise CliError(f"no pipeline key is stored yet ({arn}): there is nothing to retire")
    ids_by_key = key_ids_by_key(keyring)
    key = resolve_key(keyring, reference, ids_by_key, today=today)
    refuse_needed_key(keyring, key, today=today)

    kept = tuple(k for k in keyring.keys if k.fingerprint != key.fingerprint)
    names = KeyNames(
        retiring=ids_by_key[key.fingerprint],
        kept={kid: k.fingerprint for k in kept for kid in ids_by_key[k.fingerprint]},
        primary=keyring.primary,
    )
    context.out(f"Retiring pipeline key {describe_key(key, today)}")
    context.out(f"  its key ids  {', '.join(sorted(names.retiring))}")
    for other in kept:
        primary = " [primary]" if other.fingerprint == keyring.primary else ""
        context.out(f"  keeping      {describe_key(other, today)}{primary}")
    context.out()

    context.note("checking the raw/ mirror and edX's newest files...")
    manifest_rows = Manifest(context.manifest_table()).scan()
    credentials = read_edx_credentials(secretsmanager, storage.edx_credentials_secret_arn)
    checks = [
        confirm.STORED_KEYS(
            "PASS",
            f"{len(keyring.keys)} keys stored; the key to retire is neither the only one nor "
            f"the primary {keyring.primary}, which stays",
        ),
        confirm.check_raw_mirror(context.s3(), storage.data_bucket, manifest_rows, names),
        (
            confirm.EDX_NEWEST(
                "FAIL",
                "edX's credentials are not imported: cannot tell which keys edX encrypts to",
                fix="edx-vault import-credentials credentials.csv.gpg; then retire again",
            )
            if credentials is None
            else confirm.check_edx_newest(
                context.s3_with(
                    access_key_id=credentials.access_key_id,
                    secret_access_key=credentials.secret_access_key,
                ),
                context.config().edx,
                names,
                this_year=context.now().year,
            )
        ),
    ]
    print_checks(context, checks)
    context.out()
    failed = [check for check in checks if check.status != "PASS"]
    if failed:
        raise CliError(
            f"refusing to retire {key.fingerprint}: "
            + "; ".join(f"{check.title}: {check.evidence}" for check in failed)
            + f". {NOTHING_CHANGED}"
        )

    remaining = PipelineKeyring(primary=keyring.primary, keys=kept)
    if dry_run:
        context.out(
            f"Every check passed: {key.fingerprint} can be retired. --dry-run: nothing was "
            "changed; run again without --dry-run to remove it."
        )
        return 0
    # The checks took a while: a key stored meanwhile (keygen --rotate) must not be dropped.
    if read_pipeline_keyring(secretsmanager, arn) != keyring:
        raise CliError(
            f"the key secret {arn} changed while the checks ran (another keygen or import-key?): "
            f"run the command again. {NOTHING_CHANGED}"
        )
    context.out(
        f"Every check passed. Removing {key.fingerprint} from {arn}: one new version holding the "
        f"remaining {len(kept)} key(s); the passphrase and the tags (the primary key's) stay."
    )
    store_pipeline_keyring(secretsmanager, arn, remaining)
    context.out(f"Done. The key secret now holds: {stored_keys(remaining, today)}.")
    context.out(
        "Its previous version, which still holds the retired key, stays as AWSPREVIOUS until the "
        "secret next changes (the way back: docs/operations.md#rotating-the-pipeline-key)."
    )
    return 0
