"""Doctor's checks 4 and 5: edX's keys list what the sync lists, and edX encrypts to our key.

Check 4 lists every prefix the sync lists (``MaxKeys=1``), org by org, with edX's keys: a
rejection of the keys themselves ends it at once (every listing would say the same), an org
edX refuses or a bucket that does not exist is a FAIL. Check 5 reads each org's newest file's
session key packets (:mod:`edx_vault.cli.edx_newest_files`) and compares their key ids with the
stored keys': the primary passes, an older stored key is a WARN, anyone else's a FAIL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

from botocore.exceptions import ClientError

from edx_vault.cli.checks import Check, Verdict
from edx_vault.cli.doctor.facts import ACCESS_DENIED_CODES, FIRST_SET_UP, Doctor
from edx_vault.cli.edx_newest_files import newest_recipients, pipeline_key_ids
from edx_vault.cli.errors import aws_error_code
from edx_vault.engine.edx_recipients import FileRecipients
from edx_vault.engine.errors import CREDENTIALS_REJECTED_CODES
from edx_vault.engine.openpgp_packets import WILDCARD_KEY_ID
from edx_vault.package.edx_spellings import EDX_SITE_SPELLINGS
from edx_vault.package.source_keys import (
    email_opt_in_list_prefix,
    event_log_folder,
    rdx_list_prefix,
    weekly_zip_list_prefix,
)
from edx_vault.settings.secret_document import SecretFormatError
from edx_vault.settings.secret_formats import EdxCredentials, PipelineKeyring
from edx_vault.settings.secret_store import read_edx_credentials, read_pipeline_keyring

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

# What edX's S3 answers when its keys are no good at all (retired, mistyped, expired): what the
# pipeline counts as edX rejecting its keys, but AccessDenied, which may refuse one org only.
REJECTED_KEY_CODES: Final = (CREDENTIALS_REJECTED_CODES - ACCESS_DENIED_CODES) | {"InvalidToken"}
_IMPORT_CREDENTIALS: Final = "edx-vault import-credentials credentials.csv.gpg"
_Secret = TypeVar("_Secret", EdxCredentials, PipelineKeyring)


@dataclass(frozen=True)
class _Listing:
    """One prefix the sync lists with edX's keys."""

    org: str  # the configured org (its primary id, as the configuration spells it)
    bucket: str
    prefix: str

    @property
    def where(self) -> str:
        """``bucket/prefix``."""
        return f"{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class _Outcome:
    """What one listing with edX's keys gave: an error code, or whether it found files."""

    listing: _Listing
    error: str | None
    has_files: bool


def listings(doctor: Doctor) -> Iterator[_Listing]:
    """Every prefix the sync lists with edX's keys, org by org (as the planner does)."""
    edx = doctor.config.edx
    buckets = edx.source_buckets
    for org in edx.orgs:
        for org_id in org.all_ids:
            if "events" in edx.categories:
                for site in edx.sites:
                    for spelling in EDX_SITE_SPELLINGS[site]:
                        yield _Listing(org.id, buckets.events, event_log_folder(org_id, spelling))
            if "database" in edx.categories:
                yield _Listing(org.id, buckets.database, weekly_zip_list_prefix(org_id))
            if "email-opt-in" in edx.categories:
                yield _Listing(org.id, buckets.database, email_opt_in_list_prefix(org_id))
            if "rdx" in edx.categories:
                yield _Listing(org.id, buckets.events, rdx_list_prefix(org_id))


def _read_secret(
    doctor: Doctor,
    verdict: Verdict,
    read: Callable[[SecretsManagerClient, str], _Secret | None],
    arn: str,
    *,
    malformed: str,
    fix: str,
    missing: str,
) -> _Secret | Check:
    """A stored secret's value; a FAIL when it is malformed, a SKIP when it is not stored yet."""
    try:
        value = read(doctor.context.secretsmanager(), arn)
    except SecretFormatError as error:
        return verdict("FAIL", f"{malformed}: {error}", fix=fix)
    return verdict("SKIP", missing) if value is None else value


