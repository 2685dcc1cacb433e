"""Researcher grants: what each approval in the configuration lets its researcher read.

The access stack turns every ``[[researchers]]`` entry into one IAM role; :func:`compile_grants`
decides, in pure Python, what that role may read, so that the stack, the ``edx-vault grants``
command and the tests share one answer. It checks each entry
(:mod:`edx_vault.access.grant_checks`), expands its scopes into readable slices and their IAM
patterns (:mod:`edx_vault.access.readable_slices`, derived from
:mod:`edx_vault.package.bucket_layout`, the one spelling of the bucket's layout), and packs those
into the role's managed policies (:mod:`edx_vault.access.researcher_roles`).

**Tiers**: a researcher with ``identifiable = true`` reads the original tier; any other reads
the de-identified tier only (``deidentified/``), and may be granted only what has a copy there
(:mod:`edx_vault.access.readable_slices` says why not both).

**Expiry**: ``expires`` is the first day without access (00:00 UTC). A grant that has already
expired when the app is synthesized still becomes a role, one that can read nothing, so an old
entry never blocks a deployment; synth warns about it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from edx_vault.access import grant_checks
from edx_vault.access.readable_slices import ReadableSlice, scope_slices
from edx_vault.access.researcher_roles import (
    MANAGED_POLICIES_PER_ROLE,
    QUERY_POLICIES_PER_ROLE,
    PolicyChunk,
    PrincipalKind,
    pack_policies,
    principal_kind,
    role_name_for,
)
from edx_vault.settings.config import ConfigError, VaultConfig
from edx_vault.settings.config_researchers import ResearcherConfig
from edx_vault.settings.iam_paths import RESEARCHER_ROLE_PATH
from edx_vault.settings.resource_names import data_bucket_name, resource_prefix


@dataclass(frozen=True)
class ResearcherGrant:
    """One researcher's grant, checked and expanded into what its role may read.

    Attributes
    ----------
    config
        The researcher's entry in the configuration.
    role_name
        The IAM role's name (under :data:`edx_vault.settings.iam_paths.RESEARCHER_ROLE_PATH`).
    principal_kind
        ``iam`` (a user or role), ``saml`` or ``oidc``.
    expired
        Whether the grant had expired on the day it was compiled: its role reads nothing.
    slices
        What it may read (empty when expired).
    policies
        The slices' patterns packed into managed policies that fit IAM's size limit.
    """

    config: ResearcherConfig
    role_name: str
    principal_kind: PrincipalKind
    expired: bool
    slices: tuple[ReadableSlice, ...]
    policies: tuple[PolicyChunk, ...] = field(default=())

    @property
    def name(self) -> str:
        """The researcher's name from the configuration."""
        return self.config.name

    @property
    def expires(self) -> dt.date:
        """The first day without access."""
        return self.config.expires

    @property
    def expiry_timestamp(self) -> str:
        """The moment access ends, as IAM's ``aws:CurrentTime`` compares it."""
        return f"{self.expires.isoformat()}T00:00:00Z"

    @property
    def key_patterns(self) -> tuple[str, ...]:
        """Every object key pattern the grant may read, without repeats."""
        return tuple(dict.fromkeys(p for s in self.slices for p in s.key_patterns))

    @property
    def prefix_patterns(self) -> tuple[str, ...]:
        """Every ``s3:prefix`` pattern the grant may list, without repeats."""
        return tuple(dict.fromkeys(p for s in self.slices for p in s.prefix_patterns))

    def days_left(self, today: dt.date) -> int:
        """Days of access left on ``today`` (0 once expired)."""
        return max((self.expires - today).days, 0)

    def role_arn(self, account: str, partition: str = "aws") -> str:
        """The role's ARN, which researchers put in their AWS CLI profile."""
        return f"arn:{partition}:iam::{account}:role{RESEARCHER_ROLE_PATH}{self.role_name}"

    @property
    def oidc_provider_path(self) -> str | None:
        """For an OIDC principal, the provider's host and path (IAM's condition key prefix)."""
        if self.principal_kind != "oidc":
            return None
        return self.config.principal.split(":oidc-provider/", 1)[1]


def compile_grants(
    config: VaultConfig, *, today: dt.date, source: Path | str = "<config>"
) -> tuple[ResearcherGrant, ...]:
    """Check every researcher entry against the deployment and expand it into patterns.

    Parameters
    ----------
    config
        The validated configuration.
    today
        The day of the synth, UTC: a grant expiring on or before it reads nothing.
    source
        The configuration file, named in errors.

    Raises
    ------
    ConfigError
        With one line per problem (``researchers[0].scopes[1]: ... Fix: ...``), all at once.
    """
    problems: list[str] = []
    grants: list[ResearcherGrant] = []
    orgs_by_id = {org_id: org for org in config.edx.orgs for org_id in org.all_ids}
    deployment = config.deployment
    bucket_name = data_bucket_name(
        resource_prefix(deployment.stack_prefix), deployment.account, deployment.region
    )
    for index, researcher in enumerate(config.researchers):
        where = f"researchers[{index}]"
        role_name = role_name_for(config.deployment.stack_prefix, researcher.name)
        found = grant_checks.researcher_problems(researcher, where, role_name=role_name)
        slices: list[ReadableSlice] = []
        for scope_index, scope in enumerate(researcher.scopes):
            scope_where = f"{where}.scopes[{scope_index}]"
            scope_problems = grant_checks.scope_problems(scope, scope_where, researcher, orgs_by_id)
            found += scope_problems
            if not scope_problems:
                slices += scope_slices(
                    scope, expires=researcher.expires, identifiable=researcher.identifiable
                )
        expired = researcher.expires <= today
        policies = () if expired else pack_policies(slices, bucket_name=bucket_name)
        # One managed policy of the role is its SQL access (stacks/researcher_role.py).
        read_policies = MANAGED_POLICIES_PER_ROLE - QUERY_POLICIES_PER_ROLE
        if len(policies) > read_policies:
            patterns = sum(len(s.key_patterns) for s in slices)
            listings = sum(len(s.prefix_patterns) for s in slices)
            found.append(
                f"{where}: the grant spells out {patterns} key patterns and {listings} listing "
                f"patterns (one per date prefix too), which need "
                f"{len(policies)} IAM policies; a role holds at most {read_policies} of them. "
                "Fix: use fewer orgs, courses or tables, course globs ('MITx-6.*'), or dates on "
                "whole months or years"
            )
        problems += found
        grants.append(
            ResearcherGrant(
                config=researcher,
                role_name=role_name,
                principal_kind=principal_kind(researcher.principal),
                expired=expired,
                slices=() if expired else tuple(slices),
                policies=policies,
            )
        )
    problems += grant_checks.name_clash_problems(config.researchers)
    if problems:
        raise ConfigError(source, problems)
    return tuple(grants)
