"""The CLI's OpenPGP work: make and check the pipeline's key, each in a throwaway GnuPG home.

Decrypting a small message with the stored keys (edX's credentials file) is
:mod:`edx_vault.engine.openpgp_message`; it uses :func:`private_home` from here.

Every operation runs in its own private GnuPG home (mode 700, under the system temp directory),
made with :mod:`edx_vault.engine.gnupg_home` and deleted, agent first, before the function returns.
Keys, passphrases and plaintext pass through memory only: python-gnupg hands passphrases to gpg
on stdin (loopback pinentry), never on the command line, and results come back in memory.

gpg itself must write the keys it handles into ``private-keys-v1.d`` inside that home: there is
no way to make or use a key with gpg without that. The home lives for the few seconds of the
operation and is removed as soon as it is done, whatever happens.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import gnupg

from edx_vault.engine.gnupg_config import GPG_CONF, GnupgHomeError, sibling_tool
from edx_vault.engine.gnupg_home import GnupgHome, open_gnupg_home
from edx_vault.engine.gpg_status import GpgStatus, result_summary
from edx_vault.settings.secret_formats import PipelineKey

# Validity letters in gpg's key listing that make a key or subkey unusable: (e)xpired,
# (r)evoked, (i)nvalid, (d)isabled.
_UNUSABLE_VALIDITY: Final = frozenset("erid")


class OpenPgpError(Exception):
    """gpg refused or failed; the message says why in words, never with key material."""


@dataclass(frozen=True)
class GeneratedKey:
    """A freshly generated pipeline key.

    Attributes
    ----------
    public_key
        The ASCII-armored public key, for edX.
    key
        The private key and its metadata, as the key secret stores it.
    """

    public_key: str
    key: PipelineKey


def find_gpg() -> str:
    """The gpg on ``PATH``.

    Raises
    ------
    OpenPgpError
        When there is none.
    """
    found = shutil.which("gpg")
    if found is None:
        raise OpenPgpError(
            "gpg is not installed: install GnuPG 2.2 or newer (Debian/Ubuntu: apt-get install gpg)"
        )
    return found


@contextlib.contextmanager
def private_home() -> Iterator[GnupgHome]:
    """A new private GnuPG home with its agent; stopped and deleted on exit, keys included.

    Raises
    ------
    OpenPgpError
        When the home or its agent cannot be set up.
    """
    gpg_binary = find_gpg()
    # macOS's per-user temp directory is too deep for gpg-agent's socket paths; /tmp is not.
    parents = list(dict.fromkeys([Path(tempfile.gettempdir()), Path("/tmp")]))  # noqa: S108
    for parent in parents:
        try:
            home = open_gnupg_home(gpg_binary=gpg_binary, parent=parent)
            break
        except GnupgHomeError as error:
            problem = error
    else:
        raise OpenPgpError(f"could not set up a private GnuPG home: {problem}")
    try:
        yield home
    finally:
        # Kill every daemon gpg may have started for this home (the agent, and dirmngr or
        # keyboxd in newer gpg), then delete the home with the key files gpg wrote into it.
        subprocess.run(  # noqa: S603 - our own tool path and fixed arguments
            [sibling_tool(gpg_binary, "gpgconf"), "--homedir", str(home.path), "--kill", "all"],
            capture_output=True,
            check=False,
        )
        with contextlib.suppress(GnupgHomeError):
            home.stop_agent()
        shutil.rmtree(home.path, ignore_errors=True)


def _utc_date(epoch: str) -> dt.date | None:
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC).date() if epoch else None


def _usable(validity: str, expires: str, now: dt.datetime) -> bool:
    if validity in _UNUSABLE_VALIDITY:
        return False
    return not expires or int(expires) > now.timestamp()


def _encryption_expiry(listing: dict[str, Any], now: dt.datetime) -> tuple[bool, dt.date | None]:
    """Whether the key can be encrypted to now, and the last day it can be.

    edX encrypts to the key's encryption-capable (sub)key, so the key is only useful until the
    earlier of the primary key's expiry and the latest usable encryption subkey's expiry.
    """
    primary_expiry = _utc_date(listing.get("expires", ""))
    candidates: list[dt.date | None] = []
    # Lower-case letters in the primary's "cap" are the primary key's own capabilities.
    if "e" in listing.get("cap", "") and _usable(
        listing.get("trust", ""), listing.get("expires", ""), now
    ):
        candidates.append(primary_expiry)
    for subkey in listing.get("subkey_info", {}).values():
        if "e" in subkey.get("cap", "") and _usable(
            subkey.get("trust", ""), subkey.get("expires", ""), now
        ):
            candidates.append(_utc_date(subkey.get("expires", "")))
    if not candidates:
        return False, None
    latest_subkey = None if None in candidates else max(d for d in candidates if d is not None)
    if primary_expiry is None:
        return True, latest_subkey
    if latest_subkey is None:
        return True, primary_expiry
    return True, min(primary_expiry, latest_subkey)


def generate_pipeline_key(
    *, email: str, bits: int, expire: str, passphrase: str, now: dt.datetime
) -> GeneratedKey:
    """Generate an RSA key pair for the pipeline, protected by ``passphrase``.

    The primary key certifies and signs; an RSA subkey of the same size encrypts, as in edX's
    guide. The user id is ``email``.

    Parameters
    ----------
    email
        The user id (an institutional address, already validated).
    bits
        3072 or 4096.
    expire
        gpg's expiry syntax: ``2y``, ``18m``, ``90d``, ``2028-06-30`` or ``0`` (never).
    passphrase
        Protects the key; goes to gpg on stdin only.
    now
        The current time, to read the new key's dates.

    Raises
    ------
    OpenPgpError
        When gpg fails.
    """
    with private_home() as home:
        # Generation runs without loopback and takes the Passphrase parameter below; loopback
        # is back on (command line) for the export. Either way gpg signs the subkey binding with
        # the passphrase the agent holds for the command, which a max-cache-ttl of 0 could drop
        # mid-command (random "signing failed: Inappropriate ioctl for device"; see
        # gnupg_config.COMMAND_PASSPHRASE_SECONDS).
        (home.path / "gpg.conf").write_text(
            "".join(f"{line}\n" for line in GPG_CONF if "pinentry-mode" not in line),
            encoding="utf-8",
        )
        generator = gnupg.GPG(gpgbinary=home.gpg_binary, gnupghome=str(home.path))
        parameters = (
            f"Key-Type: RSA\nKey-Length: {bits}\nKey-Usage: sign\n"
            f"Subkey-Type: RSA\nSubkey-Length: {bits}\nSubkey-Usage: encrypt\n"
            f"Name-Email: {email}\nExpire-Date: {expire}\n"
            f"Passphrase: {passphrase}\n%commit\n"
        )
        generated = generator.gen_key(parameters)
        if not generated.fingerprint:
            raise OpenPgpError(f"gpg could not generate the key: {result_summary(generated)}")
        fingerprint = str(generated.fingerprint)
        gpg = home.gpg()
        public_key = str(gpg.export_keys(fingerprint))
        private_key = str(gpg.export_keys(fingerprint, secret=True, passphrase=passphrase))
        if "PRIVATE KEY BLOCK" not in private_key:
            raise OpenPgpError("gpg could not export the new private key")
        listing = _listing(gpg, fingerprint)
    _, expires = _encryption_expiry(listing, now)
    return GeneratedKey(
        public_key=public_key,
        key=PipelineKey(
            fingerprint=fingerprint,
            armored_private_key=private_key,
            user_id=_user_id(listing),
            created=_utc_date(listing["date"]) or now.date(),
            expires=expires,
        ),
    )


def _listing(gpg: gnupg.GPG, fingerprint: str) -> dict[str, Any]:
    for key in gpg.list_keys():
        if key["fingerprint"] == fingerprint:
            listing: dict[str, Any] = key
            return listing
    raise OpenPgpError(f"gpg does not list key {fingerprint} after importing it")


def _user_id(listing: dict[str, Any]) -> str:
    uids = listing.get("uids") or [""]
    return str(uids[0])


def check_private_key(key_data: bytes, passphrase: str, *, now: dt.datetime) -> PipelineKey:
    """Check an existing private key is fit to be the pipeline's key, and return it for storage.

    It must be exactly one secret key, not revoked or expired, with a usable encryption
    (sub)key; ``passphrase`` must unlock it (a test message encrypted to the key is decrypted),
    and the key must not be unprotected (a wrong passphrase must fail).

    Parameters
    ----------
    key_data
        The key file's bytes (armored or binary).
    passphrase
        Its passphrase.
    now
        The current time, for expiry checks.

    Returns
    -------
    PipelineKey
        The key, re-exported armored (only this key, nothing else the file held).

    Raises
    ------
    OpenPgpError
        Saying which check failed.
    """
    with private_home() as home:
        gpg = home.gpg()
        imported = gpg.import_keys(key_data)
        secret_fingerprints = {
            result["fingerprint"]
            for result in imported.results
            if result.get("fingerprint") and int(result.get("ok") or 0) & 16
        }
        if not imported.fingerprints:
            raise OpenPgpError("the file holds no OpenPGP key gpg can read")
        if not secret_fingerprints:
            raise OpenPgpError(
                "the file holds a public key only; export the private key with "
                "`gpg --export-secret-keys --armor FINGERPRINT > key.asc`"
            )
        if len(secret_fingerprints) > 1:
            raise OpenPgpError(
                f"the file holds {len(secret_fingerprints)} private keys; export just the one "
                "the pipeline should use"
            )
        [fingerprint] = secret_fingerprints
        listing = _listing(gpg, fingerprint)
        validity = listing.get("trust", "")
        if validity == "r":
            raise OpenPgpError(f"key {fingerprint} is revoked")
        if validity == "e" or not _usable("", listing.get("expires", ""), now):
            raise OpenPgpError(
                f"key {fingerprint} expired on {_utc_date(listing.get('expires', ''))}; extend "
                "it with `gpg --quick-set-expire` (and send edX the updated public key)"
            )
        can_encrypt, expires = _encryption_expiry(listing, now)
        if not can_encrypt:
            raise OpenPgpError(
                f"key {fingerprint} has no usable encryption subkey (edX encrypts to one); "
                "add one with `gpg --quick-add-key FINGERPRINT rsa3072 encr 2y`"
            )
        probe = secrets.token_bytes(32)
        encrypted = gpg.encrypt(probe, [fingerprint], always_trust=True, armor=False)
        if not encrypted.ok:
            raise OpenPgpError(f"gpg could not encrypt a test message to key {fingerprint}")
        decrypted = gpg.decrypt(encrypted.data, passphrase=passphrase)
        if not decrypted.ok or decrypted.data != probe:
            if GpgStatus.parse(decrypted.stderr).passphrase_refused:
                raise OpenPgpError(f"the passphrase does not unlock key {fingerprint}")
            raise OpenPgpError(
                f"key {fingerprint} could not decrypt a test message: {result_summary(decrypted)}"
            )
        wrong = gpg.decrypt(encrypted.data, passphrase=f"not-{secrets.token_urlsafe(16)}")
        if wrong.ok:
            raise OpenPgpError(
                f"key {fingerprint} has no passphrase; protect it first (`gpg --passwd "
                "FINGERPRINT`): the pipeline keeps the key and its passphrase in separate "
                "secrets so that one leak alone is not enough"
            )
        private_key = str(gpg.export_keys(fingerprint, secret=True, passphrase=passphrase))
        if "PRIVATE KEY BLOCK" not in private_key:
            raise OpenPgpError(f"gpg could not export key {fingerprint}")
    return PipelineKey(
        fingerprint=fingerprint,
        armored_private_key=private_key,
        user_id=_user_id(listing),
        created=_utc_date(listing.get("date", "")) or now.date(),
        expires=expires,
    )
