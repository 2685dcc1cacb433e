"""The deployment configuration: one TOML file, validated into a typed, immutable object.

The CDK app validates it at synth time and the CLI reads the same file, so a mistake is caught
before anything is deployed. Every rejection names the field and says how to fix it; callers
print :class:`ConfigError` as it is, never a stack trace.

This module holds the file's sections and the loading; the ``[[researchers]]`` are
:mod:`edx_vault.settings.config_researchers`, the self-checking value types both use
:mod:`edx_vault.settings.config_fields`. For the CDK app and the CLI: Lambda code never imports
them (it reads :mod:`edx_vault.settings.pipeline_settings` instead).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from edx_vault.settings.config_fields import (
    BucketName,
    ConfigDate,
    IamPrincipalArn,
    OrgId,
    StrictConfigModel,
    matching,
)
from edx_vault.settings.config_researchers import ResearcherConfig
from edx_vault.settings.resource_names import (
    BUCKET_NAME_MAX_LENGTH,
    data_bucket_name,
    query_results_bucket_name,
    resource_prefix,
)
from edx_vault.settings.schedule_expression import (
    ScheduleExpressionError,
    validate_schedule_expression,
)
from edx_vault.settings.types import MirrorCategory, Site
from edx_vault.settings.validation_messages import field_path, root_causes

DEFAULT_EVENT_BUCKET = "edx-course-data"
DEFAULT_DATABASE_BUCKET = "course-data"

_ACCOUNT_ID: Final = re.compile(r"^\d{12}$")
_REGION: Final = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_STACK_PREFIX: Final = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,31}$")
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ConfigError(Exception):
    """A configuration file that cannot be used, with one line per problem."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{self.path}: the configuration is not valid:\n{listing}")


class DeploymentConfig(StrictConfigModel):
    account: Annotated[
        str, matching(_ACCOUNT_ID, "an AWS account id", "use the 12-digit account number")
    ]
    region: Annotated[
        str, matching(_REGION, "an AWS region", "use a region code such as 'us-east-1'")
    ]
    stack_prefix: Annotated[
        str,
        matching(
            _STACK_PREFIX,
            "a stack name prefix",
            "start with a letter, then up to 31 letters or digits, e.g. 'EdxVault'",
        ),
    ] = "EdxVault"
    admin_role_arns: tuple[IamPrincipalArn, ...] = ()

    @field_validator("stack_prefix")
    @classmethod
    def _bucket_names_fit(cls, value: str, info: ValidationInfo) -> str:
        # The data and query results buckets are named from the prefix, the account and the
        # region (spelled in edx_vault.settings.resource_names); S3 refuses names over 63
        # characters at deploy time, after CloudFormation has started. (Account and region are
        # absent here when they failed their own checks, which report them.)
        account, region = info.data.get("account"), info.data.get("region")
        if account is None or region is None:
            return value
        prefix = resource_prefix(value)
        for name, spelling in (
            (data_bucket_name(prefix, account, region), "data"),
            (query_results_bucket_name(prefix, account, region), "query results"),
        ):
            if len(name) > BUCKET_NAME_MAX_LENGTH:
                longest = BUCKET_NAME_MAX_LENGTH - (len(name) - len(value))
                layout = name.replace(prefix, "{prefix}", 1).replace(account, "{account}")
                layout = layout.replace(region, "{region}")
                raise ValueError(
                    f"the {spelling} bucket's name {name!r} ({layout}) would "
                    f"be {len(name)} characters, and S3 bucket names are at most "
                    f"{BUCKET_NAME_MAX_LENGTH}. Fix: use a stack_prefix of at most {longest} "
                    f"characters in {region}"
                )
        return value


class OrgConfig(StrictConfigModel):
    id: OrgId
    aliases: tuple[OrgId, ...] = ()

    @property
    def all_ids(self) -> tuple[str, ...]:
        """The primary id and its aliases, lower-cased as edX spells them in S3 keys."""
        return tuple(dict.fromkeys(org.lower() for org in (self.id, *self.aliases)))


