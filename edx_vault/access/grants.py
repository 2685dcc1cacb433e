"""Researcher grants: what each approval in the configuration lets its researcher read.

The access stack turns every ``[[researchers]]`` entry into one IAM role; this module decides,
in pure Python, what that role may read, so that the stack, the ``edx-vault grants`` command and
the tests share one answer. Everything is derived from :mod:`edx_vault.package.bucket_layout`, the one
spelling of the bucket's layout.

Decisions (``docs/researchers.md`` explains them to admins and researchers):

* **Identifying data** needs ``identifiable = true`` on the researcher. Identifying means: names,
  email addresses, or text learners wrote themselves, in which they may say anything about
  themselves. That is the ``email-opt-in`` report (names and emails, kept to contact learners),
  ``forums`` and ``ora`` (free-text posts, answers and peer feedback), and the ``database``
  tables in :data:`IDENTIFYING_TABLES`. Nothing in the package is anonymous: usernames, user ids
  and IP addresses are everywhere (events, most tables), so every grant is for personal data and
  needs an approval; the flag marks the data that names people outright.
* **Org-wide files.** An event log, and an email opt-in report, holds every course of an org.
  They cannot be cut by course, so a scope that names them must say ``courses = ["*"]``:
  granting the whole file for a course-limited approval would over-grant, and silently dropping
  it would under-grant.
* **Orgs are exact**: a grant for ``MITx`` does not include the alias ``MITxPRO``; name each.
* **Sites**: old forums files that do not say their site (``site=unspecified``) are included
  only when the scope grants both sites. Email opt-in reports exist for edx.org only.
* **Dates** are the data's own date (an event log's day, a weekly export's date), both ends
  included. An open end is capped at 31 December of the year the grant expires: nothing dated
  later can have been published while the grant still works, and whole years make short
  policies.
* **Listing** is by folder: a researcher may list the slice's folder (its org, site, course and
  table), and so see the names of files dated outside the range, but read only those inside.
* **Expiry**: ``expires`` is the first day without access (00:00 UTC). A grant that has already
  expired when the app is synthesized still becomes a role, one that can read nothing, so an
  old entry never blocks a deployment; synth warns about it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from edx_vault.package import bucket_layout
from edx_vault.package.package_model import DATABASE_TABLES, ORA_TABLES
from edx_vault.settings.config import (
    ConfigError,
    OrgConfig,
    ResearcherConfig,
    ResearcherScope,
    VaultConfig,
)
from edx_vault.settings.iam_paths import RESEARCHER_ROLE_PATH
from edx_vault.settings.resource_names import resource_prefix
from edx_vault.settings.types import GrantCategory, Site

# Categories that name learners or hold their own free text.
IDENTIFYING_CATEGORIES: Final[frozenset[GrantCategory]] = frozenset(
    {"email-opt-in", "forums", "ora"}
)
# database tables with names or emails (auth_user, auth_userprofile, the certificate's name)
# or free text with the author's IP address (wiki revisions).
IDENTIFYING_TABLES: Final = frozenset(
    {
        "auth_user",
        "auth_userprofile",
        "certificates_generatedcertificate",
        "wiki_articlerevision",
    }
)
# Files that hold every course of an org, so a grant cannot be limited to some courses.
ORG_WIDE_CATEGORIES: Final[frozenset[GrantCategory]] = frozenset({"events", "email-opt-in"})
TABLES_BY_CATEGORY: Final[Mapping[GrantCategory, frozenset[str]]] = {
    "database": DATABASE_TABLES,
    "ora": frozenset(ORA_TABLES),
}
ALL_SITES: Final[tuple[Site, ...]] = ("edx", "edge")

# A researcher's session lasts at most this long; the AWS CLI and boto3 renew it by themselves.
MAX_SESSION_HOURS: Final = 1
# IAM's limits: a role name, one customer-managed policy (characters without whitespace), and
# managed policies attached to one role (the default quota).
ROLE_NAME_MAX_LENGTH: Final = 64
MANAGED_POLICY_MAX_CHARS: Final = 6144
MANAGED_POLICIES_PER_ROLE: Final = 10
# Tags on every researcher role, so an audit can tell which approval a role serves.
GRANT_TAG: Final = "edx-vault:grant"
EXPIRES_TAG: Final = "edx-vault:expires"
IDENTIFIABLE_TAG: Final = "edx-vault:identifiable"
# Where the access stack's CloudFormation outputs put each role's ARN.
ROLE_ARN_OUTPUT_PREFIX: Final = "ResearcherRoleArn"
ACCESS_STACK_SUFFIX: Final = "Access"
# The SAML audience AWS's sign-in endpoint puts in assertions (and the AWS CLI's SAML tools).
SAML_AUDIENCE: Final = "https://signin.aws.amazon.com/saml"

PrincipalKind = Literal["iam", "saml", "oidc"]

# What IAM's resource patterns can express: '*' and '?', no character classes; and what a
# course partition can hold (no '+', no '/').
_COURSE_GLOB = re.compile(r"^[A-Za-z0-9_.~:*?-]+$")
_GLOB_CHARACTERS = frozenset("*?")
# Budget per managed policy: IAM's limit less room for the statements' fixed parts and for
# tokens (the key ARN) whose length is only known at deploy time.
_POLICY_BUDGET: Final = MANAGED_POLICY_MAX_CHARS - 1100
_BUCKET_ARN_ESTIMATE: Final = len("arn:aws-us-gov:s3:::") + 63


@dataclass(frozen=True)
class ReadableSlice:
    """One slice of one category a grant may read, with the patterns that express it.

    Attributes
    ----------
    category, org, site, course, table
        The slice; ``"*"`` for every site, course or table.
    date_from, date_to
        The data dates included (``None``: unbounded on that side, before capping).
    key_patterns
        Object key patterns (IAM wildcards) for ``s3:GetObject``.
    prefix_patterns
        ``s3:prefix`` patterns for ``s3:ListBucket``: the slice's folders, whatever the dates.
    """

    category: GrantCategory
    org: str
    site: str
    course: str
    table: str
    date_from: dt.date | None
    date_to: dt.date | None
    key_patterns: tuple[str, ...]
    prefix_patterns: tuple[str, ...]


@dataclass(frozen=True)
class PolicyChunk:
    """What one customer-managed policy of a researcher role allows."""

    key_patterns: tuple[str, ...]
    prefix_patterns: tuple[str, ...]


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


def principal_kind(principal: str) -> PrincipalKind:
    """Whether a (validated) principal ARN is an IAM user or role, a SAML or an OIDC provider."""
    resource = principal.split(":", 5)[5]
    if resource.startswith("saml-provider/"):
        return "saml"
    if resource.startswith("oidc-provider/"):
        return "oidc"
    return "iam"


def is_iam_role(principal: str) -> bool:
    """Whether a (validated) IAM principal ARN names a role, rather than a user."""
    return principal.split(":", 5)[5].startswith("role/")


def role_name_for(stack_prefix: str, researcher: str) -> str:
    """The researcher role's name: unique per deployment, since role names are per account."""
    return f"{resource_prefix(stack_prefix)}-{researcher}"


