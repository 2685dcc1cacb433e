"""The pipeline key's public facts (fingerprint, expiry), kept as tags on its secret.

The Report step must warn before the key expires (edX silently stops exporting to an expired
key), but it must not be able to read the private key. Tags are readable with
``secretsmanager:DescribeSecret``, which reveals no secret value; ``edx-vault keygen`` and
``import-key`` set them whenever they store a key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

# The Report step warns (and the PipelineKeyExpiring alarm fires) this many days ahead.
KEY_EXPIRY_WARNING_DAYS: Final = 30
FINGERPRINT_TAG: Final = "edx-vault:primary-key-fingerprint"
EXPIRES_TAG: Final = "edx-vault:primary-key-expires"  # YYYY-MM-DD, or "never"
# How much of a malformed tag value a report repeats (Secrets Manager allows 256 characters).
_SHOWN_CHARACTERS: Final = 40


@dataclass(frozen=True)
class KeyExpiry:
    """The pipeline key's expiry as its secret's tags record it.

    Attributes
    ----------
    fingerprint
        The primary key's fingerprint.
    expires
        Its expiry date; ``None`` when it never expires or when the expiry is unknown.
    problem
        Why the expiry is unknown (a malformed tag), or ``None`` when it is known.
    """

    fingerprint: str
    expires: dt.date | None
    problem: str | None = None

    def days_left(self, today: dt.date) -> int | None:
        return None if self.expires is None else (self.expires - today).days


def key_tags(fingerprint: str, expires: dt.date | None) -> list[dict[str, str]]:
    """The tags to put on the key secret (Secrets Manager's ``Tags`` shape)."""
    return [
        {"Key": FINGERPRINT_TAG, "Value": fingerprint},
        {"Key": EXPIRES_TAG, "Value": expires.isoformat() if expires else "never"},
    ]


def key_expiry_from_tags(tags: Iterable[Mapping[str, str]]) -> KeyExpiry | None:
    """The expiry recorded on the secret, or ``None`` when no key was stored yet.

    Tags can be edited by hand (``aws secretsmanager tag-resource``, the console), so a value
    that is neither a date nor ``never`` is not trusted: the expiry is unknown and
    :attr:`KeyExpiry.problem` says why. The Report step must still report the run's files.
    """
    values = {tag["Key"]: tag["Value"] for tag in tags}
    fingerprint = values.get(FINGERPRINT_TAG)
    if not fingerprint:
        return None
    expires = values.get(EXPIRES_TAG, "never")
    if expires == "never":
        return KeyExpiry(fingerprint, None)
    try:
        return KeyExpiry(fingerprint, dt.date.fromisoformat(expires))
    except ValueError:
        shown = (
            expires if len(expires) <= _SHOWN_CHARACTERS else expires[:_SHOWN_CHARACTERS] + "..."
        )
        return KeyExpiry(
            fingerprint,
            None,
            problem=(
                f"the tag {EXPIRES_TAG} on the pipeline key's secret is {shown!r}, not a date "
                "(YYYY-MM-DD) or 'never'; set it to the key's expiry (edx-vault status lists "
                "the keys and their expiry)"
            ),
        )
