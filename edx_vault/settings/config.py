"""The deployment configuration: one TOML file, validated into a typed, immutable object.

The CDK app validates it at synth time and the CLI reads the same file, so a mistake is caught
before anything is deployed. Every rejection names the field and says how to fix it; callers
print :class:`ConfigError` as it is, never a stack trace.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from edx_vault.settings.resource_names import (
    BUCKET_NAME_MAX_LENGTH,
    data_bucket_name,
    resource_prefix,
)
from edx_vault.settings.schedule_expression import (
    ScheduleExpressionError,
    validate_schedule_expression,
)
from edx_vault.settings.types import GrantCategory, MirrorCategory, Site

DEFAULT_EVENT_BUCKET = "edx-course-data"
DEFAULT_DATABASE_BUCKET = "course-data"

_ORG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]{0,63}$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_STACK_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,31}$")
# S3 bucket naming rules, minus the rarely used dotted forms that break TLS virtual hosting.
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_IAM_PRINCIPAL_ARN = re.compile(
    r"^arn:aws(-us-gov|-cn)?:iam::\d{12}:(user|role)(/[\w+=,.@-]+)*/[\w+=,.@-]{1,128}$"
)
_FEDERATED_PRINCIPAL_ARN = re.compile(
    r"^arn:aws(-us-gov|-cn)?:iam::\d{12}:(saml-provider/[\w.-]{1,128}|oidc-provider/[\w./:-]{1,255})$"
)
_RESEARCHER_NAME = re.compile(r"^[a-z][a-z0-9-]{1,40}[a-z0-9]$")
_COURSE_PATTERN = re.compile(r"^[\w.+:*?\[\]-]{1,255}$")
# What STS accepts as an external id.
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,127}$")


class ConfigError(Exception):
    """A configuration file that cannot be used, with one line per problem."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{self.path}: the configuration is not valid:\n{listing}")


def _check(pattern: re.Pattern[str], what: str, fix: str) -> AfterValidator:
    def validate(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}. Fix: {fix}")
        return value

    return AfterValidator(validate)


OrgId = Annotated[
    str,
    _check(
        _ORG_ID,
        "an edX org id",
        "use the org id exactly as edX spells it (letters, digits, '_' or '.'), e.g. 'MITx'",
    ),
]
BucketName = Annotated[
    str,
    _check(_BUCKET_NAME, "an S3 bucket name", "use 3-63 lower-case letters, digits or '-'"),
]
IamPrincipalArn = Annotated[
    str,
    _check(
        _IAM_PRINCIPAL_ARN,
        "an IAM user or role ARN",
        "write it as arn:aws:iam::123456789012:role/Name or arn:aws:iam::123456789012:user/Name",
    ),
]


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt key must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class DeploymentConfig(_Strict):
    account: Annotated[
        str, _check(_ACCOUNT_ID, "an AWS account id", "use the 12-digit account number")
    ]
    region: Annotated[
        str, _check(_REGION, "an AWS region", "use a region code such as 'us-east-1'")
    ]
    stack_prefix: Annotated[
        str,
        _check(
            _STACK_PREFIX,
            "a stack name prefix",
            "start with a letter, then up to 31 letters or digits, e.g. 'EdxVault'",
        ),
    ] = "EdxVault"
    admin_role_arns: tuple[IamPrincipalArn, ...] = ()

    @field_validator("stack_prefix")
    @classmethod
    def _data_bucket_name_fits(cls, value: str, info: ValidationInfo) -> str:
        # The data bucket is named from the prefix, the account and the region (spelled in
        # edx_vault.settings.resource_names); S3 refuses names over 63 characters at deploy time, after
        # CloudFormation has started. (Account and region are absent here when they failed
        # their own checks, which report them.)
        account, region = info.data.get("account"), info.data.get("region")
        if account is None or region is None:
            return value
        name = data_bucket_name(resource_prefix(value), account, region)
        if len(name) > BUCKET_NAME_MAX_LENGTH:
            longest = BUCKET_NAME_MAX_LENGTH - (len(name) - len(value))
            raise ValueError(
                f"the data bucket's name {name!r} ({{prefix}}-data-{{account}}-{{region}}) would "
                f"be {len(name)} characters, and S3 bucket names are at most "
                f"{BUCKET_NAME_MAX_LENGTH}. Fix: use a stack_prefix of at most {longest} "
                f"characters in {region}"
            )
        return value


