"""A deployment configuration with one researcher of each kind, for the access tests, and the
TOML spelling of researcher entries for tests that need other ones.

``TODAY`` is the synth date the tests pass to ``build_vault_app``, so which grants are expired
does not depend on when the tests run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"
TODAY: Final = dt.date(2026, 1, 15)
# During every active grant.
NOW: Final = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
BUCKET: Final = f"edxvault-data-{ACCOUNT}-{REGION}"
ADMIN_ROLE: Final = f"arn:aws:iam::{ACCOUNT}:role/DataCzar"

ANN_CALLER: Final = "arn:aws:iam::210987654321:user/ann"
ANN_EXTERNAL_ID: Final = "irb-2025-007"
SAML_PROVIDER: Final = f"arn:aws:iam::{ACCOUNT}:saml-provider/Shibboleth"
OIDC_PROVIDER: Final = f"arn:aws:iam::{ACCOUNT}:oidc-provider/login.example.edu/realms/research"
DAN_USER: Final = f"arn:aws:iam::{ACCOUNT}:user/dan"

TomlValue = str | bool | dt.date | Sequence[str]


def _toml_value(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(json.dumps(item) for item in value) + "]"


def toml_table(header: str, **fields: TomlValue) -> str:
    """One TOML table, ``header`` being ``[name]`` or ``[[name]]``, its fields in order."""
    lines = [f"{name} = {_toml_value(value)}" for name, value in fields.items()]
    return "\n".join(["", header, *lines, ""])


def deployment_toml(orgs: Mapping[str, Sequence[str]], **deployment: TomlValue) -> str:
    """The ``[deployment]`` and ``[edx]`` tables for ``orgs`` (org id -> its aliases)."""
    org_tables = [
        toml_table("[[edx.orgs]]", id=org, **({"aliases": aliases} if aliases else {}))
        for org, aliases in orgs.items()
    ]
    return "".join(
        [
            toml_table("[deployment]", account=ACCOUNT, region=REGION, **deployment),
            toml_table("[edx]", backfill_from=dt.date(2024, 1, 1)),
            *org_tables,
        ]
    )


def researcher_toml(*, scopes: Sequence[Mapping[str, TomlValue]], **fields: TomlValue) -> str:
    """One ``[[researchers]]`` entry and its ``[[researchers.scopes]]``."""
    return toml_table("[[researchers]]", **fields) + "".join(
        toml_table("[[researchers.scopes]]", **scope) for scope in scopes
    )


GRANTS_TOML: Final = "".join(
    [
        deployment_toml({"ExampleX": ["ExampleXPRO"], "OtherU": []}, admin_role_arns=[ADMIN_ROLE]),
        # Course-limited, de-identified, with dates; an IAM user in another account with an
        # external id and MFA (a role's sessions never carry MFA, so mfa is refused for roles).
        researcher_toml(
            name="ann-course",
            principal=ANN_CALLER,
            external_id=ANN_EXTERNAL_ID,
            mfa=True,
            expires=dt.date(2027, 1, 1),
            scopes=[
                {
                    "orgs": ["ExampleX"],
                    "courses": ["ExampleX-CS101-*"],
                    "sites": ["edx"],
                    "categories": ["database", "course-structure"],
                    "tables": ["student_courseenrollment", "courseware_studentmodule"],
                    "date_from": dt.date(2025, 1, 1),
                    "date_to": dt.date(2025, 6, 30),
                },
                # Her courses' events only: their per-course files, never the org's logs.
                {
                    "orgs": ["ExampleX"],
                    "courses": ["ExampleX-CS101-*"],
                    "sites": ["edx", "edge"],
                    "categories": ["events"],
                    "date_from": dt.date(2025, 3, 1),
                    "date_to": dt.date(2025, 3, 31),
                },
            ],
        ),
        # Identifiable, whole org (its event logs and all their per-course files); SAML
        # federation pinned to one subject.
        researcher_toml(
            name="ben-identified",
            principal=SAML_PROVIDER,
            subject="ben@example.edu",
            identifiable=True,
            expires=dt.date(2027, 1, 1),
            scopes=[
                {"orgs": ["OtherU"], "categories": ["email-opt-in", "forums", "database", "events"]}
            ],
        ),
        # One ORA table of one course of the alias org, on edge; OIDC federation.
        researcher_toml(
            name="cat-oidc",
            principal=OIDC_PROVIDER,
            subject="f:1234:cat",
            identifiable=True,
            expires=dt.date(2026, 6, 30),
            scopes=[
                {
                    "orgs": ["ExampleXPRO"],
                    "courses": ["ExampleXPRO-DS1-2025"],
                    "sites": ["edge"],
                    "categories": ["ora"],
                    "tables": ["submissions_submission"],
                }
            ],
        ),
        # Expired before TODAY: must not block the synth, and must read nothing.
        researcher_toml(
            name="dan-expired",
            principal=DAN_USER,
            expires=dt.date(2025, 12, 31),
            scopes=[{"orgs": ["ExampleX"], "categories": ["events"]}],
        ),
    ]
)


def write_grants_config(directory: Path, text: str = GRANTS_TOML) -> Path:
    """Write a configuration file and return its path."""
    path = directory / "vault.toml"
    path.write_text(text, encoding="utf-8")
    return path
