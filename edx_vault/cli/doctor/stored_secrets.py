"""Doctor's checks 2 and 3: the secrets hold values, and the pipeline key's expiry.

Both read metadata only (``DescribeSecret``): whether each secret has an ``AWSCURRENT`` version,
as ``sync`` checks before it starts, and the key secret's tags, which is what the expiry alarm
reads. No secret value is read here.
"""

from __future__ import annotations

from typing import Final

from edx_vault.cli.checks import Check, Verdict
from edx_vault.cli.doctor.facts import FIRST_SET_UP, Doctor
from edx_vault.cli.sync import unset_secrets
from edx_vault.pipeline.key_metadata import (
    EXPIRES_TAG,
    FINGERPRINT_TAG,
    KEY_EXPIRY_WARNING_DAYS,
    key_expiry_from_tags,
)

_ROTATE: Final = (
    "edx-vault keygen --rotate --email ADDRESS --out pipeline-new.asc, send the new public key "
    "to edX, keep the old key until edX confirms (docs/cli.md#keygen-make-the-pipelines-key)"
)


def secrets(doctor: Doctor, verdict: Verdict) -> Check:
    """Check 2: each secret has a current value (metadata only, as ``sync`` checks)."""
    deployment = doctor.found_deployment()
    missing = unset_secrets(doctor.context.secretsmanager(), deployment.storage)
    if missing:
        return verdict(
            "FAIL",
            "not stored yet: " + "; ".join(missing),
            fix=f"run the command named for each ({FIRST_SET_UP})",
        )
    stored = "edX's credentials, the pipeline key, its passphrase"
    if deployment.storage.pseudonym_key_secret_arn is not None:
        stored += " and the pseudonym key"
    else:
        stored = stored.replace(", its passphrase", " and its passphrase")
    return verdict("PASS", f"{stored} each have a current value")


def key_expiry(doctor: Doctor, verdict: Verdict) -> Check:
    """Check 3: the primary key's expiry, from the key secret's tags (as the alarm reads it)."""
    arn = doctor.found_deployment().storage.pipeline_key_secret_arn
    described = doctor.context.secretsmanager().describe_secret(SecretId=arn)
    expiry = key_expiry_from_tags(described.get("Tags", []))  # type: ignore[arg-type]
    stages = described.get("VersionIdsToStages") or {}
    stored = any("AWSCURRENT" in labels for labels in stages.values())
    if expiry is None:
        if not stored:
            return verdict(
                "WARN",
                "unknown: no pipeline key is stored yet",
                fix=f"edx-vault keygen --email ADDRESS --out pipeline.asc ({FIRST_SET_UP})",
            )
        return verdict(
            "WARN",
            f"unknown: the key secret has no {FINGERPRINT_TAG} tag (a key stored by hand or "
            "by an older version), so the expiry alarm cannot warn either",
            fix=(
                f"aws secretsmanager tag-resource --secret-id {arn} --tags "
                f"Key={FINGERPRINT_TAG},Value=FINGERPRINT Key={EXPIRES_TAG},Value=YYYY-MM-DD "
                "(`edx-vault status` lists the stored key's fingerprint and expiry)"
            ),
        )
    if expiry.problem:
        return verdict(
            "WARN",
            f"unknown: {expiry.problem.split('; ', 1)[0]}",
            fix=(
                f"aws secretsmanager tag-resource --secret-id {arn} --tags "
                f"Key={EXPIRES_TAG},Value=YYYY-MM-DD (`edx-vault status` lists the stored "
                "key's expiry)"
            ),
        )
    days = expiry.days_left(doctor.context.now().date())
    fingerprint = expiry.fingerprint
    if days is None:
        return verdict("PASS", f"primary key {fingerprint} never expires")
    if days < 0:
        return verdict(
            "FAIL",
            f"primary key {fingerprint} expired on {expiry.expires} ({-days} days ago): edX "
            "stops exporting to an expired key",
            fix=_ROTATE,
        )
    if days < KEY_EXPIRY_WARNING_DAYS:
        return verdict(
            "WARN",
            f"primary key {fingerprint} expires on {expiry.expires}, in {days} days",
            fix=_ROTATE,
        )
    return verdict("PASS", f"primary key {fingerprint} expires on {expiry.expires}, in {days} days")
