"""The building blocks of the configuration models: strict models and self-checking values.

Every value type here rejects a bad value with one sentence that quotes it and says how to fix
it (``'Bad Org!' is not an edX org id. Fix: ...``); :mod:`edx_vault.settings.config` adds where.
Shared by the whole file's models (:mod:`edx_vault.settings.config`) and the researchers'
(:mod:`edx_vault.settings.config_researchers`). For the CDK app and the CLI, never Lambda.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

_ORG_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]{0,63}$")
# S3 bucket naming rules, minus the rarely used dotted forms that break TLS virtual hosting.
_BUCKET_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
IAM_PRINCIPAL_ARN: Final = re.compile(
    r"^arn:aws(-us-gov|-cn)?:iam::\d{12}:(user|role)(/[\w+=,.@-]+)*/[\w+=,.@-]{1,128}$"
)


class StrictConfigModel(BaseModel):
    """Unknown keys are errors: a misspelt key must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def matching(pattern: re.Pattern[str], what: str, fix: str) -> AfterValidator:
    """A check that a string matches ``pattern``; else "'value' is not ``what``. Fix: ``fix``"."""

    def validate(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}. Fix: {fix}")
        return value

    return AfterValidator(validate)


def _require_date(value: Any) -> Any:
    """Accept a TOML date or a 'YYYY-MM-DD' string; reject datetimes and other spellings."""
    if isinstance(value, dt.datetime):
        raise ValueError(f"{value} has a time of day. Fix: write a date only, as YYYY-MM-DD")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a date. Fix: write it as YYYY-MM-DD, e.g. 2024-01-31")


ConfigDate = Annotated[dt.date, BeforeValidator(_require_date)]
"""A day: a TOML date or ``"YYYY-MM-DD"``, never a datetime or another spelling."""

OrgId = Annotated[
    str,
    matching(
        _ORG_ID,
        "an edX org id",
        "use the org id exactly as edX spells it (letters, digits, '_' or '.'), e.g. 'MITx'",
    ),
]
BucketName = Annotated[
    str,
    matching(_BUCKET_NAME, "an S3 bucket name", "use 3-63 lower-case letters, digits or '-'"),
]
IamPrincipalArn = Annotated[
    str,
    matching(
        IAM_PRINCIPAL_ARN,
        "an IAM user or role ARN",
        "write it as arn:aws:iam::123456789012:role/Name or arn:aws:iam::123456789012:user/Name",
    ),
]
