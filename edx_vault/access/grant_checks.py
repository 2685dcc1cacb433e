"""What is wrong with a researcher entry, said so an admin can fix it: one line per problem,
naming the field (``researchers[0].scopes[1].courses[2]: ...``) and ending with ``Fix: ...``.

:func:`edx_vault.access.grants.compile_grants` reports every problem of every entry at once.
The rules are those of :mod:`edx_vault.access.readable_slices` and of what IAM and
CloudFormation can express.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from edx_vault.access.iam_wildcards import matches_glob
from edx_vault.access.readable_slices import (
    ORG_WIDE_CATEGORIES,
    TABLES_BY_CATEGORY,
    covers_whole_orgs,
    has_deidentified_copy,
    scope_tables,
)
from edx_vault.access.researcher_roles import (
    ROLE_NAME_MAX_LENGTH,
    construct_name,
    is_iam_role,
    principal_kind,
)
from edx_vault.package.bucket_layout import NOT_COURSES
from edx_vault.settings.config import OrgConfig
from edx_vault.settings.config_researchers import ResearcherConfig, ResearcherScope

# What IAM's resource patterns can express: '*' and '?', no character classes; and what a
# course partition can hold (no '+', no '/').
_COURSE_GLOB: Final = re.compile(r"^[A-Za-z0-9_.~:*?-]+$")
_GLOB_CHARACTERS: Final = frozenset("*?")


def name_clash_problems(researchers: Sequence[ResearcherConfig]) -> list[str]:
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


def researcher_problems(researcher: ResearcherConfig, where: str, *, role_name: str) -> list[str]:
    """What is wrong with a researcher entry itself: its principal's options, its role's name."""
    problems = _principal_problems(researcher, where)
    if len(role_name) > ROLE_NAME_MAX_LENGTH:
        problems.append(
            f"{where}.name: the role name {role_name!r} is longer than IAM's "
            f"{ROLE_NAME_MAX_LENGTH} characters. Fix: use a shorter name"
        )
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


def scope_problems(
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
    for category in scope.categories:
        if category in ORG_WIDE_CATEGORIES and not covers_whole_orgs(scope):
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
        # A grant without identifiable reads the de-identified tier only, so what has no copy
        # there (identifying as a whole, or a table no rule reviewed) cannot be granted.
        uncopied = [
            category
            for category in scope.categories
            if not all(
                has_deidentified_copy(category, table) for table in scope_tables(scope, category)
            )
        ]
        if uncopied:
            tables = [
                table
                for category in uncopied
                for table in scope_tables(scope, category)
                if table != "*" and not has_deidentified_copy(category, table)
            ]
            which = f" (tables {tables})" if tables and set(uncopied) <= {"database"} else ""
            problems.append(
                f"{where}: {uncopied}{which} have no de-identified copy (names, emails, "
                "learners' own text, or a table no rule reviewed: docs/deidentification.md), "
                "and the researcher does not have identifiable = true, so reads only that "
                "tier. Fix: set identifiable = true if the approval covers identifiable data; "
                "otherwise remove them (for 'database', list tables that have a copy)"
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
        # The per-course event folders that are no course's hold the org's data; IAM, not
        # fnmatch, decides what the glob matches, so ask IAM's rules.
        not_courses = [value for value in NOT_COURSES if matches_glob(course, value)]
        if course != "*" and not_courses:
            problems.append(
                f"{where}.courses[{index}]: {course!r} also matches {not_courses}, the "
                "folders of events-by-course/ that hold events naming no course and lines "
                "that are not events: the whole org's data, not a course's. Fix: start the "
                f"glob with the course's org, e.g. '{scope.orgs[0]}-*', or grant courses = "
                "['*'] in a scope of its own if the approval covers the whole org"
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
