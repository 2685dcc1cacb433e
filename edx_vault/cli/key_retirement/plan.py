"""Which key ``keygen --retire`` is asked to remove, and whether it may be removed at all.

The key is named by its fingerprint (40 or 64 hex digits; spaces, as ``keygen`` prints it, and
any case allowed) or by a long key id (16 hex digits) of the key or one of its subkeys, accepted
only when exactly one stored key has it; a short key id is refused. The only stored key and
the primary are refused whatever the files say. :class:`KeyNames` then names every key id the
checks meet: the key to retire, a kept key, the primary, a hidden recipient.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from edx_vault.cli.errors import CliError, UsageError
from edx_vault.cli.key_storage import describe_key
from edx_vault.engine.openpgp_packets import WILDCARD_KEY_ID, Recipients
from edx_vault.settings.secret_formats import PipelineKey, PipelineKeyring

FINGERPRINT_LENGTHS: Final = (40, 64)
LONG_KEY_ID_LENGTH: Final = 16
SHORT_KEY_ID_LENGTH: Final = 8
NOTHING_CHANGED: Final = "Nothing was changed."
_HEX: Final = re.compile(r"^[0-9A-F]+$")


def normalise_reference(text: str) -> str:
    """``text`` as upper-case hex without spaces (or a ``0x``): a fingerprint or long key id.

    Raises
    ------
    UsageError
        Not hex, a short key id, or neither a fingerprint's nor a long key id's length.
    """
    compact = "".join(text.split()).upper().removeprefix("0X")
    if not compact or not _HEX.fullmatch(compact):
        raise UsageError(
            f"--retire {text!r} is not a fingerprint: give the key's 40 hex digits (spaces "
            "allowed, as keygen and `edx-vault status` print them)"
        )
    if len(compact) == SHORT_KEY_ID_LENGTH:
        raise UsageError(
            f"--retire {text}: a short key id (8 hex digits) can be shared by any number of "
            "keys; give the fingerprint (`edx-vault status` lists the stored keys)"
        )
    if len(compact) not in (*FINGERPRINT_LENGTHS, LONG_KEY_ID_LENGTH):
        raise UsageError(
            f"--retire {text}: {len(compact)} hex digits is neither a fingerprint (40, or 64) "
            "nor a long key id (16)"
        )
    return compact


def resolve_key(
    keyring: PipelineKeyring,
    reference: str,
    ids_by_key: Mapping[str, frozenset[str]],
    *,
    today: dt.date,
) -> PipelineKey:
    """The stored key ``reference`` (from :func:`normalise_reference`) names.

    Raises
    ------
    CliError
        No stored key has it, or (a long key id) more than one does.
    """
    if len(reference) in FINGERPRINT_LENGTHS:
        what = "fingerprint"
        matches = [key for key in keyring.keys if key.fingerprint == reference]
    else:
        what = "key id"
        matches = [key for key in keyring.keys if reference in ids_by_key.get(key.fingerprint, ())]
    if not matches:
        raise CliError(
            f"no stored pipeline key has the {what} {reference}; the key secret holds: "
            + stored_keys(keyring, today)
            + f". {NOTHING_CHANGED}"
        )
    if len(matches) > 1:
        raise CliError(
            f"the key id {reference} belongs to more than one stored key ("
            + ", ".join(key.fingerprint for key in matches)
            + f"): give the fingerprint of the one to retire. {NOTHING_CHANGED}"
        )
    return matches[0]


def refuse_needed_key(keyring: PipelineKeyring, key: PipelineKey, *, today: dt.date) -> None:
    """Refuse the only key and the primary one, whatever the files say.

    Raises
    ------
    CliError
        ``key`` is the only stored key, or the primary.
    """
    if len(keyring.keys) == 1:
        raise CliError(
            f"{key.fingerprint} is the only stored pipeline key: without it the pipeline could "
            "decrypt nothing. To replace it, rotate first (edx-vault keygen --rotate --email "
            "ADDRESS --out pipeline-new.asc), wait until edX encrypts to the new key, then "
            f"retire this one. {NOTHING_CHANGED}"
        )
    if key.fingerprint == keyring.primary:
        older = [k for k in keyring.keys if k.fingerprint != keyring.primary]
        raise CliError(
            f"{key.fingerprint} is the current (primary) key, the one edX should be encrypting "
            "to now; only an older key can be retired: "
            + "; ".join(describe_key(k, today) for k in older)
            + f". {NOTHING_CHANGED}"
        )


def stored_keys(keyring: PipelineKeyring, today: dt.date) -> str:
    return "; ".join(
        describe_key(key, today) + (" [primary]" if key.fingerprint == keyring.primary else "")
        for key in keyring.keys
    )


@dataclass(frozen=True)
class KeyNames:
    """Names the pipeline's key ids in messages: the key being retired, a kept key, or neither."""

    retiring: frozenset[str]
    kept: Mapping[str, str]  # key id -> fingerprint of a key that stays
    primary: str

    def label(self, key_ids: Iterable[str]) -> str:
        """``ID (the key to retire), ID (kept primary key), ID`` for a file's recipients."""
        labels = []
        for key_id in key_ids:
            if key_id in self.retiring:
                labels.append(f"{key_id} (the key to retire)")
            elif self.kept.get(key_id) == self.primary:
                labels.append(f"{key_id} (the primary key)")
            elif key_id in self.kept:
                labels.append(f"{key_id} (a kept pipeline key)")
            elif key_id == WILDCARD_KEY_ID:
                labels.append(f"{key_id} (hidden recipient)")
            else:
                labels.append(key_id)
        return ", ".join(labels) or "no public key"

    def needs_key(self, recipients: Recipients) -> str | None:
        """Why the file may need the key being retired, or ``None`` when it cannot."""
        if self.retiring.intersection(recipients.key_ids):
            return "still encrypted to the key to retire"
        if WILDCARD_KEY_ID in recipients.key_ids:
            return "has hidden recipients (key id 0), so it cannot tell whether it needs the key"
        if not recipients.complete:
            return (
                f"names more recipients than the bytes read hold (first {len(recipients.key_ids)} "
                "read), so it cannot tell whether it needs the key"
            )
        return None