class OrgConfig(_Strict):
    id: OrgId
    aliases: tuple[OrgId, ...] = ()

    @property
    def all_ids(self) -> tuple[str, ...]:
        """The primary id and its aliases, lower-cased as edX spells them in S3 keys."""
        return tuple(dict.fromkeys(org.lower() for org in (self.id, *self.aliases)))


class SourceBuckets(_Strict):
    events: BucketName = DEFAULT_EVENT_BUCKET
    database: BucketName = DEFAULT_DATABASE_BUCKET


class EdxConfig(_Strict):
    orgs: tuple[OrgConfig, ...] = Field(min_length=1)
    sites: tuple[Site, ...] = ("edx", "edge")
    source_buckets: SourceBuckets = SourceBuckets()
    categories: tuple[MirrorCategory, ...] = ("events", "database", "email-opt-in")
    backfill_from: dt.date

    @field_validator("backfill_from", mode="before")
    @classmethod
    def _date_only(cls, value: Any) -> Any:
        return _require_date(value)

    @field_validator("backfill_from")
    @classmethod
    def _not_in_future(cls, value: dt.date) -> dt.date:
        if value > dt.datetime.now(dt.UTC).date():
            raise ValueError(f"{value} is in the future. Fix: use the first day edX has data for")
        return value

    @model_validator(mode="after")
    def _org_ids_unique(self) -> EdxConfig:
        seen: set[str] = set()
        for org in self.orgs:
            for org_id in org.all_ids:
                if org_id in seen:
                    raise ValueError(
                        f"org id {org_id!r} is listed twice (org ids are case-insensitive). "
                        "Fix: list each org id once, as an id or as one org's alias"
                    )
                seen.add(org_id)
        return self

    @property
    def org_ids(self) -> tuple[str, ...]:
        """Every configured org id and alias, lower-cased."""
        return tuple(org_id for org in self.orgs for org_id in org.all_ids)


def _validate_schedule(value: str) -> str:
    try:
        validate_schedule_expression(value)
    except ScheduleExpressionError as error:
        raise ValueError(str(error)) from None
    return value


class ScheduleConfig(_Strict):
    # Sundays 06:00 UTC: edX's weekly exports are dated Sundays.
    expression: Annotated[str, AfterValidator(_validate_schedule)] = "cron(0 6 ? * SUN *)"
    timezone: str = "UTC"
    max_concurrency: int = Field(default=8, ge=1, le=1000)
    no_new_data_alarm_days: int = Field(default=9, ge=1, le=90)


class AlertsConfig(_Strict):
    email: (
        Annotated[
            str,
            _check(_EMAIL, "an email address", "use the address of the team watching the vault"),
        ]
        | None
    ) = None


class ResearcherScope(_Strict):
    """One slice of an approval: orgs x courses x sites x categories, optionally tables and dates.

    The access stack (``edx_vault/access/grants.py``) checks what pydantic cannot: that the orgs are
    configured, that ``events`` and ``email-opt-in`` (files holding every course of an org) come
    with ``courses = ["*"]``, that tables belong to the categories named, and that identifying
    data (``email-opt-in``, ``forums``, ``ora``, and the ``database`` tables ``auth_user``,
    ``auth_userprofile``, ``certificates_generatedcertificate``, ``wiki_articlerevision``) is only
    granted to a researcher with ``identifiable = true``. See ``docs/researchers.md``.
    """

    orgs: tuple[OrgId, ...] = Field(min_length=1)
    courses: tuple[
        Annotated[
            str,
            _check(
                _COURSE_PATTERN,
                "a course id or glob",
                "use the course as 'MITx-6.002x-2012_Fall', or a glob such as 'MITx-6.*'",
            ),
        ],
        ...,
    ] = ("*",)
    sites: tuple[Site, ...] = ("edx", "edge")
    categories: tuple[GrantCategory, ...] = Field(min_length=1)
    # database / ora only: the tables granted; all tables of those categories when absent.
    tables: (
        tuple[
            Annotated[
                str,
                _check(
                    _TABLE_NAME,
                    "a table name",
                    "use the table as edX names it, e.g. 'student_courseenrollment'",
                ),
            ],
            ...,
        ]
        | None
    ) = Field(default=None, min_length=1)
    # The data's own date (an event log's day, a weekly export's date), both days included.
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @field_validator("date_from", "date_to", mode="before")
    @classmethod
    def _date_only(cls, value: Any) -> Any:
        return None if value is None else _require_date(value)

    @model_validator(mode="after")
    def _range_in_order(self) -> ResearcherScope:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(
                f"date_from {self.date_from} is after date_to {self.date_to}. Fix: swap them"
            )
        return self


