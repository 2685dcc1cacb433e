"""Which de-identified copies a run must write or remove: a pure function over two listings.

The de-identified tier (docs/deidentification.md) is rebuilt from the *published* files, never
from ``raw/``: each published file of a copied kind (:func:`copied_table_of` / :func:`has_copy`)
has its copy at :func:`~edx_vault.package.output_keys.deidentified_output_key`. A copy is
**due** when it is missing, older than its original (S3's ``LastModified``: the original was
published again after the copy was made), or not newer than the tier's **epoch**: the moment the
current pseudonym key and rules were first used (:class:`TierEpoch`). Rotating the key or
changing the rules starts a new epoch, so every copy made before it is due, and a rebuild cut
short by a failure is finished by the next run (its remaining copies are still older than the
epoch). A copy whose original is gone (or no longer copied) is an **orphan**, to be removed.

Nothing here reads S3: :mod:`edx_vault.pipeline.steps.deidentify` lists and acts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from edx_vault.package import deidentified_fields
from edx_vault.package.bucket_layout import (
    COURSE_EXPORT_PREFIX,
    COURSE_STRUCTURE_PREFIX,
    DATABASE_PREFIX,
    DEIDENTIFIED_PREFIX,
    EVENTS_BY_COURSE_PREFIX,
    UNPARSED,
)
from edx_vault.package.edx_spellings import DATABASE_TABLES
from edx_vault.package.identifying_columns import (
    COPIED_TABLES,
    TABLE_RULES,
    CopiedTable,
    has_deidentified_copy,
)

# The published prefixes that have copies, listed and read by the step: the course event files
# (not events/, the whole-org logs: a whole-org non-identifiable grant reads every course's
# copy, _none included), each copied table's folder, course structure and exports. Not the
# categories that identify as a whole (forums, ORA, email opt-in: has_deidentified_copy), the
# tables without a copy (user_id_map, unreviewed ones), nor rdx/ (no grant category reads it).
COPIED_PREFIXES: Final = (
    EVENTS_BY_COURSE_PREFIX,
    *(f"{DATABASE_PREFIX}{table}/" for table in sorted(COPIED_TABLES) if table in DATABASE_TABLES),
    COURSE_STRUCTURE_PREFIX,
    COURSE_EXPORT_PREFIX,
)
# Raised by hand when the transforms change what they write for the same rules (a bug fixed in
# edx_vault/engine/deidentify_*.py): a new value rebuilds the tier like a rotated key.
TRANSFORM_REVISION: Final = 1
_UNPARSED_FOLDER: Final = f"/course={UNPARSED}/"


@dataclass(frozen=True)
class Listed:
    """One object of a listing: its key, when S3 last wrote it, and its size."""

    key: str
    last_modified: dt.datetime
    size: int = 0


@dataclass(frozen=True)
class TierEpoch:
    """The tier's current version and when it started (S3's time of its marker).

    Attributes
    ----------
    version
        :func:`tier_version` of the pseudonym key's ``created`` and :func:`rules_version`.
    since
        The marker's ``LastModified``: a copy written before it was made under another key or
        other rules.
    """

    version: str
    since: dt.datetime


@dataclass(frozen=True)
class TierPlan:
    """What a run does to the tier.

    Attributes
    ----------
    due
        The originals whose copy is written this run, in key order.
    orphans
        The copies to remove (their original is gone or no longer copied), in key order.
    up_to_date
        How many copies are current.
    """

    due: tuple[Listed, ...]
    orphans: tuple[str, ...]
    up_to_date: int


def rules_version() -> str:
    """A digest of what decides a copy's content: the event allowlist, the table rules (their
    fields and treatments, not the reasons) and :data:`TRANSFORM_REVISION`."""
    document = {
        "revision": TRANSFORM_REVISION,
        "events": sorted(
            [pattern, rule.path, rule.treatment]
            for pattern, rule in deidentified_fields.all_field_rules()
        ),
        "tables": {
            table: (
                {column: rule.treatment for column, rule in sorted(rule.columns.items())}
                if isinstance(rule, CopiedTable)
                else None
            )
            for table, rule in sorted(TABLE_RULES.items())
        },
        "user_paths": sorted(deidentified_fields.USER_PATH_PARENTS.items()),
        "tokens": [deidentified_fields.EMAIL_TOKEN, deidentified_fields.REDACTED_SEGMENT],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tier_version(key_created: dt.datetime, rules: str) -> str:
    """The tier's version: which key (by its ``created``, never its bytes) and which rules."""
    return f"key={key_created.astimezone(dt.UTC).isoformat(timespec='seconds')};rules={rules}"


def copied_table_of(key: str) -> str | None:
    """The table a ``database/`` key holds, when that table's rule copies it; else ``None``."""
    if not key.startswith(DATABASE_PREFIX) or not key.endswith(".sql"):
        return None
    table = key[len(DATABASE_PREFIX) :].split("/", 1)[0]
    return table if has_deidentified_copy("database", table) else None


def has_copy(key: str) -> bool:
    """Whether the published file at ``key`` has a de-identified copy.

    Event files of the ``_unparsed`` partition have none: their lines are not JSON and every
    one would be dropped.
    """
    if key.endswith("/"):
        return False  # a folder marker a console left, not a file
    if key.startswith(EVENTS_BY_COURSE_PREFIX):
        return _UNPARSED_FOLDER not in key
    if key.startswith(DATABASE_PREFIX):
        return copied_table_of(key) is not None
    return key.startswith((COURSE_STRUCTURE_PREFIX, COURSE_EXPORT_PREFIX))


def plan_tier(originals: Iterable[Listed], copies: Iterable[Listed], epoch: TierEpoch) -> TierPlan:
    """Compare the published files with their copies.

    Parameters
    ----------
    originals
        The listing of :data:`COPIED_PREFIXES` (files without a copy are passed over).
    copies
        The listing of ``deidentified/``.
    epoch
        The tier's current epoch.

    Returns
    -------
    TierPlan
        A copy is due when missing, when its ``LastModified`` is before its original's, or
        not after ``epoch.since`` (a copy made in the epoch's first second may be the old
        key's: it is made again, once). A copy listed in the same second as its original is current:
        the step runs after the run's decrypt and split, so it read the version they published
        (only an overlapping run, a manual sync during the scheduled one, publishing the same
        file again in that same second could be missed; the copy's metadata names the version
        it was made from).
    """
    wanted = {item.key: item for item in originals if has_copy(item.key)}
    made = {item.key[len(DEIDENTIFIED_PREFIX) :]: item for item in copies}
    due = []
    up_to_date = 0
    for key in sorted(wanted):
        original, copy = wanted[key], made.get(key)
        if (
            copy is None
            or copy.last_modified < original.last_modified
            or copy.last_modified <= epoch.since
        ):
            due.append(original)
        else:
            up_to_date += 1
    orphans = tuple(DEIDENTIFIED_PREFIX + key for key in sorted(set(made) - set(wanted)))
    return TierPlan(due=tuple(due), orphans=orphans, up_to_date=up_to_date)
