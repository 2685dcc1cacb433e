"""``edx-vault keygen --retire FINGERPRINT``: remove an old pipeline key once nothing needs it.

After ``keygen --rotate`` the key secret holds the old key and the new, primary one, so that
files edX encrypted before it switched still decrypt. Removing the old key too early would leave
files that nothing can ever publish, so it is removed only when all of these hold, each printed
with its evidence before anything changes:

1. **It is a stored key, neither the only one nor the primary** (the key edX should be encrypting
   to now). Without a key the pipeline decrypts nothing; without the primary, nothing edX sends.
2. **No unpublished file in the vault's ``raw/`` mirror is encrypted to it.** A ``raw/`` file is
   published when the manifest says it was mirrored at the version it holds, split into its
   units (itself, or each zip member), and every unit is done. A unit that failed for a reason
   no key can change (``edx-export-failed``: edX shipped a traceback; ``not-publishable``) does
   not count; any other failure does, since ``sync --retry-failed`` would need the key. The
   session key packets of each unpublished file (for a zip, of its first encrypted member: edX
   encrypts every member of one export to the same keys) are read with a ranged GET; a file
   whose bytes are not an encrypted message (a corrupt zip, an empty file) needs no key.
3. **No org's newest file at edX is encrypted to it** (found and read as ``doctor`` does,
   :mod:`edx_vault.cli.edx_newest_files`). A file still encrypted to the old key means edX still
   has it registered: edX's next files would need it, and once it expires edX stops exporting
   for that org altogether. At least one org must have a file, or nothing shows that edX has
   switched.

Any file whose recipients cannot be told (hidden recipients, more recipients than the bytes
read hold, a read edX refused) counts against retiring: the check must prove the key is not
needed, not fail to prove it is.

Which key: its fingerprint (40 or 64 hex digits; spaces, as ``keygen`` prints it, and any case
allowed), or a long key id (16 hex digits) of the key or of one of its subkeys, as ``doctor``
prints the ids edX's files name, accepted only when exactly one stored key has it. A short key
id (8 hex digits) is refused: anyone can make a key with a given short id.

Then the key secret is written once (``PutSecretValue``) with the remaining keys, in the format
of :mod:`edx_vault.settings.secret_formats` that the decrypt function reads; the primary key, the
passphrase secret and the secret's tags (which describe the primary key) stay as they are. The
secret is read again just before the write: if it changed while the checks ran (another
``keygen``), nothing is written. The previous version, which still holds the retired key, stays
``AWSPREVIOUS`` until the secret next changes: the way back.

Nothing secret is printed: fingerprints, user ids, key ids and object keys only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from edx_vault.cli.context import CliContext
from edx_vault.cli.edx_newest_files import key_ids_by_key, newest_recipients
from edx_vault.cli.errors import CliError, UsageError
from edx_vault.cli.key_storage import describe_key
from edx_vault.engine.edx_recipients import (
    EdxFile,
    FileRecipients,
    UnreadableFileError,
    read_recipients,
)
from edx_vault.engine.errors import TransientError
from edx_vault.engine.openpgp_packets import WILDCARD_KEY_ID, Recipients
from edx_vault.package import package_model
from edx_vault.package.bucket_layout import RAW_PREFIX
from edx_vault.package.package_model import SourceKind, UnknownNameError
from edx_vault.pipeline.manifest import Manifest, Status, source_partition
from edx_vault.pipeline.manifest_schema import OBJECT_SORT_KEY, PARTITION_KEY, SORT_KEY
from edx_vault.settings.config import EdxConfig
from edx_vault.settings.secret_formats import PipelineKey, PipelineKeyring
from edx_vault.settings.secret_store import (
    read_edx_credentials,
    read_pipeline_keyring,
    store_pipeline_keyring,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FINGERPRINT_LENGTHS: Final = (40, 64)
LONG_KEY_ID_LENGTH: Final = 16
SHORT_KEY_ID_LENGTH: Final = 8
# Unit failures no key can change: such a unit will never be published, whatever is stored.
KEY_INDEPENDENT_FAILURES: Final = frozenset({"edx-export-failed", "not-publishable"})
# How many files a check lists by name; the rest are counted.
SHOWN_FILES: Final = 10
NOTHING_CHANGED: Final = "Nothing was changed."
_HEX: Final = re.compile(r"^[0-9A-F]+$")


@dataclass(frozen=True)
class SafetyCheck:
    """One reason retiring the key is safe, or is not.

    Attributes
    ----------
    title
        What was checked.
    passed
        Whether it shows the key is not needed.
    evidence
        One line: what was found.
    details
        Further lines (one per file, per org), shown indented.
    fix
        What to do when it did not pass.
    """

    title: str
    passed: bool
    evidence: str
    details: tuple[str, ...] = field(default_factory=tuple)
    fix: str | None = None


# --------------------------------------------------------------------------------------------
# Which key
# --------------------------------------------------------------------------------------------


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
            + _stored(keyring, today)
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


def _stored(keyring: PipelineKeyring, today: dt.date) -> str:
    return "; ".join(
        describe_key(key, today) + (" [primary]" if key.fingerprint == keyring.primary else "")
        for key in keyring.keys
    )


# --------------------------------------------------------------------------------------------
# Whose files a key opens
# --------------------------------------------------------------------------------------------


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


def _shown(lines: list[str]) -> tuple[str, ...]:
    if len(lines) <= SHOWN_FILES:
        return tuple(lines)
    return (*lines[:SHOWN_FILES], f"... and {len(lines) - SHOWN_FILES} more")


# --------------------------------------------------------------------------------------------
# 2. The raw/ mirror
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawFile:
    """One object under ``raw/`` in the data bucket, as listed."""

    bucket: str
    key: str
    size: int
    etag: str
    last_modified: dt.datetime

    @property
    def uri(self) -> str:
        """``s3://bucket/key``."""
        return f"s3://{self.bucket}/{self.key}"

    @property
    def source(self) -> tuple[str, str] | None:
        """The edX (bucket, key) it mirrors: ``raw/{bucket}/{key}``; ``None`` for another name."""
        bucket, slash, key = self.key.removeprefix(RAW_PREFIX).partition("/")
        return (bucket, key) if bucket and slash and key else None


