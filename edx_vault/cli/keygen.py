"""``edx-vault keygen``: make the pipeline's own OpenPGP key pair, rotate it, retire old ones.

edX's guide forbids sharing a data czar's private key, so the pipeline gets its own key, which
edX registers as an additional data czar key. The private half and its passphrase go straight
into Secrets Manager; only the public key is written to disk, for edX. ``--rotate`` adds a new
primary key and keeps the old one; ``--retire FINGERPRINT`` removes an old one once nothing
needs it (:mod:`edx_vault.cli.key_retirement`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import secrets
from pathlib import Path
from typing import Final

from edx_vault.cli.context import CliContext
from edx_vault.cli.errors import CliError, UsageError
from edx_vault.cli.key_retirement.apply import retire_key
from edx_vault.cli.key_storage import describe_key, reserve_key_slot, store_new_key
from edx_vault.engine.openpgp_keys import generate_pipeline_key
from edx_vault.settings.secret_formats import PipelinePassphrase

KEY_SIZES: Final = (3072, 4096)
# edX's guide: RSA 3072, with an expiry date.
DEFAULT_BITS: Final = 3072
DEFAULT_EXPIRY: Final = "2y"
# Bytes of randomness in a generated passphrase (token_urlsafe makes 43 characters of it).
PASSPHRASE_BYTES: Final = 32

_EMAIL: Final = re.compile(
    r"^[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$"
)
# edX asks for an official institutional address. A format check cannot prove that, but it can
# refuse the personal mail providers people reach for out of habit.
PERSONAL_MAIL_DOMAINS: Final = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.net",
        "mail.com",
        "yandex.com",
        "qq.com",
        "163.com",
    }
)
# gpg's expiry syntax: days, weeks, months, years, an ISO date, or 0 for never.
_EXPIRY: Final = re.compile(r"^(?:0|[1-9][0-9]{0,3}[dwmy]?|\d{4}-\d{2}-\d{2})$")


def validate_email(address: str) -> str:
    """``address``, if it looks like an institutional e-mail address.

    Raises
    ------
    UsageError
        Not an e-mail address, or one at a personal mail provider.
    """
    if not _EMAIL.fullmatch(address):
        raise UsageError(f"--email {address!r} is not an e-mail address (name@institution.edu)")
    domain = address.rsplit("@", 1)[1].lower()
    if domain in PERSONAL_MAIL_DOMAINS:
        raise UsageError(
            f"--email: {domain} is a personal mail provider; edX requires an official "
            "institutional address for a data czar key"
        )
    return address


def validate_expiry(expires: str, *, today: dt.date) -> str:
    """``expires`` in gpg's syntax (``never`` becomes ``0``).

    Raises
    ------
    UsageError
        Not in a form gpg accepts, or a date that is not in the future.
    """
    value = "0" if expires.strip().lower() == "never" else expires.strip().lower()
    if not _EXPIRY.fullmatch(value):
        raise UsageError(
            f"--expires {expires!r} is not an expiry: use 2y, 18m, 90d, YYYY-MM-DD or never"
        )
    if "-" in value:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise UsageError(f"--expires {expires!r} is not a valid date") from None
        if day <= today:
            raise UsageError(f"--expires {expires}: the date must be in the future")
    return value


def run(args: argparse.Namespace, context: CliContext) -> int:
    """Generate the key, store it, write the public key, say what to send edX; or retire one."""
    if args.retire is not None:
        generating = [
            option
            for option, value in (
                ("--email", args.email),
                ("--bits", args.bits),
                ("--expires", args.expires),
                ("--out", args.out),
                ("--force", args.force),
                ("--rotate", args.rotate),
            )
            if value not in (None, False)
        ]
        if generating:
            raise UsageError(f"--retire makes no key: drop {', '.join(generating)}")
        return retire_key(context, " ".join(args.retire), dry_run=args.dry_run)
    if args.dry_run:
        raise UsageError("--dry-run goes with --retire only")
    missing = [
        option for option, value in (("--email", args.email), ("--out", args.out)) if not value
    ]
    if missing:
        raise UsageError(
            f"the following arguments are required: {', '.join(missing)} (or --retire FINGERPRINT)"
        )
    bits: int = args.bits or DEFAULT_BITS
    now = context.now()
    email = validate_email(args.email)
    expire = validate_expiry(args.expires or DEFAULT_EXPIRY, today=now.date())
    out: Path = args.out
    if out.exists() and not args.force:
        raise CliError(f"{out} already exists; choose another --out or add --force")
    if not out.parent.is_dir():
        raise CliError(f"cannot write {out}: folder {out.parent} does not exist")

    deployment = context.deployment()
    storage = deployment.storage
    client = context.secretsmanager()
    slot = reserve_key_slot(client, storage, rotate=args.rotate, today=now.date())
    passphrase = slot.passphrase or PipelinePassphrase(
        passphrase=secrets.token_urlsafe(PASSPHRASE_BYTES)
    )

    context.note(f"generating an RSA {bits} key for {email} (this takes a few seconds)...")
    generated = generate_pipeline_key(
        email=email, bits=bits, expire=expire, passphrase=passphrase.passphrase, now=now
    )
    keyring = store_new_key(client, storage, slot, generated.key, passphrase)

    # The secrets are written first: a public key on disk for a key that was never stored
    # would be worse than a stored key whose public half must be printed instead.
    try:
        out.write_text(generated.public_key, encoding="utf-8")
        wrote = f"Public key written to {out}."
    except OSError as error:
        context.note(f"warning: could not write {out} ({error.strerror}); the public key is:")
        context.out(generated.public_key)
        wrote = "Public key printed above (save it as a .asc file)."

    key = generated.key
    orgs = ", ".join(org.id for org in context.config().edx.orgs)
    context.out(f"Stored the pipeline's {'new primary ' if slot.rotating else ''}key:")
    context.out(f"  fingerprint  {_grouped(key.fingerprint)}")
    context.out(f"  user id      {key.user_id}")
    context.out(f"  algorithm    RSA {bits}")
    days = key.days_left(now.date())
    context.out(
        "  expires      never"
        if key.expires is None
        else f"  expires      {key.expires} ({days} days)"
    )
    context.out(f"  secrets      {storage.pipeline_key_secret_arn}")
    context.out(f"               {storage.pipeline_passphrase_secret_arn} (passphrase)")
    context.out(wrote)
    context.out("")
    context.out(
        f"Next: send {out.name} (the public key only) to edX's research data support and ask "
        f"them to register it as an additional data czar key for {orgs}. Confirm the "
        "fingerprint above with them over a second channel."
    )
    if slot.rotating:
        older = [k for k in keyring.keys if k.fingerprint != keyring.primary]
        context.out(
            "The previous key(s) stay stored so files edX encrypted to them still decrypt: "
            + "; ".join(describe_key(k, now.date()) for k in older)
        )
    return 0


def _grouped(fingerprint: str) -> str:
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))
