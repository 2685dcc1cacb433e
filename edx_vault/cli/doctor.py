"""``edx-vault doctor``: is the deployed vault set up to work, and if not, what to do about it.

Read-only checks of a deployed vault (real or embedded), each answered ``PASS``, ``WARN`` or
``FAIL`` with one line of evidence and, unless it passed, the fix: a command or a section of
the docs. A check that cannot run because something it needs failed an earlier check is
``SKIP`` (the earlier ``FAIL`` says what to do). The exit status is 1 if any check failed.

1. The three stacks are deployed, usable, in the account and region the configuration names,
   and match it (the data bucket's name, the researchers' roles).
2. edX's credentials, the pipeline key and its passphrase are stored (``DescribeSecret``).
3. The pipeline key's expiry, as its secret's tags record it (what the expiry alarm reads).
4. edX's keys list every prefix the sync lists, org by org.
5. Each org's newest file at edX is encrypted to a key the pipeline holds: its session key
   packets, from a ranged read, against the stored keys' ids.
6. Someone has confirmed a subscription to the alerts topic.
7. The schedule exists and is enabled.

Every call is a read: Describe*, List*, Get*, and ranged GETs of edX's files with edX's keys.
Nothing secret is printed: edX's access key id only masked, no key material, no passphrase.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Literal

from botocore.exceptions import BotoCoreError, ClientError

from edx_vault.access.grants import ACCESS_STACK_SUFFIX, ROLE_ARN_OUTPUT_PREFIX, compile_grants
from edx_vault.access.grants import role_output_name as grant_output_name
from edx_vault.cli.context import CliContext
from edx_vault.cli.edx_newest_files import newest_recipients, pipeline_key_ids
from edx_vault.cli.sync import unset_secrets
from edx_vault.engine.edx_recipients import FileRecipients
from edx_vault.engine.errors import CREDENTIALS_REJECTED_CODES, describe, is_transient
from edx_vault.engine.openpgp_keys import OpenPgpError
from edx_vault.engine.openpgp_packets import WILDCARD_KEY_ID
from edx_vault.package.package_model import (
    EDX_SITE_SPELLINGS,
    email_opt_in_list_prefix,
    event_log_folder,
    rdx_list_prefix,
    weekly_zip_list_prefix,
)
from edx_vault.pipeline.key_metadata import EXPIRES_TAG, FINGERPRINT_TAG, key_expiry_from_tags
from edx_vault.pipeline.run_report import KEY_EXPIRY_WARNING_DAYS
from edx_vault.settings import stack_outputs
from edx_vault.settings.config import ConfigError, VaultConfig
from edx_vault.settings.deployment import UNUSABLE_STACK_STATES, Deployment, DeploymentError
from edx_vault.settings.resource_names import data_bucket_name, resource_prefix
from edx_vault.settings.secret_document import SecretFormatError
from edx_vault.settings.secret_formats import EdxCredentials, PipelineKeyring
from edx_vault.settings.secret_store import read_edx_credentials, read_pipeline_keyring

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import StackTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient

Status = Literal["PASS", "WARN", "FAIL", "SKIP"]
STATUSES: Final[tuple[Status, ...]] = ("PASS", "WARN", "FAIL", "SKIP")
_ACCESS_DENIED_CODES: Final = frozenset({"AccessDenied", "AccessDeniedException"})
# What edX's S3 answers when its keys are no good at all (retired, mistyped, expired): what the
# pipeline counts as edX rejecting its keys, but AccessDenied, which may refuse one org only.
REJECTED_KEY_CODES: Final = (CREDENTIALS_REJECTED_CODES - _ACCESS_DENIED_CODES) | {"InvalidToken"}
# Stack states whose resources exist but are not (yet) what the last deploy asked for.
_UNSETTLED_SUFFIXES: Final = ("_IN_PROGRESS", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED")
_PENDING: Final = "PendingConfirmation"

FIRST_SET_UP: Final = "docs/operations.md#first-time-set-up"
PERMISSIONS_DOC: Final = "docs/cli.md#aws-permissions-each-command-uses"
# Each check's name (stable, for scripts) and title (for people), in the order they run.
TITLES: Final = {
    "storage-stack": "Storage stack",
    "pipeline-stack": "Pipeline stack",
    "access-stack": "Access stack",
    "secrets": "Secrets",
    "key-expiry": "Pipeline key expiry",
    "edx-credentials": "edX credentials",
    "edx-encryption": "Newest edX files",
    "alerts-subscription": "Alarm subscription",
    "schedule": "Schedule",
}


def register(subparsers: Any) -> None:
    """Add the ``doctor`` command."""
    parser = subparsers.add_parser(
        "doctor",
        help="check the deployed vault is set up to work, and say how to fix what is not",
        description=(
            "Read-only checks of the deployed vault: stacks, secrets, key expiry, edX's "
            "credentials and keys, alarm subscription, schedule. Exit status 1 if any fails."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Check:
    """One check's verdict.

    Attributes
    ----------
    name
        A stable identifier for scripts (``storage-stack``, ``edx-credentials``...).
    title
        What was checked, for people.
    status
        ``PASS``, ``WARN``, ``FAIL`` or ``SKIP``.
    evidence
        One line: what was found.
    fix
        What to do (a command or a docs section); ``None`` when it passed.
    details
        Further lines (one per org, per listing...), shown indented.
    """

    name: str
    title: str
    status: Status
    evidence: str
    fix: str | None = None
    details: tuple[str, ...] = field(default_factory=tuple)


def _verdict(name: str) -> partial[Check]:
    """``Check`` with the check's name and title filled in: call it with status and evidence."""
    return partial(Check, name, TITLES[name])


