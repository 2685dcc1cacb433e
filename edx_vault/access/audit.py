"""The read audit for the data czar: who read which data, from the data bucket's access logs.

Pure Python. :func:`known_principals` names the vault's principals from the configuration (the
researcher roles as :func:`~edx_vault.access.researcher_roles.role_name_for` spells them, the
pipeline's roles as :func:`~edx_vault.settings.resource_names.pipeline_role_name` spells them,
the admin roles); :func:`identifying_key`
says whether an object holds identifying data, as
:func:`~edx_vault.access.readable_slices.is_identifying` decides for grants; :func:`audit` sums
the records per principal (:mod:`edx_vault.package.access_log_readers`) and
``edx-vault audit`` prints the result.

Identifying files are those that name learners or hold their own words: the email opt-in report
(names and email addresses), forums and open response assessments (free text), and the database
tables ``auth_user``, ``auth_userprofile``, ``certificates_generatedcertificate`` and
``wiki_articlerevision``. Nothing else is anonymous: event logs carry every learner's username
and IP address, so every read is a read of personal data; the audit lists the identifying ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edx_vault.access.researcher_roles import role_name_for
from edx_vault.package.access_log_readers import (
    KnownPrincipals,
    ReaderActivity,
    summarize,
    unexpected_readers,
)
from edx_vault.package.access_log_records import AccessLogRecord
from edx_vault.package.bucket_layout import (
    EVENTS_BY_COURSE_PREFIX,
    EVENTS_PREFIX,
)
from edx_vault.package.identifying_data import identifying_key as identifying_key
from edx_vault.settings.config import VaultConfig
from edx_vault.settings.resource_names import PIPELINE_ROLE_STEPS, pipeline_role_name


def known_principals(config: VaultConfig) -> KnownPrincipals:
    """The principals a deployment expects in its data bucket's access logs.

    Every vault role has a fixed name, which is what a role session's ARN in the log carries
    (not the role's path): a role created later at the vault's IAM paths is not the vault's.
    """
    deployment = config.deployment
    return KnownPrincipals(
        account=deployment.account,
        researcher_roles={
            role_name_for(deployment.stack_prefix, researcher.name): researcher.name
            for researcher in config.researchers
        },
        pipeline_roles=frozenset(
            pipeline_role_name(deployment.stack_prefix, step) for step in PIPELINE_ROLE_STEPS
        ),
        admin_principal_arns=tuple(deployment.admin_role_arns),
    )


def is_event_log(key: str) -> bool:
    """Whether an object is an event log (usernames and IP addresses of every learner)."""
    return key.startswith((EVENTS_PREFIX, EVENTS_BY_COURSE_PREFIX))


@dataclass(frozen=True)
class Audit:
    """The audit of some log records.

    Attributes
    ----------
    activity
        Every principal's activity, researchers first, then pipeline, admins, S3, unexpected.
    unexpected_readers
        Requesters outside the vault whose data request succeeded.
    records
        How many records were read.
    """

    activity: tuple[ReaderActivity, ...]
    unexpected_readers: tuple[str, ...]
    records: int

    def researchers(self) -> tuple[ReaderActivity, ...]:
        """The researchers' activity only."""
        return tuple(entry for entry in self.activity if entry.kind == "researcher")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "records": self.records,
            "activity": [entry.as_dict() for entry in self.activity],
            "unexpected_readers": list(self.unexpected_readers),
        }


_KIND_ORDER = {"researcher": 0, "pipeline": 1, "admin": 2, "s3": 3, "unexpected": 4}


def audit(
    records: Iterable[AccessLogRecord],
    principals: KnownPrincipals,
    *,
    researcher: str | None = None,
) -> Audit:
    """Sum the records per principal; with ``researcher``, keep that researcher's activity and
    every unexpected requester's (the flags never disappear behind a filter)."""
    listed = list(records)
    activity = summarize(listed, principals, identifying=identifying_key)
    entries = sorted(activity.values(), key=lambda entry: (_KIND_ORDER[entry.kind], entry.name))
    if researcher is not None:
        entries = [
            entry
            for entry in entries
            if entry.kind == "unexpected" or (entry.kind, entry.name) == ("researcher", researcher)
        ]
    return Audit(tuple(entries), tuple(unexpected_readers(activity)), len(listed))
