"""A deployment configuration with one researcher of each kind, for the access tests.

``TODAY`` is the synth date the tests pass to ``build_vault_app``, so which grants are expired
does not depend on when the tests run.
"""

from __future__ import annotations

import datetime as dt
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

GRANTS_TOML: Final = f"""
[deployment]
account = "{ACCOUNT}"
region = "{REGION}"
admin_role_arns = ["{ADMIN_ROLE}"]

[edx]
backfill_from = 2024-01-01

[[edx.orgs]]
id = "ExampleX"
aliases = ["ExampleXPRO"]

[[edx.orgs]]
id = "OtherU"

# Course-limited, de-identified, with dates; an IAM user in another account with an
# external id and MFA (a role's sessions never carry MFA, so mfa is refused for roles).
[[researchers]]
name = "ann-course"
principal = "{ANN_CALLER}"
external_id = "{ANN_EXTERNAL_ID}"
mfa = true
expires = 2027-01-01

[[researchers.scopes]]
orgs = ["ExampleX"]
courses = ["ExampleX-CS101-*"]
sites = ["edx"]
categories = ["database", "course-structure"]
tables = ["student_courseenrollment", "courseware_studentmodule"]
date_from = 2025-01-01
date_to = 2025-06-30

[[researchers.scopes]]
orgs = ["ExampleX"]
courses = ["*"]
sites = ["edx", "edge"]
categories = ["events"]
date_from = 2025-03-01
date_to = 2025-03-31

# Identifiable, whole org; SAML federation pinned to one subject.
[[researchers]]
name = "ben-identified"
principal = "{SAML_PROVIDER}"
subject = "ben@example.edu"
identifiable = true
expires = 2027-01-01

[[researchers.scopes]]
orgs = ["OtherU"]
categories = ["email-opt-in", "forums", "database"]

# One ORA table of one course of the alias org, on edge; OIDC federation.
[[researchers]]
name = "cat-oidc"
principal = "{OIDC_PROVIDER}"
subject = "f:1234:cat"
identifiable = true
expires = 2026-06-30

[[researchers.scopes]]
orgs = ["ExampleXPRO"]
courses = ["ExampleXPRO-DS1-2025"]
sites = ["edge"]
categories = ["ora"]
tables = ["submissions_submission"]

# Expired before TODAY: must not block the synth, and must read nothing.
[[researchers]]
name = "dan-expired"
principal = "{DAN_USER}"
expires = 2025-12-31

[[researchers.scopes]]
orgs = ["ExampleX"]
categories = ["events"]
"""


def write_grants_config(directory: Path, text: str = GRANTS_TOML) -> Path:
    """Write a configuration file and return its path."""
    path = directory / "vault.toml"
    path.write_text(text, encoding="utf-8")
    return path