def raw_files(s3: S3Client, bucket: str) -> list[RawFile]:
    """Every current object under ``raw/`` in the data bucket."""
    found: list[RawFile] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=RAW_PREFIX):
        for entry in page.get("Contents", []):
            found.append(
                RawFile(
                    bucket=bucket,
                    key=entry["Key"],
                    size=int(entry["Size"]),
                    etag=str(entry["ETag"]),
                    last_modified=entry["LastModified"],
                )
            )
    return found


def unpublished_reason(rows: list[dict[str, Any]]) -> str | None:
    """Why a mirrored source is not published yet, from its manifest rows; ``None`` if it is.

    Published: mirrored (object row done), split into its units (``unit_count``), and every unit
    of the mirrored version done, or failed for a reason no key can change
    (:data:`KEY_INDEPENDENT_FAILURES`).
    """
    objects = [row for row in rows if row.get(SORT_KEY) == OBJECT_SORT_KEY]
    if not objects:
        return "no manifest row"
    mirrored = objects[0]
    status = mirrored.get("status")
    if status != Status.DONE:
        code = mirrored.get("error_code")
        return f"mirror {status}" + (f" ({code})" if code else "")
    if "unit_count" not in mirrored:
        return "mirrored, not yet split into units to decrypt"
    version = mirrored.get("source_etag")
    units = [
        row
        for row in rows
        if row.get(SORT_KEY) != OBJECT_SORT_KEY and row.get("source_etag") == version
    ]
    expected = int(mirrored["unit_count"])
    open_units: list[str] = []
    for unit in units:
        unit_status = unit.get("status")
        code = unit.get("error_code")
        if unit_status == Status.DONE:
            continue
        if unit_status == Status.FAILED and code in KEY_INDEPENDENT_FAILURES:
            continue
        open_units.append(f"failed ({code})" if unit_status == Status.FAILED else str(unit_status))
    not_started = max(0, expected - len(units))
    if not open_units and not not_started:
        return None
    states = sorted(set(open_units)) + (["not started"] if not_started else [])
    return f"{len(open_units) + not_started} of {expected} unit(s) not published: " + ", ".join(
        states
    )


def raw_recipients(s3: S3Client, raw: RawFile) -> FileRecipients:
    """Who a ``raw/`` file (or, for a zip, its first encrypted member) is encrypted to.

    Raises
    ------
    UnreadableFileError
        The bytes are not an encrypted message, or the zip cannot be read.
    TransientError, botocore.exceptions.ClientError
        The read failed.
    """
    source: package_model.SourceObject | None = None
    if raw.source is not None:
        try:
            source = package_model.parse_source_key(*raw.source)
        except UnknownNameError:
            source = None
    is_zip = source.is_zip if source is not None else raw.key.endswith(".zip")
    # read_recipients reads a weekly zip's first encrypted member through its central directory
    # and any other file's first bytes: an email opt-in zip reads as a weekly zip does, and an
    # RDX archive (encrypted whole) as an event log does.
    file = EdxFile(
        bucket=raw.bucket,
        key=raw.key,
        size=raw.size,
        etag=raw.etag,
        last_modified=raw.last_modified,
        kind=SourceKind.WEEKLY_ZIP if is_zip else SourceKind.EVENT_LOG,
        date=source.date if source is not None and source.date else raw.last_modified.date(),
    )
    return read_recipients(s3, file)


