"""Decrypt a small OpenPGP message in memory with the pipeline's stored keys: edX's credentials.

edX emails ``credentials.csv.gpg`` encrypted to the data czar keys it knows, the pipeline's
among them. :func:`decrypt_message` imports the stored keys into a throwaway GnuPG home
(:func:`edx_vault.engine.openpgp_keys.private_home`), decrypts in memory and hands back the
plaintext only when gpg proved it intact (:mod:`edx_vault.engine.gpg_status` decides, as it does
for the pipeline's files). A refusal says why in words: not OpenPGP, for other keys (naming
them and ours), a passphrase that does not unlock the key, a failed integrity check.
"""

from __future__ import annotations

import io
from typing import Final

from edx_vault.engine.gpg_status import GpgStatus, decryption_failure, result_summary
from edx_vault.engine.openpgp_keys import OpenPgpError, private_home

# What a message may be at most: edX's credentials file is a few hundred bytes.
MAX_MESSAGE_BYTES: Final = 1024 * 1024
# The CLI's words for a message gpg refused (gpg_status's failure codes); the other refusals
# quote gpg's own messages.
_REFUSALS: Final = {
    "not-openpgp": "the file is not an OpenPGP message",
    "bad-passphrase": (
        "the stored passphrase does not unlock the stored key: the two secrets do not belong "
        "together"
    ),
    "tampered": "the message failed its integrity check (damaged or tampered)",
}


def decrypt_message(ciphertext: bytes, armored_keys: list[str], passphrase: str) -> bytes:
    """Decrypt a small OpenPGP message in memory with the pipeline's keys.

    Parameters
    ----------
    ciphertext
        The message, binary or armored; at most :data:`MAX_MESSAGE_BYTES`.
    armored_keys
        The private keys to try (all of the key secret's).
    passphrase
        Their passphrase.

    Returns
    -------
    bytes
        The plaintext, only if gpg reported ``DECRYPTION_OKAY`` and no integrity failure.

    Raises
    ------
    OpenPgpError
        Not OpenPGP, encrypted to other keys (their key ids are named), wrong passphrase,
        tampered.
    """
    if len(ciphertext) > MAX_MESSAGE_BYTES:
        raise OpenPgpError(f"the message is larger than {MAX_MESSAGE_BYTES} bytes")
    with private_home() as home:
        gpg = home.gpg()
        for armored in armored_keys:
            if not gpg.import_keys(armored).fingerprints:
                raise OpenPgpError("a stored pipeline key could not be imported into gpg")
        # Messages name their recipients by (sub)key id: ours, to name them in a refusal.
        key_ids: set[str] = set()
        for key in gpg.list_keys(secret=True):
            key_ids.add(key["keyid"])
            key_ids.update(key.get("subkey_info", {}))
        # python-gnupg keeps the plaintext in memory when no output file is given.
        result = gpg.decrypt_file(io.BytesIO(ciphertext), passphrase=passphrase)
    status = GpgStatus.parse(result.stderr)
    failure = decryption_failure(status, result.returncode)
    if failure is None:
        return bytes(result.data)
    if failure.code == "wrong-recipient":
        raise OpenPgpError(
            "the file is not encrypted to the pipeline's key: it is for key id(s) "
            f"{', '.join(sorted(status.recipients))}, the pipeline holds "
            f"{', '.join(sorted(key_ids))}. Ask edX to encrypt it to the pipeline's public key "
            "(edx-vault keygen printed it), or decrypt it yourself and pipe the CSV in: "
            "`gpg -d FILE | edx-vault import-credentials -`"
        )
    raise OpenPgpError(
        _REFUSALS.get(failure.code) or f"gpg could not decrypt the file: {result_summary(result)}"
    )
