"""The environment the pipeline's Lambda functions run with.

The pipeline stack sets these variables from the validated configuration and the storage stack's
resources; the handlers read them once with :meth:`PipelineSettings.from_environment`. Domain code
never reads the environment itself: it receives a :class:`PipelineSettings`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, TypeVar, get_args

from edx_vault.settings.types import MirrorCategory, Site

DATA_BUCKET: Final = "EDX_VAULT_DATA_BUCKET"
DATA_KEY_ARN: Final = "EDX_VAULT_DATA_KEY_ARN"
MANIFEST_TABLE: Final = "EDX_VAULT_MANIFEST_TABLE"
EDX_CREDENTIALS_SECRET_ARN: Final = "EDX_VAULT_EDX_CREDENTIALS_SECRET_ARN"
PIPELINE_KEY_SECRET_ARN: Final = "EDX_VAULT_PIPELINE_KEY_SECRET_ARN"
PIPELINE_PASSPHRASE_SECRET_ARN: Final = "EDX_VAULT_PIPELINE_PASSPHRASE_SECRET_ARN"
PSEUDONYM_KEY_SECRET_ARN: Final = "EDX_VAULT_PSEUDONYM_KEY_SECRET_ARN"
ALERTS_TOPIC_ARN: Final = "EDX_VAULT_ALERTS_TOPIC_ARN"
ORG_GROUPS: Final = "EDX_VAULT_ORG_GROUPS"
SITES: Final = "EDX_VAULT_SITES"
CATEGORIES: Final = "EDX_VAULT_CATEGORIES"
BACKFILL_FROM: Final = "EDX_VAULT_BACKFILL_FROM"
EVENT_BUCKET: Final = "EDX_VAULT_EDX_EVENT_BUCKET"
DATABASE_BUCKET: Final = "EDX_VAULT_EDX_DATABASE_BUCKET"
SYNC_STATE_MACHINE_ARN: Final = "EDX_VAULT_SYNC_STATE_MACHINE_ARN"
# The Report step's read audit: where the data bucket's access logs are, and who is expected
# in them (edx_vault.package.access_log_readers.KnownPrincipals, as JSON).
ACCESS_LOGS_BUCKET: Final = "EDX_VAULT_ACCESS_LOGS_BUCKET"
ACCESS_LOG_PREFIX: Final = "EDX_VAULT_ACCESS_LOG_PREFIX"
AUDIT_PRINCIPALS: Final = "EDX_VAULT_AUDIT_PRINCIPALS"
# The UpdateCatalog step: the research catalog's Glue database (its tables of SELECT * .sql
# tables are the step's to create and update).
GLUE_DATABASE: Final = "EDX_VAULT_GLUE_DATABASE"
METRICS_NAMESPACE: Final = "EdxVault"
# The Report step's count of event-log lines that are not JSON events (filed under
# course=_unparsed by the split), and the alarm on it (stacks/monitoring.py).
UNPARSED_LINES_METRIC: Final = "UnparsedEventLines"
# The read audit's count of principals outside the vault that read or wrote data, and its alarm.
UNEXPECTED_READERS_METRIC: Final = "UnexpectedReaders"


@dataclass(frozen=True)
class PipelineSettings:
    """What a handler needs to know; every field may be absent for functions that need less."""

    data_bucket: str
    data_key_arn: str
    manifest_table: str
    edx_credentials_secret_arn: str = ""
    pipeline_key_secret_arn: str = ""
    pipeline_passphrase_secret_arn: str = ""
    pseudonym_key_secret_arn: str = ""
    alerts_topic_arn: str = ""
    org_groups: tuple[tuple[str, ...], ...] = ()
    sites: tuple[Site, ...] = ()
    categories: tuple[MirrorCategory, ...] = ()
    backfill_from: dt.date | None = None
    event_bucket: str = ""
    database_bucket: str = ""
    sync_state_machine_arn: str = ""
    access_logs_bucket: str = ""
    access_log_prefix: str = ""
    audit_principals: str = ""
    glue_database: str = ""

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> PipelineSettings:
        """Parse the variables the stack set; a missing required one is a deployment bug."""
        backfill = environment.get(BACKFILL_FROM)
        return cls(
            data_bucket=environment[DATA_BUCKET],
            data_key_arn=environment[DATA_KEY_ARN],
            manifest_table=environment[MANIFEST_TABLE],
            edx_credentials_secret_arn=environment.get(EDX_CREDENTIALS_SECRET_ARN, ""),
            pipeline_key_secret_arn=environment.get(PIPELINE_KEY_SECRET_ARN, ""),
            pipeline_passphrase_secret_arn=environment.get(PIPELINE_PASSPHRASE_SECRET_ARN, ""),
            pseudonym_key_secret_arn=environment.get(PSEUDONYM_KEY_SECRET_ARN, ""),
            alerts_topic_arn=environment.get(ALERTS_TOPIC_ARN, ""),
            org_groups=tuple(
                tuple(group) for group in json.loads(environment.get(ORG_GROUPS, "[]"))
            ),
            sites=_literals(environment.get(SITES, "[]"), get_args(Site)),
            categories=_literals(environment.get(CATEGORIES, "[]"), get_args(MirrorCategory)),
            backfill_from=dt.date.fromisoformat(backfill) if backfill else None,
            event_bucket=environment.get(EVENT_BUCKET, ""),
            database_bucket=environment.get(DATABASE_BUCKET, ""),
            sync_state_machine_arn=environment.get(SYNC_STATE_MACHINE_ARN, ""),
            access_logs_bucket=environment.get(ACCESS_LOGS_BUCKET, ""),
            access_log_prefix=environment.get(ACCESS_LOG_PREFIX, ""),
            audit_principals=environment.get(AUDIT_PRINCIPALS, ""),
            glue_database=environment.get(GLUE_DATABASE, ""),
        )


_Literal = TypeVar("_Literal", bound=str)


def _literals(encoded: str, allowed: tuple[_Literal, ...]) -> tuple[_Literal, ...]:
    values = json.loads(encoded)
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise ValueError(f"unknown values {unknown} (allowed: {allowed})")
    return tuple(value for value in allowed if value in values)
