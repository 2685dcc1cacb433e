"""The ``[[researchers]]`` of the configuration file: who may read what, until when.

What pydantic can check of one approval is checked here (names, principals, courses, tables,
dates in order); what needs the whole configuration (configured orgs, identifying data only for
``identifiable`` researchers) is :mod:`edx_vault.access.grants`'s. See ``docs/researchers.md``.
For the CDK app and the CLI, never Lambda.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import Field, field_validator, model_validator

from edx_vault.settings.config_fields import (
    IAM_PRINCIPAL_ARN,
    ConfigDate,
    OrgId,
    StrictConfigModel,
    matching,
)
from edx_vault.settings.types import GrantCategory, Site

_FEDERATED_PRINCIPAL_ARN: Final = re.compile(
    r"^arn:aws(-us-gov|-cn)?:iam::\d{12}:(saml-provider/[\w.-]{1,128}|oidc-provider/[\w./:-]{1,255})$"
)
_RESEARCHER_NAME: Final = re.compile(r"^[a-z][a-z0-9-]{1,40}[a-z0-9]$")
_COURSE_PATTERN: Final = re.compile(r"^[\w.+:*?\[\]-]{1,255}$")
# What STS accepts as an external id.
_EXTERNAL_ID: Final = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_TABLE_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,127}$")

CourseGlob = Annotated[
    str,
    matching(
        _COURSE_PATTERN,
        "a course id or glob",
        "use the course as 'MITx-6.002x-2012_Fall', or a glob such as 'MITx-6.*'",
    ),
]
TableName = Annotated[
    str,
    matching(
        _TABLE_NAME,
        "a table name",
        "use the table as edX names it, e.g. 'student_courseenrollment'",
    ),
]


class ResearcherScope(StrictConfigModel):
    """One slice of an approval: orgs x courses x sites x categories, optionally tables and dates.

    The access stack (``edx_vault/access/grants.py``) checks what pydantic cannot: that the orgs are
    configured, that ``email-opt-in`` (a report holding every course of an org) comes with
    ``courses = ["*"]``, that no course glob but ``"*"`` matches the per-course event folders
    that are no course's (``_none``, ``_unparsed``), that tables belong to the categories named,
    and that identifying data (``email-opt-in``, ``forums``, ``ora``, and the ``database`` tables
    ``auth_user``, ``auth_userprofile``, ``certificates_generatedcertificate``,
    ``wiki_articlerevision``) is only granted to a researcher with ``identifiable = true``.

    ``events`` for some courses grants those courses' per-course event files
    (``events-by-course/``) only; with ``"*"`` among the courses, also the orgs' daily logs
    (``events/``). See ``docs/researchers.md``.
    """

    orgs: tuple[OrgId, ...] = Field(min_length=1)
    courses: tuple[CourseGlob, ...] = ("*",)
    sites: tuple[Site, ...] = ("edx", "edge")
    categories: tuple[GrantCategory, ...] = Field(min_length=1)
    # database / ora only: the tables granted; all tables of those categories when absent.
    tables: tuple[TableName, ...] | None = Field(default=None, min_length=1)
    # The data's own date (an event log's day, a weekly export's date), both days included.
    date_from: ConfigDate | None = None
    date_to: ConfigDate | None = None

    @model_validator(mode="after")
    def _range_in_order(self) -> ResearcherScope:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(
                f"date_from {self.date_from} is after date_to {self.date_to}. Fix: swap them"
            )
        return self


class ResearcherConfig(StrictConfigModel):
    """One researcher's approved access (enforced by the access stack).

    ``principal`` is who may assume the researcher's role: an IAM user or role (in this or
    another account; ``external_id`` and ``mfa`` then apply), or a SAML or OIDC identity
    provider, in which case ``subject`` names the one federated user (required for OIDC, where
    any holder of a token from the provider could otherwise assume the role; recommended for
    SAML). ``expires`` is the first day without access (UTC), normally the approval's end.
    ``identifiable`` must be true for any identifying data (see :class:`ResearcherScope`).
    """

    name: Annotated[
        str,
        matching(
            _RESEARCHER_NAME,
            "a researcher name",
            "use 3-42 lower-case letters, digits or '-', e.g. 'jdoe-irb-2026-114'",
        ),
    ]
    principal: str
    external_id: (
        Annotated[
            str,
            matching(
                _EXTERNAL_ID,
                "an STS external id",
                "use 2-1224 letters, digits or any of _+=,.@:/-",
            ),
        ]
        | None
    ) = None
    subject: str | None = Field(default=None, min_length=1, max_length=255)
    mfa: bool = False
    identifiable: bool = False
    expires: ConfigDate
    scopes: tuple[ResearcherScope, ...] = Field(min_length=1)

    @field_validator("principal")
    @classmethod
    def _principal_is_arn(cls, value: str) -> str:
        if IAM_PRINCIPAL_ARN.fullmatch(value) or _FEDERATED_PRINCIPAL_ARN.fullmatch(value):
            return value
        raise ValueError(
            f"{value!r} is not an IAM user, role, SAML or OIDC provider ARN. Fix: write it as "
            "arn:aws:iam::123456789012:role/Name (or user/Name, saml-provider/Name, "
            "oidc-provider/host/path)"
        )