def check_raw_mirror(
    s3: S3Client, bucket: str, manifest_rows: Iterable[dict[str, Any]], names: KeyNames
) -> SafetyCheck:
    """Check 2: no unpublished ``raw/`` file is (or may be) encrypted to the key.

    Raises
    ------
    CliError
        When a ``raw/`` file cannot be read for a reason that may clear up (run again).
    botocore.exceptions.ClientError
        When AWS refuses a listing or read.
    """
    title = "raw/ mirror"
    rows_by_source: dict[str, list[dict[str, Any]]] = {}
    for row in manifest_rows:
        rows_by_source.setdefault(str(row.get(PARTITION_KEY)), []).append(row)
    files = raw_files(s3, bucket)
    published = 0
    other_keys: list[str] = []
    no_key: list[str] = []
    blockers: list[str] = []
    for raw in files:
        source = raw.source
        reason = (
            unpublished_reason(rows_by_source.get(source_partition(*source), []))
            if source is not None
            else "not a name the pipeline writes (raw/{bucket}/{key})"
        )
        if reason is None:
            published += 1
            continue
        if raw.size == 0:
            no_key.append(f"{raw.uri}: {reason}; empty, so no key decrypts it")
            continue
        try:
            found = raw_recipients(s3, raw)
        except UnreadableFileError as error:
            no_key.append(f"{error} ({reason}): not an encrypted message, no key decrypts it")
            continue
        except TransientError as error:
            raise CliError(
                f"could not read {raw.uri} ({error}); run the command again. {NOTHING_CHANGED}"
            ) from None
        line = f"{found.where}: {reason}; encrypted to {names.label(found.recipients.key_ids)}"
        needs = names.needs_key(found.recipients)
        (blockers if needs else other_keys).append(line)
    counts = (
        f"{len(files)} raw file(s) in s3://{bucket}/{RAW_PREFIX} checked against the manifest: "
        f"{published} published, {len(other_keys)} unpublished and encrypted only to other "
        f"keys, {len(no_key)} unpublished that no key decrypts"
    )
    if blockers:
        return SafetyCheck(
            title,
            False,
            f"{len(blockers)} unpublished raw file(s) still need the key or cannot tell; {counts}",
            details=_shown(blockers) + _shown(other_keys) + _shown(no_key),
            fix=(
                "publish them first: `edx-vault sync --wait`, or, once the cause of a failure "
                "is fixed, `edx-vault sync --wait --retry-failed` (failure codes: "
                "docs/operations.md#failure-codes-in-reports); then retire again"
            ),
        )
    return SafetyCheck(title, True, counts, details=_shown(other_keys) + _shown(no_key))


# --------------------------------------------------------------------------------------------
# 3. edX's newest files
# --------------------------------------------------------------------------------------------


def check_edx_newest(
    edx_s3: S3Client, edx: EdxConfig, names: KeyNames, *, this_year: int
) -> SafetyCheck:
    """Check 3: no org's newest file at edX is (or may be) encrypted to the key."""
    title = "edX's newest files"
    details: list[str] = []
    blockers: list[str] = []
    read = 0
    for newest in newest_recipients(edx_s3, edx, this_year=this_year):
        found = newest.found
        if newest.problem is not None:
            line = f"{newest.org}: cannot tell who edX encrypts to: {newest.problem}"
            details.append(line)
            blockers.append(line)
            continue
        if found is None:
            details.append(f"{newest.org}: no event log or weekly zip at edX yet")
            continue
        read += 1
        details.append(
            f"{newest.org}: {found.where} (written {found.file.last_modified:%Y-%m-%d}) is "
            f"encrypted to {names.label(found.recipients.key_ids)}"
        )
        needs = names.needs_key(found.recipients)
        if needs:
            blockers.append(f"{newest.org}: {found.where} {needs}")
    if blockers:
        return SafetyCheck(
            title,
            False,
            "; ".join(blockers[:3])
            + (f" (and {len(blockers) - 3} more)" if len(blockers) > 3 else ""),
            details=tuple(details),
            fix=(
                "ask edX to stop encrypting to the old key (to remove it from the data czar "
                "keys of your orgs), wait for their next export, and check with `edx-vault "
                "doctor`; then retire again"
            ),
        )
    if read == 0:
        return SafetyCheck(
            title,
            False,
            "edX has no event log or weekly zip for any org yet: nothing shows edX no longer "
            "encrypts to the key",
            details=tuple(details),
            fix="retire it after edX's first export to the new key",
        )
    return SafetyCheck(
        title,
        True,
        f"the newest file of {read} org(s) at edX is not encrypted to the key",
        details=tuple(details),
    )


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def _print_checks(context: CliContext, checks: list[SafetyCheck]) -> None:
    width = max(len(check.title) for check in checks)
    indent = " " * (6 + width + 2)
    for check in checks:
        status = "PASS" if check.passed else "FAIL"
        context.out(f"{status}  {check.title:<{width}}  {check.evidence}")
        for line in check.details:
            context.out(f"{indent}{line}")
        if check.fix:
            context.out(f"{indent}fix: {check.fix}")