class SourceBuckets(StrictConfigModel):
    events: BucketName = DEFAULT_EVENT_BUCKET
    database: BucketName = DEFAULT_DATABASE_BUCKET


class EdxConfig(StrictConfigModel):
    orgs: tuple[OrgConfig, ...] = Field(min_length=1)
    sites: tuple[Site, ...] = ("edx", "edge")
    source_buckets: SourceBuckets = SourceBuckets()
    categories: tuple[MirrorCategory, ...] = ("events", "database", "email-opt-in")
    backfill_from: ConfigDate

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


class ScheduleConfig(StrictConfigModel):
    # Sundays 06:00 UTC: edX's weekly exports are dated Sundays.
    expression: Annotated[str, AfterValidator(_validate_schedule)] = "cron(0 6 ? * SUN *)"
    timezone: str = "UTC"
    max_concurrency: int = Field(default=8, ge=1, le=1000)
    no_new_data_alarm_days: int = Field(default=9, ge=1, le=90)


class AlertsConfig(StrictConfigModel):
    email: (
        Annotated[
            str,
            matching(_EMAIL, "an email address", "use the address of the team watching the vault"),
        ]
        | None
    ) = None


# Athena's BytesScannedCutoffPerQuery: "Minimum: 10000000" bytes (AWS::Athena::WorkGroup
# WorkGroupConfiguration, CloudFormation User Guide); it is also Athena's 10 MB billing minimum.
# Megabytes here are Athena's billing unit, 10**6 bytes.
BYTES_PER_MB: Final = 1_000_000
MIN_BYTES_SCANNED_CUTOFF_MB: Final = 10


def _cutoff_at_least_athena_minimum(value: int) -> int:
    if value < MIN_BYTES_SCANNED_CUTOFF_MB:
        raise ValueError(
            f"{value} MB is below Athena's smallest per-query cutoff, "
            f"{MIN_BYTES_SCANNED_CUTOFF_MB} MB. Fix: use at least {MIN_BYTES_SCANNED_CUTOFF_MB} "
            "(the default, 10000, stops a query at 10 GB scanned)"
        )
    return value


def _expiry_in_range(value: int) -> int:
    if not 1 <= value <= 3650:
        raise ValueError(
            f"{value} days is not a query result lifetime. Fix: use 1 to 3650 days "
            "(the default is 30)"
        )
    return value


class ResearchConfig(StrictConfigModel):
    """Researchers' SQL: each grant's Athena workgroup and the results it writes.

    ``bytes_scanned_cutoff_mb`` cancels a query once it has scanned that many megabytes
    (10**6 bytes, Athena's billing unit), so a query that names no partition fails early
    instead of arriving on the bill. ``results_expire_days`` is how long query results stay in
    the results bucket.
    """

    bytes_scanned_cutoff_mb: Annotated[int, AfterValidator(_cutoff_at_least_athena_minimum)] = (
        10_000
    )
    results_expire_days: Annotated[int, AfterValidator(_expiry_in_range)] = 30

    @property
    def bytes_scanned_cutoff(self) -> int:
        """The cutoff in bytes, as Athena's ``BytesScannedCutoffPerQuery`` takes it."""
        return self.bytes_scanned_cutoff_mb * BYTES_PER_MB


class VaultConfig(StrictConfigModel):
    """The whole deployment configuration."""

    deployment: DeploymentConfig
    edx: EdxConfig
    schedule: ScheduleConfig = ScheduleConfig()
    alerts: AlertsConfig = AlertsConfig()
    research: ResearchConfig = ResearchConfig()
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


def _describe(error: ErrorDetails) -> str:
    """One line for one pydantic error: where, what, and how to fix it."""
    where = field_path(error["loc"]) or "(top level)"
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
        raise ConfigError(
            source, [_describe(item) for item in root_causes(error.errors())]
        ) from None


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