class ResearcherConfig(_Strict):
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
        _check(
            _RESEARCHER_NAME,
            "a researcher name",
            "use 3-42 lower-case letters, digits or '-', e.g. 'jdoe-irb-2026-114'",
        ),
    ]
    principal: str
    external_id: (
        Annotated[
            str,
            _check(
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
    expires: dt.date
    scopes: tuple[ResearcherScope, ...] = Field(min_length=1)

    @field_validator("expires", mode="before")
    @classmethod
    def _date_only(cls, value: Any) -> Any:
        return _require_date(value)

    @field_validator("principal")
    @classmethod
    def _principal_is_arn(cls, value: str) -> str:
        if _IAM_PRINCIPAL_ARN.fullmatch(value) or _FEDERATED_PRINCIPAL_ARN.fullmatch(value):
            return value
        raise ValueError(
            f"{value!r} is not an IAM user, role, SAML or OIDC provider ARN. Fix: write it as "
            "arn:aws:iam::123456789012:role/Name (or user/Name, saml-provider/Name, "
            "oidc-provider/host/path)"
        )


class VaultConfig(_Strict):
    """The whole deployment configuration."""

    deployment: DeploymentConfig
    edx: EdxConfig
    schedule: ScheduleConfig = ScheduleConfig()
    alerts: AlertsConfig = AlertsConfig()
    researchers: tuple[ResearcherConfig, ...] = ()

    @model_validator(mode="after")
    def _researcher_names_unique(self) -> VaultConfig:
        names = [researcher.name for researcher in self.researchers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(
                f"researcher names {duplicates} are used twice. Fix: give each grant its own name"
            )
        return self


def _require_date(value: Any) -> Any:
    """Accept a TOML date or a 'YYYY-MM-DD' string; reject datetimes and other spellings."""
    if isinstance(value, dt.datetime):
        raise ValueError(f"{value} has a time of day. Fix: write a date only, as YYYY-MM-DD")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value) if len(value) == 10 else _bad_date(value)
        except ValueError:
            _bad_date(value)
    return _bad_date(value)


def _bad_date(value: Any) -> Any:
    raise ValueError(f"{value!r} is not a date. Fix: write it as YYYY-MM-DD, e.g. 2024-01-31")


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{part}]"]
        else:
            parts.append(part)
    return ".".join(parts) or "(top level)"


def _describe(error: Any) -> str:
    """One line for one pydantic error: where, what, and how to fix it."""
    where = _location(tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key. Fix: remove it or check its spelling against the example"
    if kind == "missing":
        return f"{where}: required but missing. Fix: add it (see config/example.toml)"
    if kind == "literal_error":
        allowed = error.get("ctx", {}).get("expected", "")
        return f"{where}: {error['input']!r} is not allowed. Fix: use one of {allowed}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def parse_config(document: dict[str, Any], *, source: Path | str = "<config>") -> VaultConfig:
    """Validate an already-parsed document.

    Raises
    ------
    ConfigError
        With one line per problem, each naming the field and the fix.
    """
    try:
        return VaultConfig.model_validate(document)
    except ValidationError as error:
        errors = error.errors()
        failed_locations = [tuple(item["loc"]) for item in errors]
        # A list whose only item failed also reports "too short": that line would only confuse.
        relevant = [
            item
            for item in errors
            if not (
                item["type"] == "too_short"
                and any(
                    loc[: len(item["loc"])] == tuple(item["loc"]) and len(loc) > len(item["loc"])
                    for loc in failed_locations
                )
            )
        ]
        raise ConfigError(source, [_describe(item) for item in relevant]) from None


def load_config(path: Path | str) -> VaultConfig:
    """Read and validate a TOML configuration file.

    Raises
    ------
    ConfigError
        If the file is missing, is not TOML, or does not validate.
    """
    config_path = Path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            config_path, [f"cannot read the file ({error.strerror}). Fix: check the path"]
        ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(config_path, [f"not valid TOML: {error}"]) from None
    return parse_config(document, source=config_path)
