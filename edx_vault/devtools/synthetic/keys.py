"""Throwaway OpenPGP keys for tests and demos: ed25519/cv25519, fast to make, never for real data.

:func:`generate_key` makes one in a given GnuPG home (with or without a passphrase; the
integration tests' pipeline key uses it too); :func:`generate_throwaway_key_pair` makes an
unprotected pair in a home deleted afterwards and hands back both armored halves.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import gnupg

from edx_vault.devtools.synthetic.encryption import forget_gnupg_home


@dataclass(frozen=True)
class ThrowawayKeyPair:
    """An unprotected OpenPGP key pair for tests and demos only: never for real data."""

    public_key: str
    secret_key: str
    fingerprint: str


def generate_key(
    gpg: gnupg.GPG, *, name_real: str, email: str, passphrase: str | None = None
) -> str:
    """Make an ed25519 signing key with a cv25519 encryption subkey, valid for a year.

    Parameters
    ----------
    gpg
        The GnuPG home to make it in.
    name_real, email
        The key's user id.
    passphrase
        Protects the secret key; ``None`` leaves it unprotected.

    Returns
    -------
    str
        The new key's fingerprint.
    """
    protection = {"no_protection": True} if passphrase is None else {"passphrase": passphrase}
    key = gpg.gen_key(
        gpg.gen_key_input(
            key_type="EDDSA",
            key_curve="ed25519",
            key_usage="sign",
            subkey_type="ECDH",
            subkey_curve="cv25519",
            subkey_usage="encrypt",
            name_real=name_real,
            name_email=email,
            expire_date="1y",
            **protection,
        )
    )
    if not key.fingerprint:
        raise RuntimeError(f"gpg could not generate a key: {key.stderr}")
    return str(key.fingerprint)


def generate_throwaway_key_pair(*, email: str = "synthetic-czar@example.edu") -> ThrowawayKeyPair:
    """Make an unprotected key pair (see :func:`generate_key`) in a GNUPGHOME deleted after.

    Fast enough for a test fixture. The secret key is unprotected: use it for synthetic data
    only.

    Parameters
    ----------
    email
        The key's user id e-mail (edX asks for an official institutional address).
    """
    home = Path(tempfile.mkdtemp(prefix="edxv-key-"))
    try:
        gpg = gnupg.GPG(gnupghome=str(home))
        fingerprint = generate_key(gpg, name_real="Synthetic data czar", email=email)
        public_key = gpg.export_keys(fingerprint)
        secret_key = gpg.export_keys(fingerprint, secret=True, expect_passphrase=False)
        return ThrowawayKeyPair(
            public_key=str(public_key), secret_key=str(secret_key), fingerprint=fingerprint
        )
    finally:
        forget_gnupg_home(home)
