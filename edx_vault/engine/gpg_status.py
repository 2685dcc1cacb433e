"""gpg's status lines, read in one place: did a decryption succeed, and if not, why.

python-gnupg runs gpg with ``--status-fd 2``: beside gpg's own messages (``gpg: ...``), stderr
holds machine-readable lines such as ``[GNUPG:] ENC_TO 1ED2F0F1D0CC730D 1 0`` or
``[GNUPG:] DECRYPTION_OKAY``. :func:`decryption_failure` is the only code that turns them into a
verdict: the failure code the pipeline records for a file (:mod:`edx_vault.engine.gpg_stream`)
and the CLI's refusal of a small message (:mod:`edx_vault.engine.openpgp_message`, and the key
check of :mod:`edx_vault.engine.openpgp_keys`) come from it, so they never disagree about what
gpg said.

The verdict is built from status keywords and key ids only. :func:`result_summary` quotes
gpg's own message lines for an error that has no better words; it leaves out any line about a
passphrase. Neither ever includes key material or plaintext: gpg writes neither to stderr.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

STATUS_PREFIX: Final = "[GNUPG:] "
MESSAGE_PREFIX: Final = "gpg: "
# libgpg-error's GPG_ERR_BAD_PASSPHRASE, in the low 16 bits of an ``ERROR`` line's code: gpg 2.2
# reports a refused passphrase with loopback pinentry as ``ERROR pkdecrypt_failed 67108875``
# (source 1, code 11), not with a BAD_PASSPHRASE line.
_BAD_PASSPHRASE_ERROR: Final = 11
_ERROR_CODE_MASK: Final = 0xFFFF
# How many of gpg's message lines a summary quotes (the last ones: the error comes last).
SUMMARY_LINES: Final = 3


@dataclass(frozen=True)
class GpgStatus:
    """What one gpg run reported on its status lines.

    Attributes
    ----------
    keywords
        Every status keyword seen (``DECRYPTION_OKAY``, ``NO_SECKEY``, ``BADMDC``...).
    recipients
        The key ids the message is encrypted to (``ENC_TO``), in order, without repeats.
    missing_keys
        The key ids gpg holds no secret key for (``NO_SECKEY``).
    error_codes
        The libgpg-error codes of ``ERROR`` lines, by the operation that failed.
    messages
        gpg's own lines (``gpg: ...``), without the prefix.
    """

    keywords: frozenset[str]
    recipients: tuple[str, ...]
    missing_keys: frozenset[str]
    error_codes: tuple[tuple[str, int], ...]
    messages: tuple[str, ...]

    @classmethod
    def parse(cls, stderr: str | None) -> GpgStatus:
        """Read gpg's stderr (status lines and messages) as python-gnupg collected it."""
        keywords: set[str] = set()
        recipients: dict[str, None] = {}
        missing: set[str] = set()
        errors: list[tuple[str, int]] = []
        messages: list[str] = []
        for line in (stderr or "").splitlines():
            if line.startswith(MESSAGE_PREFIX):
                messages.append(line.removeprefix(MESSAGE_PREFIX).strip())
                continue
            if not line.startswith(STATUS_PREFIX):
                continue
            keyword, *arguments = line.removeprefix(STATUS_PREFIX).split() or [""]
            if not keyword:
                continue
            keywords.add(keyword)
            if keyword == "ENC_TO" and arguments:
                recipients[arguments[0]] = None
            elif keyword == "NO_SECKEY" and arguments:
                missing.add(arguments[0])
            elif keyword == "ERROR" and len(arguments) > 1 and arguments[1].isdigit():
                errors.append((arguments[0], int(arguments[1])))
        return cls(
            keywords=frozenset(keywords),
            recipients=tuple(recipients),
            missing_keys=frozenset(missing),
            error_codes=tuple(errors),
            messages=tuple(messages),
        )

    @property
    def passphrase_refused(self) -> bool:
        """gpg holds a recipient's secret key but the passphrase did not unlock it."""
        return bool({"BAD_PASSPHRASE", "MISSING_PASSPHRASE"} & self.keywords) or any(
            code & _ERROR_CODE_MASK == _BAD_PASSPHRASE_ERROR for _, code in self.error_codes
        )

    @property
    def no_recipient_key(self) -> bool:
        """gpg holds the secret key of none of the message's recipients."""
        return (
            bool(self.missing_keys)
            and set(self.recipients) <= self.missing_keys
            and "DECRYPTION_OKAY" not in self.keywords
        )

    def summary(self, fallback: str = "unknown error") -> str:
        """gpg's last few message lines (which name keys and errors, never contents)."""
        lines = [line for line in self.messages if "passphrase" not in line.lower()]
        return "; ".join(lines[-SUMMARY_LINES:]) or fallback


def result_summary(result: Any) -> str:
    """What went wrong in a python-gnupg result: gpg's last message lines, else its status word."""
    fallback = str(getattr(result, "status", "") or "unknown error")
    return GpgStatus.parse(getattr(result, "stderr", None)).summary(fallback)


@dataclass(frozen=True)
class DecryptionFailure:
    """Why gpg's output must not be used: a failure code for reports, and a reason in words."""

    code: str
    reason: str


# In order: the first rule that holds is the verdict.
_RULES: Final[tuple[tuple[str, str, Callable[[GpgStatus], bool]], ...]] = (
    (
        "not-openpgp",
        "no OpenPGP data found: the file is not an encrypted message",
        lambda status: "NODATA" in status.keywords and "BEGIN_DECRYPTION" not in status.keywords,
    ),
    (
        "bad-passphrase",
        "the pipeline key's passphrase was refused",
        # Unless another key of the keyring decrypted it (the verdict gpg's own success gives).
        lambda status: status.passphrase_refused and "DECRYPTION_OKAY" not in status.keywords,
    ),
    (
        "wrong-recipient",
        "the file is not encrypted to the pipeline's key (gpg: no secret key)",
        lambda status: status.no_recipient_key,
    ),
    (
        "tampered",
        "integrity check failed (BADMDC): the ciphertext was modified or truncated",
        lambda status: "BADMDC" in status.keywords,
    ),
    (
        "decryption-failed",
        "gpg could not decrypt the file (corrupt or truncated)",
        lambda status: "DECRYPTION_FAILED" in status.keywords,
    ),
    (
        "corrupt",
        "gpg stopped before confirming the file's integrity: the ciphertext is corrupt, "
        "truncated or was modified",
        lambda status: "DECRYPTION_OKAY" not in status.keywords,
    ),
)


def decryption_failure(status: GpgStatus, returncode: int | None) -> DecryptionFailure | None:
    """Why a decryption's plaintext must not be used; ``None`` only when gpg proved it intact.

    Intact means gpg exited 0 with ``DECRYPTION_OKAY`` and none of the failures above: gpg
    writes plaintext before it checks the message's integrity, so anything less is refused.
    """
    for code, reason, holds in _RULES:
        if holds(status):
            return DecryptionFailure(code, reason)
    if returncode != 0:
        return DecryptionFailure("gpg-error", f"gpg exited with status {returncode}")
    return None
