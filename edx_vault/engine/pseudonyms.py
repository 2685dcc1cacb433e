"""Keyed pseudonyms: the same learner gets the same short, stable name in every file and table.

A pseudonym is ``{prefix}{32 hex}``: the first 128 bits of HMAC-SHA256 under the vault's
pseudonym key, of the identifier's *kind* and its normalized value. Without the key nobody can
compute a pseudonym from a username or user id (a plain hash of a username could be reversed by
hashing every username on a leaderboard or forum page); with it, the pipeline gives the same
learner the same pseudonym in every event log, every course file and every table, so joins work
in the de-identified tier exactly as in the original one.

Each kind of identifier has its own space and prefix, because the streaming transforms see one
line at a time and cannot look up a learner's user id from their username:

- ``u_``: usernames (``username`` of events, ``auth_user.username``, ``credit_crediteligibility``),
- ``i_``: edX's internal user ids (``context.user_id``, ``auth_user.id``, every ``user_id`` and
  ``student_id`` column),
- ``a_``: edX's per-course anonymous ids (``student_anonymoususerid.anonymous_user_id``, the ids
  edX hands to LTI tools and ORA),
- ``p_``: ``auth_userprofile.id``, which ``student_languageproficiency`` points at,
- ``s_``: browser sessions (the event's ``session``), so visits can still be told apart.

Every event carries both a username and a user id, so a de-identified event links a ``u_`` and an
``i_`` pseudonym, and ``auth_user`` (de-identified) does too: a researcher joins events to tables
through either.

Rotating the key changes every pseudonym: copies made under the old key no longer join copies
made under the new one (see docs/deidentification.md).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from typing import Final

from edx_vault.package.deidentified_fields import PseudonymKind as IdentifierKind

PREFIXES: Final[dict[IdentifierKind, str]] = {
    "username": "u_",
    "user_id": "i_",
    "anonymous_user_id": "a_",
    "user_profile_id": "p_",
    "session": "s_",
}
# 128 bits: collisions stay negligible for billions of learners (birthday bound 2^64), and the
# value stays short enough to read and to index.
DIGEST_HEX_CHARS: Final = 32
# RFC 2104 (section 3) strongly discourages HMAC keys shorter than the hash's output (32 bytes
# for SHA-256): shorter keys are refused rather than silently weak.
MIN_KEY_BYTES: Final = 32
# A log names a few hundred thousand learners at most; remembering them saves an HMAC per field.
_CACHE_LIMIT: Final = 1 << 18


def normalize(kind: IdentifierKind, value: str) -> str:
    """The form of an identifier that is hashed: equal identifiers normalize alike.

    Usernames are NFC-normalized and case-folded. edx-platform refuses a new username that
    differs from an existing one only by case (registration checks ``username__iexact``, and
    MySQL's case-insensitive collation on ``auth_user.username`` enforces it), so ``Ada_1`` and
    ``ada_1`` are one learner, and folding joins an event that spells the name differently from
    the table. User ids are integers: ``"0042"`` and ``"42"`` are one id. Anonymous ids and
    sessions are opaque hex and only trimmed.

    >>> normalize("username", " Zoë_1 ")
    'zoë_1'
    >>> normalize("user_id", "0042")
    '42'
    """
    text = value.strip()
    if kind == "username":
        return unicodedata.normalize("NFC", text).casefold()
    if kind in ("user_id", "user_profile_id") and text.isascii() and text.isdigit():
        return str(int(text))
    if kind == "anonymous_user_id":
        return text.lower()
    return text


class Pseudonymizer:
    """Pseudonyms under one key.

    Parameters
    ----------
    key
        The pseudonym key's bytes (from the vault's secret), at least :data:`MIN_KEY_BYTES`.

    Raises
    ------
    ValueError
        If the key is shorter than :data:`MIN_KEY_BYTES`; the message never shows the key.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(
                f"the pseudonym key must be at least {MIN_KEY_BYTES} bytes, got {len(key)}"
            )
        self._key = bytes(key)
        self._cache: dict[tuple[IdentifierKind, str], str] = {}

    def __repr__(self) -> str:
        # Never the key: a repr may reach a log or a traceback.
        return "Pseudonymizer(key=<hidden>)"

    def pseudonym(self, kind: IdentifierKind, value: str) -> str:
        """``value``'s pseudonym, e.g. ``u_3f2a...`` (prefix and 32 lower-case hex digits).

        The kind is part of the hashed message, so a username and a user id that happen to be
        spelled alike (``"1017"``) get unrelated pseudonyms in different spaces.
        """
        cache_key = (kind, value)
        found = self._cache.get(cache_key)
        if found is not None:
            return found
        message = f"{kind}\x00{normalize(kind, value)}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).hexdigest()
        result = PREFIXES[kind] + digest[:DIGEST_HEX_CHARS]
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[cache_key] = result
        return result

    def username(self, value: str) -> str:
        """A username's pseudonym (``u_...``)."""
        return self.pseudonym("username", value)

    def user_id(self, value: str | int) -> str:
        """An edX user id's pseudonym (``i_...``), for ``context.user_id`` and ``*.user_id`` alike."""
        return self.pseudonym("user_id", str(value))
