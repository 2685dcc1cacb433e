"""Doctor's checks in the order they run, what each needs, and how one is run.

Each row names a check (a stable name for scripts, a title for people), the function that
makes its verdict, and what it needs from the checks before it: a check whose need is not met
is ``SKIP``, saying which earlier check tells what to do. A check that runs is guarded: an AWS
refusal or a network failure is its verdict, and the checks after it still run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from edx_vault.cli.checks import Check, Verdict, verdict_for
from edx_vault.cli.doctor import alerts_and_schedule, edx_access, stacks, stored_secrets
from edx_vault.cli.doctor.facts import ACCESS_DENIED_CODES, PERMISSIONS_DOC, Doctor
from edx_vault.cli.errors import aws_error_code
from edx_vault.engine.errors import describe, is_transient
from edx_vault.engine.openpgp_keys import OpenPgpError

# Says why a check cannot run yet (the SKIP's evidence), or None when it can.
Need = Callable[[Doctor], str | None]


def _storage_stack(doctor: Doctor) -> str | None:
    if doctor.deployment is None:
        return "needs the storage stack (see Storage stack)"
    return None


def _pipeline_stack(doctor: Doctor) -> str | None:
    if doctor.deployment is None or doctor.deployment.pipeline is None:
        return "needs the pipeline stack (see Pipeline stack)"
    return None


def _working_edx_credentials(doctor: Doctor) -> str | None:
    if doctor.edx_credentials is None or doctor.keys_rejected:
        return "needs edX's credentials to work (see above)"
    return None


@dataclass(frozen=True)
class DoctorCheck:
    """One row of :data:`CHECKS`."""

    name: str
    title: str
    run: Callable[[Doctor, Verdict], Check]
    needs: tuple[Need, ...] = ()


CHECKS: Final = (
    DoctorCheck("storage-stack", "Storage stack", stacks.storage_stack),
    DoctorCheck("pipeline-stack", "Pipeline stack", stacks.pipeline_stack),
    DoctorCheck("access-stack", "Access stack", stacks.access_stack),
    DoctorCheck("secrets", "Secrets", stored_secrets.secrets, (_storage_stack,)),
    DoctorCheck("key-expiry", "Pipeline key expiry", stored_secrets.key_expiry, (_storage_stack,)),
    DoctorCheck(
        "edx-credentials", "edX credentials", edx_access.edx_credentials, (_storage_stack,)
    ),
    DoctorCheck(
        "edx-encryption",
        "Newest edX files",
        edx_access.edx_encryption,
        (_storage_stack, _working_edx_credentials),
    ),
    DoctorCheck(
        "alerts-subscription",
        "Alarm subscription",
        alerts_and_schedule.alerts_subscription,
        (_pipeline_stack,),
    ),
    DoctorCheck("schedule", "Schedule", alerts_and_schedule.schedule, (_pipeline_stack,)),
)


def guarded(doctor: Doctor, verdict: Verdict, check: Callable[[Doctor, Verdict], Check]) -> Check:
    """Run one check; an AWS refusal or a network failure is its verdict, not the end."""
    try:
        return check(doctor, verdict)
    except ClientError as error:
        refused = f"AWS refused {error.operation_name}: {describe(error)}"
        if aws_error_code(error) in ACCESS_DENIED_CODES:
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


def run_checks(doctor: Doctor) -> list[Check]:
    """Every check of :data:`CHECKS`, in order; each runs whatever happened to the others."""
    checks = []
    for row in CHECKS:
        verdict = verdict_for(row.name, row.title)
        unmet = next((reason for need in row.needs if (reason := need(doctor))), None)
        checks.append(verdict("SKIP", unmet) if unmet else guarded(doctor, verdict, row.run))
    return checks
