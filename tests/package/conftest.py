"""The zips and names the package tests parse: one org's export of 2024-01-07.

Cases follow ../shared/edx-data-package.md; every accepted name is checked field by field and
by its institutional key, and every rejection by the kind of error and what its message says.
"""

from __future__ import annotations

import datetime as dt

import pytest

from edx_vault.package.member_names import PackageMember, parse_member_name
from edx_vault.package.source_keys import SourceObject, parse_source_key

DAY = dt.date(2024, 1, 7)
EVENTS = "edx-course-data"
DATABASE = "course-data"
FOLDER = "mitx-2024-01-07"


@pytest.fixture
def weekly_zip() -> SourceObject:
    return parse_source_key(DATABASE, "mitx-2024-01-07.zip")


@pytest.fixture
def opt_in_zip() -> SourceObject:
    return parse_source_key(DATABASE, "email-opt-in/mitx-2024-01-07.zip")


def member(source: SourceObject, name: str) -> PackageMember:
    return parse_member_name(source, name)
