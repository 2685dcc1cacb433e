"""``edx-vault pseudonym-key``: create, rotate and inspect the de-identified tier's key.

The key is 32 random bytes from :func:`secrets.token_bytes` (the operating system's CSPRNG),
written straight into its Secrets Manager secret; it is never printed, logged or written to
disk, and no message here includes it. ``init`` creates the first key and refuses to replace
one; ``rotate`` replaces it only with ``--yes-break-linkage``, after saying what a new key
breaks; ``status`` says whether a key is stored and when it was made.

Replacing the key is the one thing to be careful about: every pseudonym changes, so the
de-identified copies made before no longer join those made after (docs/deidentification.md).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import secrets
from typing import Final

from edx_vault.cli.context import CliContext
from edx_vault.cli.errors import CliError
from edx_vault.settings.secret_document import SecretFormatError
from edx_vault.settings.secret_formats import PSEUDONYM_KEY, PSEUDONYM_KEY_MIN_BYTES, PseudonymKey
from edx_vault.settings.secret_store import read_secret_string, store_pseudonym_key

# HMAC-SHA256's key should be at least the hash's output length (RFC 2104, section 3): 32 bytes.
KEY_BYTES: Final = PSEUDONYM_KEY_MIN_BYTES
ROTATE_FLAG: Final = "--yes-break-linkage"

# What a rotation breaks, as ``rotate`` says it before doing anything.
ROTATION_BREAKS: Final = (
    "Rotating the pseudonym key breaks linkage:",
    "  - every pseudonym changes: de-identified copies made before the rotation no longer join "
    "copies made after it (the same learner gets a new u_, i_, a_, p_ and s_ pseudonym);",
    "  - the next sync rebuilds the whole de-identified tier (deidentified/) under the new key, "
    "so the tier is one consistent pseudonym space again;",
    "  - researchers' saved analyses and joins across the rotation stop matching: tell them "
    "before, and have them re-derive joins from the rebuilt tier.",
    "Rotate when the key may have leaked, or on purpose to cut linkage with what was handed out "
    "(docs/deidentification.md#pseudonyms-and-their-key); not routinely.",
)


def new_key(context: CliContext) -> PseudonymKey:
    """A fresh key of :data:`KEY_BYTES` random bytes, created now.

    Parameters
    ----------
    context
        The command's context (its clock stamps ``created``).

    Returns
    -------
    PseudonymKey
        The key, whose ``repr`` hides the bytes.
    """
    key = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")
    return PseudonymKey(key=key, created=context.now())


def _secret_arn(context: CliContext) -> str:
    deployment = context.deployment()
    return deployment.storage.require_pseudonym_key_secret(deployment.storage_stack)


def _stored(context: CliContext, secret_arn: str) -> tuple[bool, PseudonymKey | None]:
    """Whether the secret holds a value, and that value as a key when it is a valid one.

    A malformed value still counts as stored: ``init`` must not overwrite it silently.
    """
    text = read_secret_string(context.secretsmanager(), secret_arn, PSEUDONYM_KEY)
    if text is None:
        return False, None
    try:
        return True, PseudonymKey.from_secret_string(text)
    except SecretFormatError:
        return True, None


def _created(key: PseudonymKey) -> str:
    return key.created.isoformat(timespec="seconds").replace("+00:00", "Z")


def run_init(args: argparse.Namespace, context: CliContext) -> int:
    """Generate the first pseudonym key into its secret; refuse if one is stored."""
    secret_arn = _secret_arn(context)
    stored, current = _stored(context, secret_arn)
    if stored:
        held = (
            f"a key created {_created(current)}"
            if current is not None
            else "a value that is not a valid pseudonym key"
        )
        raise CliError(
            f"the pseudonym key secret already holds {held} ({secret_arn}); nothing was "
            "changed. Replacing it breaks linkage with every de-identified copy made with it: "
            f"that is `edx-vault pseudonym-key rotate {ROTATE_FLAG}`, a separate, explicit command"
        )
    key = new_key(context)
    # Not a compare-and-set: Secrets Manager has none, so two admins running init at the same
    # moment could both store a key (the later one current). The check above is for the
    # admin who forgot a key exists, which is the mistake that breaks linkage.
    store_pseudonym_key(context.secretsmanager(), secret_arn, key)
    context.out(
        f"Stored a new pseudonym key ({KEY_BYTES} random bytes, created {_created(key)}) in "
        f"{secret_arn}."
    )
    context.out(
        "The next sync writes the de-identified tier with it. Keep it: a new key breaks the "
        "linkage between copies made before and after (`edx-vault pseudonym-key rotate`)."
    )
    return 0


def run_rotate(args: argparse.Namespace, context: CliContext) -> int:
    """Replace the pseudonym key, only with ``--yes-break-linkage``, saying what it breaks."""
    secret_arn = _secret_arn(context)
    stored, current = _stored(context, secret_arn)
    if not stored:
        raise CliError(
            "no pseudonym key is stored yet, so there is nothing to rotate: run "
            "`edx-vault pseudonym-key init`"
        )
    for line in ROTATION_BREAKS:
        context.out(line)
    if not args.yes_break_linkage:
        raise CliError(f"nothing was changed: run it again with {ROTATE_FLAG} to rotate")
    key = new_key(context)
    if current is not None and _created(key) <= _created(current):
        # The pipeline tells key generations apart by `created` (stored to the second): the
        # tier is rebuilt when it changes. A second rotation within the same second (or a
        # clock behind the last one's) must still be a new generation.
        key = PseudonymKey(key=key.key, created=current.created + dt.timedelta(seconds=1))
    # PutSecretValue without VersionStages moves AWSCURRENT to the new version and AWSPREVIOUS
    # to the one it left (Secrets Manager API Reference, PutSecretValue, VersionStages); the
    # functions' GetSecretValue without a stage reads AWSCURRENT, so the next sync uses the
    # new key, and the old one stays one version back, which is what undoes a mistaken run.
    store_pseudonym_key(context.secretsmanager(), secret_arn, key)
    replaced = f"the key created {_created(current)}" if current is not None else "a malformed key"
    context.out(
        f"Replaced {replaced} with a new key ({KEY_BYTES} random bytes, created {_created(key)}) "
        f"in {secret_arn}. Secrets Manager keeps the old one as version AWSPREVIOUS until the "
        "next rotation; the pipeline reads the current version only."
    )
    return 0


def run_status(args: argparse.Namespace, context: CliContext) -> int:
    """Whether a pseudonym key is stored and when it was created (never the key)."""
    secret_arn = _secret_arn(context)
    stored, current = _stored(context, secret_arn)
    state = "set" if current is not None else ("malformed" if stored else "unset")
    if args.json:
        created = None if current is None else _created(current)
        document = {"secret_arn": secret_arn, "state": state, "created": created}
        context.out(json.dumps(document, indent=2))
    elif state == "set":
        assert current is not None
        context.out(f"pseudonym key: set, created {_created(current)} ({secret_arn})")
    elif state == "malformed":
        context.out(
            f"pseudonym key: MALFORMED ({secret_arn}): the de-identifying step cannot use it; "
            f"replace it with `edx-vault pseudonym-key rotate {ROTATE_FLAG}`"
        )
    else:
        context.out(
            f"pseudonym key: unset ({secret_arn}): run `edx-vault pseudonym-key init` before "
            "the first sync"
        )
    return 0