def retire_key(context: CliContext, reference_text: str, *, dry_run: bool) -> int:
    """Check the key named by ``reference_text`` is no longer needed, then remove it.

    Returns
    -------
    int
        0 when it was removed (or, with ``dry_run``, would be).

    Raises
    ------
    UsageError
        ``reference_text`` is not a fingerprint or long key id.
    CliError
        The key is unknown, the only or the primary one, or a check shows it may still be
        needed; nothing is changed.
    """
    reference = normalise_reference(reference_text)
    today = context.now().date()
    storage = context.deployment().storage
    secretsmanager = context.secretsmanager()
    arn = storage.pipeline_key_secret_arn
    keyring = read_pipeline_keyring(secretsmanager, arn)
    if keyring is None:
        raise CliError(f"no pipeline key is stored yet ({arn}): there is nothing to retire")
    ids_by_key = key_ids_by_key(keyring)
    key = resolve_key(keyring, reference, ids_by_key, today=today)
    refuse_needed_key(keyring, key, today=today)

    kept = tuple(k for k in keyring.keys if k.fingerprint != key.fingerprint)
    names = KeyNames(
        retiring=ids_by_key[key.fingerprint],
        kept={kid: k.fingerprint for k in kept for kid in ids_by_key[k.fingerprint]},
        primary=keyring.primary,
    )
    context.out(f"Retiring pipeline key {describe_key(key, today)}")
    context.out(f"  its key ids  {', '.join(sorted(names.retiring))}")
    for other in kept:
        primary = " [primary]" if other.fingerprint == keyring.primary else ""
        context.out(f"  keeping      {describe_key(other, today)}{primary}")
    context.out()

    context.note("checking the raw/ mirror and edX's newest files...")
    manifest_rows = Manifest(context.manifest_table()).scan()
    credentials = read_edx_credentials(secretsmanager, storage.edx_credentials_secret_arn)
    checks = [
        SafetyCheck(
            "Stored keys",
            True,
            f"{len(keyring.keys)} keys stored; the key to retire is neither the only one nor "
            f"the primary {keyring.primary}, which stays",
        ),
        check_raw_mirror(context.s3(), storage.data_bucket, manifest_rows, names),
        (
            SafetyCheck(
                "edX's newest files",
                False,
                "edX's credentials are not imported: cannot tell which keys edX encrypts to",
                fix="edx-vault import-credentials credentials.csv.gpg; then retire again",
            )
            if credentials is None
            else check_edx_newest(
                context.s3_with(
                    access_key_id=credentials.access_key_id,
                    secret_access_key=credentials.secret_access_key,
                ),
                context.config().edx,
                names,
                this_year=context.now().year,
            )
        ),
    ]
    _print_checks(context, checks)
    context.out()
    failed = [check for check in checks if not check.passed]
    if failed:
        raise CliError(
            f"refusing to retire {key.fingerprint}: "
            + "; ".join(f"{check.title}: {check.evidence}" for check in failed)
            + f". {NOTHING_CHANGED}"
        )

    remaining = PipelineKeyring(primary=keyring.primary, keys=kept)
    if dry_run:
        context.out(
            f"Every check passed: {key.fingerprint} can be retired. --dry-run: nothing was "
            "changed; run again without --dry-run to remove it."
        )
        return 0
    # The checks took a while: a key stored meanwhile (keygen --rotate) must not be dropped.
    if read_pipeline_keyring(secretsmanager, arn) != keyring:
        raise CliError(
            f"the key secret {arn} changed while the checks ran (another keygen or import-key?): "
            f"run the command again. {NOTHING_CHANGED}"
        )
    context.out(
        f"Every check passed. Removing {key.fingerprint} from {arn}: one new version holding the "
        f"remaining {len(kept)} key(s); the passphrase and the tags (the primary key's) stay."
    )
    store_pipeline_keyring(secretsmanager, arn, remaining)
    context.out(f"Done. The key secret now holds: {_stored(remaining, today)}.")
    context.out(
        "Its previous version, which still holds the retired key, stays as AWSPREVIOUS until the "
        "secret next changes (the way back: docs/operations.md#rotating-the-pipeline-key)."
    )
    return 0