def edx_credentials(doctor: Doctor, verdict: Verdict) -> Check:
    """Check 4: edX's stored keys list every prefix the sync lists (one key per listing)."""
    credentials = _read_secret(
        doctor,
        verdict,
        read_edx_credentials,
        doctor.found_deployment().storage.edx_credentials_secret_arn,
        malformed="the stored credentials are malformed",
        fix=f"import them again: {_IMPORT_CREDENTIALS}",
        missing="needs edX's credentials, not imported yet (see Secrets)",
    )
    if isinstance(credentials, Check):
        return credentials
    doctor.edx_credentials = credentials
    return _listed(doctor, verdict, credentials)


def _listed(doctor: Doctor, verdict: Verdict, credentials: EdxCredentials) -> Check:
    s3 = doctor.edx_s3(credentials)
    whose = f"edX's keys ({credentials.masked_access_key_id})"
    outcomes: dict[str, list[_Outcome]] = {}
    for listing in listings(doctor):
        try:
            listed = s3.list_objects_v2(Bucket=listing.bucket, Prefix=listing.prefix, MaxKeys=1)
        except ClientError as error:
            code = aws_error_code(error)
            if code in REJECTED_KEY_CODES:
                doctor.keys_rejected = True
                # Every other listing would say the same: the keys themselves are refused.
                return verdict(
                    "FAIL",
                    f"edX's S3 rejected {whose}, imported "
                    f"{credentials.imported_at:%Y-%m-%d}: {code}",
                    fix=f"ask edX for new credentials, then import new credentials: "
                    f"{_IMPORT_CREDENTIALS}",
                )
            outcomes.setdefault(listing.org, []).append(_Outcome(listing, code, False))
            continue
        has_files = bool(listed.get("KeyCount") or listed.get("Contents"))
        outcomes.setdefault(listing.org, []).append(_Outcome(listing, None, has_files))

    details = []
    denied: list[str] = []
    missing_buckets: set[str] = set()
    other_errors: list[str] = []
    empty: list[str] = []
    for org, org_outcomes in outcomes.items():
        worked = [o for o in org_outcomes if o.error is None]
        with_files = sum(1 for o in worked if o.has_files)
        refused = [f"{o.listing.where} ({o.error})" for o in org_outcomes if o.error]
        line = f"{org}: {len(worked)} of {len(org_outcomes)} listings work, {with_files} with files"
        details.append(line + (f"; refused: {', '.join(refused)}" if refused else ""))
        for outcome in org_outcomes:
            if outcome.error in ACCESS_DENIED_CODES:
                denied.append(org)
            elif outcome.error == "NoSuchBucket":
                missing_buckets.add(outcome.listing.bucket)
            elif outcome.error is not None:
                other_errors.append(f"{outcome.listing.where}: {outcome.error}")
        if len(worked) == len(org_outcomes) and with_files == 0:
            empty.append(org)
    denied = list(dict.fromkeys(denied))
    config_path = doctor.context.config_path
    shown = tuple(details)
    if missing_buckets:
        return verdict(
            "FAIL",
            f"edX's bucket(s) {', '.join(sorted(missing_buckets))} do not exist",
            fix=(
                f"check [edx.source_buckets] in {config_path} against what edX told you "
                "(edX's defaults: edx-course-data, course-data)"
            ),
            details=shown,
        )
    if denied:
        return verdict(
            "FAIL",
            f"{whose} may not list the files of org(s) {', '.join(denied)} (AccessDenied)",
            fix=(
                f"ask edX to give its user {credentials.user_name} access to "
                f"{', '.join(denied)}'s data, or remove the org from [[edx.orgs]] in {config_path}"
            ),
            details=shown,
        )
    if other_errors:
        return verdict(
            "WARN",
            f"some listings failed: {'; '.join(other_errors[:3])}",
            fix="run `edx-vault doctor` again; if it persists, contact edX",
            details=shown,
        )
    if empty:
        return verdict(
            "WARN",
            f"{whose} work, but edX has no file yet for org(s) {', '.join(empty)}",
            fix=(
                f"check the org ids in [[edx.orgs]] of {config_path} with edX, and that edX has "
                "started exporting for them"
            ),
            details=shown,
        )
    return verdict("PASS", f"{whose} list every prefix of {len(outcomes)} org(s)", details=shown)