def _deploy_fix(context: CliContext, stack: str | None = None) -> str:
    target = stack or "--all"
    return f"npx cdk deploy -c config={context.config_path} {target}"


def _stack_location(stack: StackTypeDef) -> tuple[str, str]:
    """(account, region) from the stack id ``arn:aws:cloudformation:REGION:ACCOUNT:stack/...``."""
    parts = stack.get("StackId", "").split(":")
    return (parts[4], parts[3]) if len(parts) > 5 else ("?", "?")


def _outputs(stack: StackTypeDef) -> dict[str, str]:
    return {
        output["OutputKey"]: output["OutputValue"]
        for output in stack.get("Outputs", [])
        if "OutputKey" in output and "OutputValue" in output
    }


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "error"))


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


@dataclass
class Doctor:
    """Runs the checks for one invocation; AWS clients are made as they are first needed."""

    context: CliContext
    # Set when edX's S3 refused the keys themselves: nothing else can be read with them.
    _keys_rejected: bool = False

    # ----------------------------------------------------------------------------------------
    # Shared facts
    # ----------------------------------------------------------------------------------------

    @property
    def config(self) -> VaultConfig:
        """The validated configuration."""
        return self.context.config()

    def edx_s3(self, credentials: EdxCredentials) -> S3Client:
        """An S3 client signing with edX's keys (never the admin's)."""
        return self.context.s3_with(
            access_key_id=credentials.access_key_id,
            secret_access_key=credentials.secret_access_key,
        )

    def stack_name(self, suffix: str) -> str:
        """``{stack_prefix}-{suffix}`` for the configuration's prefix."""
        return stack_outputs.stack_name(self.config.deployment.stack_prefix, suffix)

    def describe_stack(self, name: str) -> StackTypeDef | None:
        """The stack, or ``None`` when it does not exist (other refusals propagate)."""
        try:
            stacks = self.context.cloudformation().describe_stacks(StackName=name)["Stacks"]
        except ClientError as error:
            message = str(error.response.get("Error", {}).get("Message", ""))
            if _code(error) == "ValidationError" and "does not exist" in message:
                return None
            raise
        return stacks[0] if stacks else None

    def stack_resource(self, stack: str, resource_type: str) -> str | None:
        """The physical id of the stack's first resource of this type, if any.

        For stacks deployed by an older version that did not export the topic or schedule.
        ListStackResources, not DescribeStackResources: the latter stops at 100 resources.
        """
        paginator = self.context.cloudformation().get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=stack):
            for resource in page.get("StackResourceSummaries", []):
                if resource.get("ResourceType") == resource_type and resource.get(
                    "PhysicalResourceId"
                ):
                    return str(resource["PhysicalResourceId"])
        return None

    # ----------------------------------------------------------------------------------------
    # 1. Stacks
    # ----------------------------------------------------------------------------------------

    def usable_stack(self, verdict: partial[Check], suffix: str) -> StackTypeDef | Check:
        """The stack, or a FAIL when it is missing, unusable or elsewhere than the config says."""
        deployment = self.config.deployment
        stack_name = self.stack_name(suffix)
        stack = self.describe_stack(stack_name)
        if stack is None:
            return verdict(
                "FAIL",
                f"{stack_name} is not deployed in {self.context.region}",
                fix=_deploy_fix(self.context),
            )
        state = stack["StackStatus"]
        if state in UNUSABLE_STACK_STATES:
            return verdict(
                "FAIL",
                f"{stack['StackName']} is in state {state}: its resources cannot be used",
                fix=(
                    "read the stack's events in the CloudFormation console, fix the cause, then "
                    + _deploy_fix(self.context, stack["StackName"])
                ),
            )
        account, region = _stack_location(stack)
        if (account, region) != (deployment.account, deployment.region):
            return verdict(
                "FAIL",
                f"{stack['StackName']} is in account {account}, region {region}; the "
                f"configuration names account {deployment.account}, region {deployment.region}",
                fix=(
                    f"sign in to account {deployment.account} and run in region "
                    f"{deployment.region} (no --region), or fix [deployment] in "
                    f"{self.context.config_path}: this stack is another deployment's"
                ),
            )
        return stack

    def _settled(self, check: Check, stack: StackTypeDef) -> Check:
        """``check``, or a WARN when the stack is mid-update or its last update rolled back."""
        state = stack["StackStatus"]
        if check.status != "PASS" or not state.endswith(_UNSETTLED_SUFFIXES):
            return check
        return replace(
            check,
            status="WARN",
            evidence=(
                f"{check.evidence}; but it is in state {state}: it may not be what the last "
                "deploy asked for"
            ),
            fix=(
                "wait for an update in progress to end; otherwise read the stack's events in "
                "the CloudFormation console and deploy again: "
                + _deploy_fix(self.context, stack["StackName"])
            ),
        )

    def storage_stack(self) -> Check:
        """Check 1: the storage stack, its outputs, and the data bucket the config implies."""
        verdict = _verdict("storage-stack")
        stack = self.usable_stack(verdict, stack_outputs.STORAGE_STACK_SUFFIX)
        if isinstance(stack, Check):
            return stack
        stack_name = stack["StackName"]
        outputs = _outputs(stack)
        missing = [o for o in stack_outputs.STORAGE_OUTPUTS if o not in outputs]
        if missing:
            return verdict(
                "FAIL",
                f"{stack_name} has no output {', '.join(missing)}: deployed by another version "
                "of edx-vault",
                fix=_deploy_fix(self.context, stack_name),
            )
        deployment = self.config.deployment
        implied = data_bucket_name(
            resource_prefix(deployment.stack_prefix), deployment.account, deployment.region
        )
        bucket = outputs[stack_outputs.DATA_BUCKET]
        if bucket != implied:
            return verdict(
                "FAIL",
                f"{stack_name}'s data bucket is {bucket}; the configuration implies {implied}",
                fix=(
                    "deploy from the configuration this stack was deployed from, or fix "
                    f"[deployment] (account, region, stack_prefix) in {self.context.config_path}"
                ),
            )
        account, region = _stack_location(stack)
        return self._settled(
            verdict(
                "PASS",
                f"{stack_name} {stack['StackStatus']} in {account}/{region}; data bucket {bucket}",
            ),
            stack,
        )

    def pipeline_stack(self) -> Check:
        """Check 1: the pipeline stack and its outputs (state machine, topic, schedule)."""
        verdict = _verdict("pipeline-stack")
        stack = self.usable_stack(verdict, stack_outputs.PIPELINE_STACK_SUFFIX)
        if isinstance(stack, Check):
            return stack
        stack_name = stack["StackName"]
        outputs = _outputs(stack)
        if stack_outputs.STATE_MACHINE_ARN not in outputs:
            return verdict(
                "FAIL",
                f"{stack_name} has no output {stack_outputs.STATE_MACHINE_ARN}: deployed by "
                "another version of edx-vault",
                fix=_deploy_fix(self.context, stack_name),
            )
        missing = [o for o in stack_outputs.PIPELINE_OUTPUTS if o not in outputs]
        if missing:
            return verdict(
                "WARN",
                f"{stack_name} has no output {', '.join(missing)} (an older version): the "
                "checks below look for them among its resources",
                fix=_deploy_fix(self.context, stack_name),
            )
        machine = outputs[stack_outputs.STATE_MACHINE_ARN].rsplit(":", 1)[-1]
        return self._settled(
            verdict(
                "PASS",
                f"{stack_name} {stack['StackStatus']}; state machine {machine}",
            ),
            stack,
        )

    def access_stack(self) -> Check:
        """Check 1: the access stack holds one role per researcher of the configuration."""
        verdict = _verdict("access-stack")
        stack = self.usable_stack(verdict, ACCESS_STACK_SUFFIX)
        if isinstance(stack, Check):
            return stack
        stack_name = stack["StackName"]
        try:
            grants = compile_grants(
                self.config, today=self.context.now().date(), source=self.context.config_path
            )
        except ConfigError as error:
            return verdict(
                "FAIL",
                f"the configuration's researchers do not compile: {error}",
                fix=f"fix [[researchers]] in {self.context.config_path} (`npx cdk synth` names each problem)",
            )
        expected = {grant_output_name(grant.name): grant.name for grant in grants}
        deployed = {key for key in _outputs(stack) if key.startswith(ROLE_ARN_OUTPUT_PREFIX)}
        missing = sorted(who for output, who in expected.items() if output not in deployed)
        extra = sorted(deployed - set(expected))
        if missing:
            return verdict(
                "FAIL",
                f"{stack_name} has no role for researcher(s) {', '.join(missing)} of the "
                "configuration",
                fix=_deploy_fix(self.context, stack_name),
            )
        if extra:
            return verdict(
                "WARN",
                f"{stack_name} still has roles the configuration no longer lists "
                f"({', '.join(o.removeprefix(ROLE_ARN_OUTPUT_PREFIX) for o in extra)})",
                fix=f"{_deploy_fix(self.context, stack_name)} (removes them)",
            )
        held = (
            f"{len(expected)} researcher role(s), as configured"
            if expected
            else "no researcher roles (the configuration has no researchers)"
        )
        return self._settled(verdict("PASS", f"{stack_name} {stack['StackStatus']}; {held}"), stack)

    # ----------------------------------------------------------------------------------------
    # 2. Secrets, 3. key expiry
    # ----------------------------------------------------------------------------------------

    def secrets(self, deployment: Deployment) -> Check:
        """Check 2: each secret has a current value (metadata only, as ``sync`` checks)."""
        verdict = _verdict("secrets")
        missing = unset_secrets(self.context.secretsmanager(), deployment.storage)
        if missing:
            return verdict(
                "FAIL",
                "not stored yet: " + "; ".join(missing),
                fix=f"run the command named for each ({FIRST_SET_UP})",
            )
        return verdict(
            "PASS",
            "edX's credentials, the pipeline key and its passphrase each have a current value",
        )

    def key_expiry(self, deployment: Deployment) -> Check:
        """Check 3: the primary key's expiry, from the key secret's tags (as the alarm reads it)."""
        verdict = _verdict("key-expiry")
        arn = deployment.storage.pipeline_key_secret_arn
        described = self.context.secretsmanager().describe_secret(SecretId=arn)
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
        days = expiry.days_left(self.context.now().date())
        fingerprint = expiry.fingerprint
        if days is None:
            return verdict("PASS", f"primary key {fingerprint} never expires")
        rotate = (
            "edx-vault keygen --rotate --email ADDRESS --out pipeline-new.asc, send the new "
            "public key to edX, keep the old key until edX confirms "
            "(docs/cli.md#keygen-make-the-pipelines-key)"
        )
        if days < 0:
            return verdict(
                "FAIL",
                f"primary key {fingerprint} expired on {expiry.expires} ({-days} days ago): edX "
                "stops exporting to an expired key",
                fix=rotate,
            )
        if days < KEY_EXPIRY_WARNING_DAYS:
            return verdict(
                "WARN",
                f"primary key {fingerprint} expires on {expiry.expires}, in {days} days",
                fix=rotate,
            )
        return verdict(
            "PASS",
            f"primary key {fingerprint} expires on {expiry.expires}, in {days} days",
        )

    # ----------------------------------------------------------------------------------------
    # 4. edX's credentials
    # ----------------------------------------------------------------------------------------

    def listings(self) -> Iterator[_Listing]:
        """Every prefix the sync lists with edX's keys, org by org (as the planner does)."""
        edx = self.config.edx
        buckets = edx.source_buckets
        for org in edx.orgs:
            for org_id in org.all_ids:
                if "events" in edx.categories:
                    for site in edx.sites:
                        for spelling in EDX_SITE_SPELLINGS[site]:
                            yield _Listing(
                                org.id, buckets.events, event_log_folder(org_id, spelling)
                            )
                if "database" in edx.categories:
                    yield _Listing(org.id, buckets.database, weekly_zip_list_prefix(org_id))
                if "email-opt-in" in edx.categories:
                    yield _Listing(org.id, buckets.database, email_opt_in_list_prefix(org_id))
                if "rdx" in edx.categories:
                    yield _Listing(org.id, buckets.events, rdx_list_prefix(org_id))

    def edx_credentials(self, credentials: EdxCredentials) -> Check:
        """Check 4: edX's keys list every prefix the sync lists (one key per listing)."""
        verdict = _verdict("edx-credentials")
        s3 = self.edx_s3(credentials)
        whose = f"edX's keys ({credentials.masked_access_key_id})"
        outcomes: dict[str, list[_Outcome]] = {}
        for listing in self.listings():
            try:
                listed = s3.list_objects_v2(Bucket=listing.bucket, Prefix=listing.prefix, MaxKeys=1)
            except ClientError as error:
                code = _code(error)
                if code in REJECTED_KEY_CODES:
                    self._keys_rejected = True
                    # Every other listing would say the same: the keys themselves are refused.
                    return verdict(
                        "FAIL",
                        f"edX's S3 rejected {whose}, imported "
                        f"{credentials.imported_at:%Y-%m-%d}: {code}",
                        fix=(
                            "ask edX for new credentials, then import new credentials: "
                            "edx-vault import-credentials credentials.csv.gpg"
                        ),
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
                if outcome.error in _ACCESS_DENIED_CODES:
                    denied.append(org)
                elif outcome.error == "NoSuchBucket":
                    missing_buckets.add(outcome.listing.bucket)
                elif outcome.error is not None:
                    other_errors.append(f"{outcome.listing.where}: {outcome.error}")
            if len(worked) == len(org_outcomes) and with_files == 0:
                empty.append(org)
        denied = list(dict.fromkeys(denied))
        if missing_buckets:
            return verdict(
                "FAIL",
                f"edX's bucket(s) {', '.join(sorted(missing_buckets))} do not exist",
                fix=(
                    f"check [edx.source_buckets] in {self.context.config_path} against what "
                    "edX told you (edX's defaults: edx-course-data, course-data)"
                ),
                details=tuple(details),
            )
        if denied:
            return verdict(
                "FAIL",
                f"{whose} may not list the files of org(s) {', '.join(denied)} (AccessDenied)",
                fix=(
                    f"ask edX to give its user {credentials.user_name} access to "
                    f"{', '.join(denied)}'s data, or remove the org from [[edx.orgs]] in "
                    f"{self.context.config_path}"
                ),
                details=tuple(details),
            )
        if other_errors:
            return verdict(
                "WARN",
                f"some listings failed: {'; '.join(other_errors[:3])}",
                fix="run `edx-vault doctor` again; if it persists, contact edX",
                details=tuple(details),
            )
        if empty:
            return verdict(
                "WARN",
                f"{whose} work, but edX has no file yet for org(s) {', '.join(empty)}",
                fix=(
                    f"check the org ids in [[edx.orgs]] of {self.context.config_path} with edX, "
                    "and that edX has started exporting for them"
                ),
                details=tuple(details),
            )
        return verdict(
            "PASS",
            f"{whose} list every prefix of {len(outcomes)} org(s)",
            details=tuple(details),
        )

    # ----------------------------------------------------------------------------------------
    # 5. Who edX encrypts to
    # ----------------------------------------------------------------------------------------

    def edx_encryption(self, credentials: EdxCredentials, keyring: PipelineKeyring) -> Check:
        """Check 5: each org's newest file names one of the pipeline's keys as a recipient."""
        verdict = _verdict("edx-encryption")
        ours = pipeline_key_ids(keyring)
        primary_ids = {key_id for key_id, fp in ours.items() if fp == keyring.primary}
        s3 = self.edx_s3(credentials)
        details: list[str] = []
        foreign: list[tuple[str, FileRecipients]] = []
        old_key: list[tuple[str, str]] = []
        unknown: list[str] = []
        read = 0
        for newest in newest_recipients(s3, self.config.edx, this_year=self.context.now().year):
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
                old = sorted({ours[k] for k in key_ids if k in ours})
                old_key.append((org, ", ".join(old)))
            elif WILDCARD_KEY_ID in key_ids:
                unknown.append(f"{org}: hidden recipients (key id 0): cannot tell")
            else:
                foreign.append((org, found))
        holds = ", ".join(sorted(ours))
        if foreign:
            orgs = ", ".join(org for org, _ in foreign)
            keys = sorted({k for _, found in foreign for k in found.recipients.key_ids})
            return verdict(
                "FAIL",
                f"edX encrypts the newest file of {orgs} to keys {', '.join(keys)}; the "
                f"pipeline holds {holds}",
                fix=(
                    "send pipeline.asc (the public key `edx-vault keygen` wrote) to edX and ask "
                    f"them to register it as a data czar key for {orgs} ({FIRST_SET_UP})"
                ),
                details=tuple(details),
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
                details=tuple(details),
            )
        if unknown:
            return verdict(
                "WARN",
                "cannot tell who edX encrypts to: " + "; ".join(unknown[:3]),
                fix="run `edx-vault doctor` again; if it persists, ask edX how it encrypts",
                details=tuple(details),
            )
        if read == 0:
            return verdict(
                "WARN",
                "edX has no event log or weekly zip for any org yet: nothing to check",
                fix="run `edx-vault doctor` again after edX's first export",
                details=tuple(details),
            )
        return verdict(
            "PASS",
            f"the newest file of {read} org(s) is encrypted to the pipeline's primary key "
            f"{keyring.primary}",
            details=tuple(details),
        )

    # ----------------------------------------------------------------------------------------
    # 6. Alarm subscription, 7. schedule
    # ----------------------------------------------------------------------------------------

    def _pending(self, sns: SNSClient, subscription: dict[str, Any]) -> bool:
        arn = str(subscription.get("SubscriptionArn", ""))
        # ListSubscriptionsByTopic names an unconfirmed subscription "PendingConfirmation"
        # instead of an ARN; one returned by ARN may still say so in its attributes.
        if arn == _PENDING:
            return True
        if not arn.startswith("arn:"):
            return False
        try:
            attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        except ClientError:
            return False  # listed with an ARN: as confirmed as the list can say
        return str(attributes.get(_PENDING, "false")).lower() == "true"

    def alerts_subscription(self, deployment: Deployment) -> Check:
        """Check 6: someone confirmed a subscription to the alerts topic."""
        verdict = _verdict("alerts-subscription")
        pipeline = deployment.require_pipeline()
        topic = pipeline.alerts_topic_arn or self.stack_resource(
            deployment.pipeline_stack, "AWS::SNS::Topic"
        )
        if topic is None:
            return verdict(
                "WARN",
                f"{deployment.pipeline_stack} exports no alerts topic and holds none",
                fix=_deploy_fix(self.context, deployment.pipeline_stack),
            )
        sns = self.context.sns()
        subscriptions: list[dict[str, Any]] = []
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
            subscriptions.extend(page.get("Subscriptions", []))  # type: ignore[arg-type]
        topic_name = topic.rsplit(":", 1)[-1]
        subscribe = (
            f"aws sns subscribe --topic-arn {topic} --protocol email --notification-endpoint "
            "you@your.edu"
        )
        if not subscriptions:
            return verdict(
                "WARN",
                f"nobody is subscribed to the alerts topic {topic_name}: alarms reach no one",
                fix=f"set [alerts] email in {self.context.config_path} and deploy, or {subscribe}",
            )
        pending = [s for s in subscriptions if self._pending(sns, s)]
        confirmed = [s for s in subscriptions if s not in pending]

        def who(subscription: dict[str, Any]) -> str:
            protocol = str(subscription.get("Protocol", "?"))
            endpoint = str(subscription.get("Endpoint", ""))
            return f"{protocol} {endpoint}" if protocol in ("email", "email-json") else protocol

        pending_emails = [s for s in pending if s.get("Protocol") in ("email", "email-json")]
        if pending_emails:
            emails = ", ".join(str(s.get("Endpoint", "?")) for s in pending_emails)
            return verdict(
                "WARN",
                f"the email subscription of {emails} to {topic_name} is pending: confirm the "
                f"email ({len(confirmed)} confirmed subscription(s))",
                fix=(
                    "open the 'AWS Notification - Subscription Confirmation' email sent to "
                    f"{emails} and click 'Confirm subscription' (check spam); to have it sent "
                    f"again: aws sns subscribe --topic-arn {topic} --protocol email "
                    f"--notification-endpoint {pending_emails[0].get('Endpoint', 'ADDRESS')!s}"
                ),
            )
        if not confirmed:
            return verdict(
                "WARN",
                f"no subscription to {topic_name} is confirmed yet: "
                + ", ".join(who(s) for s in pending),
                fix=f"confirm it, or {subscribe}",
            )
        configured = self.config.alerts.email
        endpoints = {str(s.get("Endpoint", "")).lower() for s in subscriptions}
        if configured and configured.lower() not in endpoints:
            return verdict(
                "WARN",
                f"{configured} ([alerts] email) is not subscribed to {topic_name}; "
                + ", ".join(who(s) for s in confirmed)
                + " is",
                fix=_deploy_fix(self.context, deployment.pipeline_stack),
            )
        return verdict(
            "PASS",
            f"{len(confirmed)} confirmed subscription(s) to {topic_name}: "
            + ", ".join(who(s) for s in confirmed),
        )

    def schedule(self, deployment: Deployment) -> Check:
        """Check 7: the schedule exists, is enabled, and is the configured one."""
        verdict = _verdict("schedule")
        pipeline = deployment.require_pipeline()
        schedule_name = pipeline.schedule_name or self.stack_resource(
            deployment.pipeline_stack, "AWS::Scheduler::Schedule"
        )
        if schedule_name is None:
            return verdict(
                "WARN",
                f"{deployment.pipeline_stack} exports no schedule and holds none: syncs run only "
                "when started by hand",
                fix=_deploy_fix(self.context, deployment.pipeline_stack),
            )
        try:
            schedule = self.context.scheduler().get_schedule(Name=schedule_name)
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            return verdict(
                "FAIL",
                f"the schedule {schedule_name} does not exist: no sync runs on its own",
                fix=_deploy_fix(self.context, deployment.pipeline_stack),
            )
        state = schedule.get("State", "?")
        expression = schedule.get("ScheduleExpression", "?")
        timezone = schedule.get("ScheduleExpressionTimezone", "UTC")
        shown = f"{schedule_name} {state}: {expression} ({timezone})"
        if state != "ENABLED":
            return verdict(
                "FAIL",
                f"{shown}: no sync runs on its own",
                fix=(
                    "enable it in the EventBridge Scheduler console (Schedules, "
                    f"{schedule_name}, Enable), or `aws scheduler update-schedule --name "
                    f"{schedule_name} --state ENABLED` with its current expression, target and "
                    "flexible time window"
                ),
            )
        wanted = self.config.schedule
        if (expression, timezone) != (wanted.expression, wanted.timezone):
            return verdict(
                "WARN",
                f"{shown}; the configuration says {wanted.expression} ({wanted.timezone})",
                fix=_deploy_fix(self.context, deployment.pipeline_stack),
            )
        return verdict("PASS", shown)

    # ----------------------------------------------------------------------------------------
    # All of them
    # ----------------------------------------------------------------------------------------

    def guarded(self, name: str, check: Callable[[], Check]) -> Check:
        """Run one check; an AWS refusal or a network failure is its verdict, not the end."""
        verdict = _verdict(name)
        try:
            return check()
        except ClientError as error:
            code = _code(error)
            refused = f"AWS refused {error.operation_name}: {describe(error)}"
            if code in _ACCESS_DENIED_CODES:
                return verdict(
                    "FAIL",
                    refused,
                    fix=f"run the CLI with one of the deployment's admin roles ({PERMISSIONS_DOC})",
                )
            if is_transient(error):
                return verdict("WARN", refused, fix="run `edx-vault doctor` again")
            return verdict("FAIL", refused, fix=f"see {PERMISSIONS_DOC}")
        except (BotoCoreError, OpenPgpError) as error:
            return verdict(
                "WARN",
                f"could not check: {error}",
                fix="run `edx-vault doctor` again once that is fixed",
            )

    def run_all(self) -> list[Check]:
        """Every check, in order; each runs whatever happened to the others."""
        checks = [
            self.guarded("storage-stack", self.storage_stack),
            self.guarded("pipeline-stack", self.pipeline_stack),
            self.guarded("access-stack", self.access_stack),
        ]
        deployment: Deployment | None = None
        try:
            deployment = self.context.deployment()
        except DeploymentError:
            pass  # the storage stack's FAIL above says what to do
        except ClientError:
            pass  # the stacks' checks above show the refusal
        if deployment is None:
            checks.extend(
                _verdict(name)("SKIP", "needs the storage stack (see Storage stack)")
                for name in ("secrets", "key-expiry", "edx-credentials", "edx-encryption")
            )
        else:
            found = deployment
            checks.append(self.guarded("secrets", lambda: self.secrets(found)))
            checks.append(self.guarded("key-expiry", lambda: self.key_expiry(found)))
            checks.extend(self._edx_checks(found))
        if deployment is None or deployment.pipeline is None:
            checks.extend(
                _verdict(name)("SKIP", "needs the pipeline stack (see Pipeline stack)")
                for name in ("alerts-subscription", "schedule")
            )
        else:
            found = deployment
            checks.append(
                self.guarded("alerts-subscription", lambda: self.alerts_subscription(found))
            )
            checks.append(self.guarded("schedule", lambda: self.schedule(found)))
        return checks

    def _edx_checks(self, deployment: Deployment) -> list[Check]:
        """Checks 4 and 5, which need edX's credentials (and 5 the pipeline's keys)."""
        storage = deployment.storage
        secretsmanager = self.context.secretsmanager()
        read: list[EdxCredentials] = []

        def credentials_check() -> Check:
            verdict = _verdict("edx-credentials")
            try:
                credentials = read_edx_credentials(
                    secretsmanager, storage.edx_credentials_secret_arn
                )
            except SecretFormatError as error:
                return verdict(
                    "FAIL",
                    f"the stored credentials are malformed: {error}",
                    fix="import them again: edx-vault import-credentials credentials.csv.gpg",
                )
            if credentials is None:
                return verdict("SKIP", "needs edX's credentials, not imported yet (see Secrets)")
            read.append(credentials)
            return self.edx_credentials(credentials)

        def encryption_check() -> Check:
            verdict = _verdict("edx-encryption")
            if not read or self._keys_rejected:
                return verdict("SKIP", "needs edX's credentials to work (see above)")
            try:
                keyring = read_pipeline_keyring(secretsmanager, storage.pipeline_key_secret_arn)
            except SecretFormatError as error:
                return verdict(
                    "FAIL",
                    f"the stored pipeline key is malformed: {error}",
                    fix=(
                        "store it again: edx-vault import-key "
                        "(docs/cli.md#import-key-store-an-existing-key)"
                    ),
                )
            if keyring is None:
                return verdict("SKIP", "needs the pipeline key, not stored yet (see Secrets)")
            return self.edx_encryption(read[0], keyring)

        return [
            self.guarded("edx-credentials", credentials_check),
            self.guarded("edx-encryption", encryption_check),
        ]


def gather(context: CliContext) -> dict[str, Any]:
    """Every check, as JSON-ready data."""
    config = context.config()
    checks = Doctor(context).run_all()
    counts = {status: sum(1 for c in checks if c.status == status) for status in STATUSES}
    return {
        "stack_prefix": config.deployment.stack_prefix,
        "account": config.deployment.account,
        "region": context.region,
        "ok": counts["FAIL"] == 0,
        "counts": counts,
        "checks": [asdict(check) for check in checks],
    }


def run(args: argparse.Namespace, context: CliContext) -> int:
    """Run every check and print the verdicts; exit 1 if any failed."""
    result = gather(context)
    if args.json:
        context.out(json.dumps(result, indent=2))
        return 0 if result["ok"] else 1
    context.out(
        f"edx-vault doctor: {result['stack_prefix']} in account {result['account']}, "
        f"{result['region']}"
    )
    context.out()
    width = max(len(check["title"]) for check in result["checks"])
    for check in result["checks"]:
        context.out(f"{check['status']:<4}  {check['title']:<{width}}  {check['evidence']}")
        indent = " " * (6 + width + 2)
        for line in check["details"]:
            context.out(f"{indent}{line}")
        if check["fix"]:
            context.out(f"{indent}fix: {check['fix']}")
    context.out()
    counts = result["counts"]
    context.out(", ".join(f"{counts[status]} {status}" for status in STATUSES if counts[status]))
    return 0 if result["ok"] else 1