def construct_name(researcher: str) -> str:
    """The researcher's name in CamelCase, for construct ids and output names."""
    return "".join(part.capitalize() for part in researcher.split("-") if part)


def role_output_name(researcher: str) -> str:
    """The access stack's output holding a researcher role's ARN (outputs are alphanumeric)."""
    return ROLE_ARN_OUTPUT_PREFIX + construct_name(researcher)


def is_identifying(category: GrantCategory, table: str = "*") -> bool:
    """Whether a category (or one of its tables; ``"*"`` for all) is identifying data."""
    if category in IDENTIFYING_CATEGORIES:
        return True
    if category == "database":
        return table == "*" or table in IDENTIFYING_TABLES
    return False


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
    for index, researcher in enumerate(config.researchers):
        where = f"researchers[{index}]"
        found = _principal_problems(researcher, where)
        role_name = role_name_for(config.deployment.stack_prefix, researcher.name)
        if len(role_name) > ROLE_NAME_MAX_LENGTH:
            found.append(
                f"{where}.name: the role name {role_name!r} is longer than IAM's "
                f"{ROLE_NAME_MAX_LENGTH} characters. Fix: use a shorter name"
            )
        slices: list[ReadableSlice] = []
        for scope_index, scope in enumerate(researcher.scopes):
            scope_where = f"{where}.scopes[{scope_index}]"
            scope_problems = _scope_problems(scope, scope_where, researcher, orgs_by_id)
            found += scope_problems
            if not scope_problems:
                slices += _slices(scope, expires=researcher.expires)
        expired = researcher.expires <= today
        policies = () if expired else _pack(slices)
        if len(policies) > MANAGED_POLICIES_PER_ROLE:
            patterns = sum(len(s.key_patterns) for s in slices)
            found.append(
                f"{where}: the grant spells out {patterns} key patterns, which need "
                f"{len(policies)} IAM policies; a role holds at most {MANAGED_POLICIES_PER_ROLE}. "
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
    problems += _construct_name_clashes(config.researchers)
    if problems:
        raise ConfigError(source, problems)
    return tuple(grants)


def _construct_name_clashes(researchers: Sequence[ResearcherConfig]) -> list[str]:
    # 'a-1b' and 'a1b' are both 'A1b' in CamelCase; CloudFormation needs distinct names.
    seen: dict[str, str] = {}
    problems: list[str] = []
    for index, researcher in enumerate(researchers):
        camel = construct_name(researcher.name)
        if camel in seen and seen[camel] != researcher.name:
            problems.append(
                f"researchers[{index}].name: {researcher.name!r} and {seen[camel]!r} differ only "
                "in dashes, which CloudFormation names cannot hold. Fix: rename one"
            )
        seen.setdefault(camel, researcher.name)
    return problems


def _principal_problems(researcher: ResearcherConfig, where: str) -> list[str]:
    kind = principal_kind(researcher.principal)
    problems: list[str] = []
    if kind == "iam":
        if researcher.subject is not None:
            problems.append(
                f"{where}.subject: only federated (SAML or OIDC) principals have a subject. "
                "Fix: remove it; an IAM user or role is named by its ARN"
            )
        if researcher.mfa and is_iam_role(researcher.principal):
            # IAM User Guide, "Secure API access with MFA": MFA information is in a request
            # only for temporary credentials an IAM user (or the root user) obtained with its MFA
            # device from GetSessionToken or AssumeRole, and "the temporary credentials returned
            # by AssumeRole do not include MFA information in the context". A role has no MFA
            # device, so its sessions' AssumeRole requests never carry aws:MultiFactorAuthPresent
            # and the trust policy's Bool condition could never hold.
            problems.append(
                f"{where}.mfa: a session of the IAM role {researcher.principal} never carries "
                "MFA (AWS adds MFA only to credentials an IAM user gets with its MFA device, and "
                "credentials from AssumeRole do not include it), so the researcher could never "
                "assume the grant's role. Fix: name the researcher's IAM user "
                "(arn:aws:iam::ACCOUNT:user/NAME) as principal to require MFA here, or remove "
                "mfa and require MFA where sessions of that role begin (its trust policy, or "
                "the identity provider)"
            )
        return problems
    if researcher.external_id is not None:
        problems.append(
            f"{where}.external_id: an external id applies to IAM users and roles, not to "
            f"{kind.upper()} federation. Fix: remove it"
        )
    if researcher.mfa:
        problems.append(
            f"{where}.mfa: AWS cannot see whether a {kind.upper()} sign-in used MFA. "
            "Fix: require MFA in your identity provider and remove mfa here"
        )
    if kind == "oidc" and researcher.subject is None:
        problems.append(
            f"{where}.subject: required for an OIDC provider, or anyone holding a token from it "
            "could assume the role. Fix: set subject to the researcher's 'sub' claim"
        )
    return problems


def _scope_problems(
    scope: ResearcherScope,
    where: str,
    researcher: ResearcherConfig,
    orgs_by_id: Mapping[str, OrgConfig],
) -> list[str]:
    problems: list[str] = []
    for index, org in enumerate(scope.orgs):
        if org.lower() not in orgs_by_id:
            problems.append(
                f"{where}.orgs[{index}]: {org!r} is not a configured org id "
                f"(configured: {sorted(orgs_by_id)}). Fix: add it under [[edx.orgs]] or "
                "correct the spelling"
            )
    whole_org = scope.courses == ("*",)
    for category in scope.categories:
        if category in ORG_WIDE_CATEGORIES and not whole_org:
            problems.append(
                f"{where}: {category!r} files hold every course of an org, so they cannot be "
                f"limited to courses {list(scope.courses)}. Fix: move {category!r} to a scope "
                "of its own with courses = ['*'] if the approval covers the whole org, or "
                "remove it"
            )
    if "email-opt-in" in scope.categories and "edx" not in scope.sites:
        problems.append(
            f"{where}: email opt-in reports exist for edx.org only, and sites is "
            f"{list(scope.sites)}. Fix: add 'edx' to sites or remove 'email-opt-in'"
        )
    problems += _course_problems(scope, where, orgs_by_id)
    problems += _table_problems(scope, where)
    if not researcher.identifiable:
        identifying = [
            category
            for category in scope.categories
            if any(is_identifying(category, table) for table in _tables(scope, category))
        ]
        if identifying:
            problems.append(
                f"{where}: {identifying} hold identifying data (names, emails or learners' own "
                "text), and the researcher does not have identifiable = true. Fix: set "
                "identifiable = true if the approval covers identifiable data; otherwise "
                "remove them (for 'database', list non-identifying tables)"
            )
    if scope.date_from is not None and scope.date_from >= researcher.expires:
        problems.append(
            f"{where}.date_from: {scope.date_from} is on or after the day the grant expires "
            f"({researcher.expires}), so nothing could be read. Fix: check both dates"
        )
    return problems


def _course_problems(
    scope: ResearcherScope, where: str, orgs_by_id: Mapping[str, OrgConfig]
) -> list[str]:
    problems: list[str] = []
    # A course entity starts with its own org id, which may be an alias of the scope's org.
    partner_ids = {
        org_id
        for org in scope.orgs
        if org.lower() in orgs_by_id
        for org_id in orgs_by_id[org.lower()].all_ids
    }
    for index, course in enumerate(scope.courses):
        if not _COURSE_GLOB.fullmatch(course):
            problems.append(
                f"{where}.courses[{index}]: {course!r} cannot be matched by IAM. Fix: write the "
                f"course as its files name it, e.g. {_entity_suggestion(course)!r}; globs may "
                "use '*' and '?' only"
            )
            continue
        course_org = course.split("-", 1)[0]
        if (
            partner_ids
            and course != "*"
            and not _GLOB_CHARACTERS & set(course_org)
            and course_org.lower() not in partner_ids
        ):
            problems.append(
                f"{where}.courses[{index}]: {course!r} belongs to org {course_org!r}, not to "
                f"{list(scope.orgs)}. Fix: add its org to orgs or correct the course"
            )
    return problems


def _entity_suggestion(course: str) -> str:
    """How the package spells a course id: ``course-v1:MITx+6.002x+2012_Fall`` or
    ``MITx/6.002x/2012_Fall`` become ``MITx-6.002x-2012_Fall``."""
    stripped = course.removeprefix("course-v1:")
    return "-".join(part for part in re.split(r"[+/]", stripped) if part) or "MITx-6.002x-2012_Fall"


def _table_problems(scope: ResearcherScope, where: str) -> list[str]:
    if scope.tables is None:
        return []
    table_categories = [c for c in scope.categories if c in TABLES_BY_CATEGORY]
    if not table_categories:
        return [
            f"{where}.tables: tables belong to 'database' or 'ora', and categories is "
            f"{list(scope.categories)}. Fix: remove tables or add the category"
        ]
    problems: list[str] = []
    for index, table in enumerate(scope.tables):
        if not any(table in TABLES_BY_CATEGORY[c] for c in table_categories):
            problems.append(
                f"{where}.tables[{index}]: {table!r} is not a table of {table_categories}. "
                "Fix: use a table name from docs/researchers.md"
            )
    for category in table_categories:
        if not set(scope.tables) & TABLES_BY_CATEGORY[category]:
            problems.append(
                f"{where}.tables: none of the tables is a {category!r} table, so it is unclear "
                f"which {category!r} tables are approved. Fix: list them, or move {category!r} "
                "to a scope without tables (all its tables)"
            )
    return problems


def _tables(scope: ResearcherScope, category: GrantCategory) -> tuple[str, ...]:
    """The tables of ``category`` the scope grants; ``("*",)`` for all (or no tables at all)."""
    if category not in TABLES_BY_CATEGORY or scope.tables is None:
        return ("*",)
    return tuple(t for t in scope.tables if t in TABLES_BY_CATEGORY[category])


def _sites(scope: ResearcherScope, category: GrantCategory) -> tuple[str, ...]:
    if category == "email-opt-in" or set(ALL_SITES) <= set(scope.sites):
        # Both sites: one pattern, and old forums files (site=unspecified) are included.
        return ("*",)
    return tuple(dict.fromkeys(scope.sites))


def _slices(scope: ResearcherScope, *, expires: dt.date) -> list[ReadableSlice]:
    date_to = scope.date_to
    if date_to is None and scope.date_from is not None:
        date_to = dt.date(expires.year, 12, 31)
    date_prefixes = bucket_layout.date_partition_prefixes(scope.date_from, date_to)
    slices: list[ReadableSlice] = []
    for category in dict.fromkeys(scope.categories):
        courses = ("*",) if category in ORG_WIDE_CATEGORIES else tuple(dict.fromkeys(scope.courses))
        for org in dict.fromkeys(org.lower() for org in scope.orgs):
            for site in _sites(scope, category):
                for course in courses:
                    for table in _tables(scope, category):
                        slices.append(
                            _slice(
                                category, org, site, course, table, scope, date_to, date_prefixes
                            )
                        )
    return slices


def _slice(
    category: GrantCategory,
    org: str,
    site: str,
    course: str,
    table: str,
    scope: ResearcherScope,
    date_to: dt.date | None,
    date_prefixes: Iterable[str],
) -> ReadableSlice:
    parts = {"org": org, "site": site, "course": course, "table": table}
    keys = [
        bucket_layout.published_key_pattern(category, **parts, date_prefix=date_prefix)
        for date_prefix in date_prefixes
    ]
    # Listing works by folder, without the date range: a researcher may see the names of the
    # slice's files of other dates (org, site, course, table and date: no learner data), and
    # pandas and Athena can read a partitioned folder. Reading them is still refused.
    prefixes = [bucket_layout.published_prefix_pattern(category, **parts)]
    return ReadableSlice(
        category=category,
        org=org,
        site=site,
        course=course,
        table=table,
        date_from=scope.date_from,
        date_to=date_to,
        key_patterns=tuple(dict.fromkeys(keys)),
        prefix_patterns=tuple(dict.fromkeys(prefixes)),
    )


def _pack(slices: Sequence[ReadableSlice]) -> tuple[PolicyChunk, ...]:
    """Pack the patterns into as few managed policies as fit IAM's size limit, in order."""
    entries = [("key", p) for p in dict.fromkeys(p for s in slices for p in s.key_patterns)]
    entries += [("prefix", p) for p in dict.fromkeys(p for s in slices for p in s.prefix_patterns)]
    chunks: list[PolicyChunk] = []
    keys: list[str] = []
    prefixes: list[str] = []
    used = 0
    for kind, pattern in entries:
        # A key pattern is a quoted bucket ARN, '/', the pattern and a comma; a prefix pattern
        # is a quoted condition value and a comma.
        size = len(pattern) + 3 + (_BUCKET_ARN_ESTIMATE + 1 if kind == "key" else 0)
        if used + size > _POLICY_BUDGET and (keys or prefixes):
            chunks.append(PolicyChunk(tuple(keys), tuple(prefixes)))
            keys, prefixes, used = [], [], 0
        (keys if kind == "key" else prefixes).append(pattern)
        used += size
    if keys or prefixes:
        chunks.append(PolicyChunk(tuple(keys), tuple(prefixes)))
    return tuple(chunks)