def edx_encryption(doctor: Doctor, verdict: Verdict) -> Check:
    """Check 5: each org's newest file names one of the pipeline's keys as a recipient."""
    credentials = doctor.edx_credentials
    if credentials is None:
        raise RuntimeError("this check needs edX's credentials; the table should skip it")
    keyring = _read_secret(
        doctor,
        verdict,
        read_pipeline_keyring,
        doctor.found_deployment().storage.pipeline_key_secret_arn,
        malformed="the stored pipeline key is malformed",
        fix="store it again: edx-vault import-key (docs/cli.md#import-key-store-an-existing-key)",
        missing="needs the pipeline key, not stored yet (see Secrets)",
    )
    if isinstance(keyring, Check):
        return keyring
    return _encrypted_to(doctor, verdict, credentials, keyring)


def _encrypted_to(
    doctor: Doctor, verdict: Verdict, credentials: EdxCredentials, keyring: PipelineKeyring
) -> Check:
    ours = pipeline_key_ids(keyring)
    primary_ids = {key_id for key_id, fp in ours.items() if fp == keyring.primary}
    details: list[str] = []
    foreign: list[tuple[str, FileRecipients]] = []
    old_key: list[tuple[str, str]] = []
    unknown: list[str] = []
    read = 0
    this_year = doctor.context.now().year
    for newest in newest_recipients(
        doctor.edx_s3(credentials), doctor.config.edx, this_year=this_year
    ):
        org, found = newest.org, newest.found
        if newest.problem is not None:
            unknown.append(f"{org}: {newest.problem}")
            details.append(f"{org}: cannot tell: {newest.problem}")
            continue
        if found is None:
            details.append(f"{org}: no event log or weekly zip at edX yet")
            continue
        read += 1
        key_ids = found.recipients.key_ids
        details.append(
            f"{org}: {found.where} ({found.file.last_modified:%Y-%m-%d}) is encrypted to "
            f"{', '.join(key_ids) or 'no public key'}"
        )
        if primary_ids.intersection(key_ids):
            continue
        if ours.keys() & set(key_ids):
            old_key.append((org, ", ".join(sorted({ours[k] for k in key_ids if k in ours}))))
        elif WILDCARD_KEY_ID in key_ids:
            unknown.append(f"{org}: hidden recipients (key id 0): cannot tell")
        else:
            foreign.append((org, found))
    shown = tuple(details)
    if foreign:
        orgs = ", ".join(org for org, _ in foreign)
        keys = sorted({k for _, found in foreign for k in found.recipients.key_ids})
        return verdict(
            "FAIL",
            f"edX encrypts the newest file of {orgs} to keys {', '.join(keys)}; the "
            f"pipeline holds {', '.join(sorted(ours))}",
            fix=(
                "send pipeline.asc (the public key `edx-vault keygen` wrote) to edX and ask "
                f"them to register it as a data czar key for {orgs} ({FIRST_SET_UP})"
            ),
            details=shown,
        )
    if old_key:
        return verdict(
            "WARN",
            "edX still encrypts to an older pipeline key, not the primary "
            f"{keyring.primary}: " + "; ".join(f"{org} to {keys}" for org, keys in old_key),
            fix=(
                "send the primary key's public half (the .asc `edx-vault keygen --rotate` "
                "wrote) to edX; keep the old key until edX has switched"
            ),
            details=shown,
        )
    if unknown:
        return verdict(
            "WARN",
            "cannot tell who edX encrypts to: " + "; ".join(unknown[:3]),
            fix="run `edx-vault doctor` again; if it persists, ask edX how it encrypts",
            details=shown,
        )
    if read == 0:
        return verdict(
            "WARN",
            "edX has no event log or weekly zip for any org yet: nothing to check",
            fix="run `edx-vault doctor` again after edX's first export",
            details=shown,
        )
    return verdict(
        "PASS",
        f"the newest file of {read} org(s) is encrypted to the pipeline's primary key "
        f"{keyring.primary}",
        details=shown,
    )
