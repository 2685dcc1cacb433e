"""Researcher grants from the configuration: what is refused at synth, and what is granted."""

from __future__ import annotations

import datetime as dt
import tomllib
from typing import Any

import pytest

from edx_vault.access.grants import compile_grants
from edx_vault.access.iam_wildcards import matches_glob
from edx_vault.access.readable_slices import IDENTIFYING_TABLES, is_identifying
from edx_vault.access.researcher_roles import (
    MANAGED_POLICIES_PER_ROLE,
    QUERY_POLICIES_PER_ROLE,
    role_output_name,
)
from edx_vault.devtools.research_recipes import listing_prefixes
from edx_vault.package import output_keys
from edx_vault.package.bucket_layout import NOT_COURSES
from edx_vault.package.identifying_data import identifying_key
from edx_vault.settings.config import ConfigError, parse_config
from tests.access.grant_config import GRANTS_TOML, TODAY


def document() -> dict[str, Any]:
    return tomllib.loads(GRANTS_TOML)


def researcher(document: dict[str, Any], name: str) -> dict[str, Any]:
    [entry] = [r for r in document["researchers"] if r["name"] == name]
    return entry


def problems(document: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        compile_grants(parse_config(document), today=TODAY, source="vault.toml")
    assert str(raised.value).startswith("vault.toml: the configuration is not valid")
    return raised.value.problems


def grant(document: dict[str, Any], name: str) -> Any:
    grants = compile_grants(parse_config(document), today=TODAY)
    return next(g for g in grants if g.name == name)


# --- refused at synth time, each with one line naming the field and the fix ----------------


def test_the_test_configuration_compiles() -> None:
    grants = compile_grants(parse_config(document()), today=TODAY)
    assert [g.name for g in grants] == ["ann-course", "ben-identified", "cat-oidc", "dan-expired"]
    assert [g.expired for g in grants] == [False, False, False, True]


def test_an_unknown_org_is_named() -> None:
    config = document()
    researcher(config, "ann-course")["scopes"][1]["orgs"] = ["ExampleX", "MITx"]
    [problem] = problems(config)
    assert problem.startswith("researchers[0].scopes[1].orgs[1]: 'MITx' is not a configured org id")
    assert "Fix: add it under [[edx.orgs]]" in problem


def test_an_unknown_category_is_named() -> None:
    # (pydantic's Literal check, reported by parse_config before grants are compiled)
    config = document()
    researcher(config, "ann-course")["scopes"][0]["categories"] = ["database", "grades"]
    with pytest.raises(ConfigError) as raised:
        parse_config(config)
    [problem] = raised.value.problems
    assert problem.startswith("researchers[0].scopes[0].categories[1]: 'grades' is not allowed")


def test_email_opt_in_reports_cannot_be_limited_to_courses() -> None:
    # Given a scope naming the email opt-in report (every course of an org) for some courses
    config = document()
    scope = researcher(config, "ben-identified")["scopes"][0]
    scope["courses"] = ["OtherU-X1-*"]
    scope["categories"] = ["email-opt-in"]
    # Then the synth stops: the report cannot be cut by course
    [problem] = problems(config)
    assert problem.startswith("researchers[1].scopes[0]: 'email-opt-in' files hold every course")
    assert "Fix: move 'email-opt-in' to a scope of its own with courses = ['*']" in problem


def test_events_may_be_limited_to_courses_and_then_read_only_their_per_course_files() -> None:
    # Given a scope naming events for some courses (refused while logs were org-wide only)
    config = document()
    scope = researcher(config, "ben-identified")["scopes"][0]
    scope["courses"] = ["OtherU-X1-*", "OtherU-Y2-2025"]
    scope["categories"] = ["events"]
    # When the grant is compiled
    ben = grant(config, "ben-identified")
    # Then it reads each course's folder of the split logs, and no org-wide log
    assert ben.key_patterns == (
        "events-by-course/org=otheru/site=*/course=OtherU-X1-*/*",
        "events-by-course/org=otheru/site=*/course=OtherU-Y2-2025/*",
    )
    assert ben.prefix_patterns == (
        "events-by-course/org=otheru/site=*/course=OtherU-X1-*",
        "events-by-course/org=otheru/site=*/course=OtherU-Y2-2025/*",
    )


@pytest.mark.parametrize(
    ("scope_index", "course", "matched"),
    [
        (1, "_*", ["_none", "_unparsed"]),
        (1, "*n*", ["_none", "_unparsed"]),
        (1, "?none", ["_none"]),
        (1, "_unparsed", ["_unparsed"]),
        (0, "*e", ["_none"]),  # a course glob also selects events, wherever it is written
    ],
)
def test_a_course_glob_that_matches_the_no_course_folders_is_refused(
    scope_index: int, course: str, matched: list[str]
) -> None:
    # Given a course glob (not "*") that IAM would also match against '_none' or '_unparsed',
    # the folders of events naming no course and of lines that are not events: the org's data
    config = document()
    researcher(config, "ann-course")["scopes"][scope_index]["courses"] = [
        "ExampleX-CS101-*",
        course,
    ]
    # Then the synth stops, naming the glob, what it matches, and the fix
    [problem] = problems(config)
    assert problem.startswith(
        f"researchers[0].scopes[{scope_index}].courses[1]: {course!r} also matches {matched}"
    )
    assert "Fix: start the glob with the course's org, e.g. 'ExampleX-*'" in problem


@pytest.mark.parametrize(
    ("categories", "tables", "named"),
    [
        (["email-opt-in"], None, "['email-opt-in']"),
        (["forums"], None, "['forums']"),
        (["ora"], ["submissions_score"], "['ora']"),
        (
            ["database"],
            ["student_courseenrollment", "user_id_map"],
            "['database'] (tables ['user_id_map'])",
        ),
    ],
)
def test_data_without_a_deidentified_copy_needs_identifiable(
    categories: list[str], tables: list[str] | None, named: str
) -> None:
    # Given a non-identifiable grant naming a category (or table) the tier has no copy of
    config = document()
    scope = researcher(config, "ann-course")["scopes"][0]
    scope["categories"] = categories
    scope["courses"] = ["*"]
    scope.pop("tables")
    if tables is not None:
        scope["tables"] = tables
    # Then the synth stops, naming it and the fix
    [problem] = problems(config)
    assert problem.startswith(f"researchers[0].scopes[0]: {named} have no de-identified copy")
    assert "Fix: set identifiable = true" in problem


def test_non_identifiable_tables_are_read_from_their_deidentified_copies() -> None:
    # Given ann (not identifiable), whose table scope names two tables
    ann = grant(document(), "ann-course")
    assert not ann.config.identifiable
    tables = [s for s in ann.slices if s.category == "database"]
    # Then she reads both, from the de-identified tier only
    assert {s.table for s in tables} == {"student_courseenrollment", "courseware_studentmodule"}
    assert {s.prefix for s in tables} == {"deidentified/database/"}


@pytest.mark.parametrize("tables", [None, ["auth_user", "auth_userprofile"]])
def test_a_table_identifying_as_published_is_granted_de_identified_only(
    tables: list[str] | None,
) -> None:
    # Given a non-identifiable grant of auth_user and auth_userprofile (names and emails as
    # published; their copies keep reviewed columns only), or of every table
    config = document()
    scope = researcher(config, "ann-course")["scopes"][0]
    scope["categories"] = ["database"]
    scope.pop("tables")
    if tables is not None:
        scope["tables"] = tables
    # When the grant is compiled
    ann = grant(config, "ann-course")
    # Then every table pattern is a copy's; no original table is readable
    tables_read = [s for s in ann.slices if s.category == "database"]
    reads = [p for s in tables_read for p in s.key_patterns]
    lists = [p for s in tables_read for p in s.prefix_patterns]
    assert reads and all(p.startswith("deidentified/database/") for p in reads + lists)
    original = output_keys.course_output_key(
        "database",
        table="auth_user",
        org="ExampleX",
        site="edx",
        course="ExampleX-CS101-2025_T1",
        export_date=dt.date(2025, 3, 2),
        file_name="ExampleX-CS101-2025_T1-auth_user-prod-analytics.sql",
    )
    copy = output_keys.deidentified_output_key(original)
    assert any(matches_glob(p, copy) for p in ann.key_patterns)
    assert not any(matches_glob(p, original) for p in ann.key_patterns)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"tables": ["auth_usr"]}, "tables[0]: 'auth_usr' is not a table of ['database']"),
        ({"categories": ["course-structure"]}, "tables: tables belong to 'database' or 'ora'"),
        (
            {"categories": ["database", "ora"]},
            "tables: none of the tables is a 'ora' table",
        ),
        ({"tables": ["Bad-Name"]}, "tables[0]: 'Bad-Name' is not a table name"),
    ],
)
def test_tables_must_belong_to_the_scope(change: dict[str, Any], fragment: str) -> None:
    config = document()
    researcher(config, "ann-course")["scopes"][0].update(change)
    with pytest.raises(ConfigError) as raised:
        compile_grants(parse_config(config), today=TODAY)
    assert any(fragment in problem for problem in raised.value.problems), raised.value.problems


@pytest.mark.parametrize(
    ("course", "fragment"),
    [
        ("course-v1:ExampleX+CS101+2025_T1", "e.g. 'ExampleX-CS101-2025_T1'"),
        ("ExampleX-CS[12]01-*", "cannot be matched by IAM"),
        ("OtherU-CS101-2025", "belongs to org 'OtherU', not to ['ExampleX']"),
    ],
)
def test_courses_must_be_spelled_as_the_files_name_them(course: str, fragment: str) -> None:
    config = document()
    researcher(config, "ann-course")["scopes"][0]["courses"] = [course]
    [problem] = problems(config)
    assert problem.startswith("researchers[0].scopes[0].courses[0]:")
    assert fragment in problem


def test_a_course_of_an_alias_org_belongs_to_the_partner() -> None:
    config = document()
    researcher(config, "ann-course")["scopes"][0]["courses"] = ["ExampleXPRO-CS101-*"]
    assert grant(config, "ann-course").slices


def test_email_opt_in_needs_the_edx_site() -> None:
    config = document()
    researcher(config, "ben-identified")["scopes"][0]["sites"] = ["edge"]
    [problem] = problems(config)
    assert "email opt-in reports exist for edx.org only" in problem


@pytest.mark.parametrize(
    ("name", "change", "fragment"),
    [
        ("ben-identified", {"external_id": "abc123"}, "researchers[1].external_id: an external id"),
        ("ben-identified", {"mfa": True}, "researchers[1].mfa: AWS cannot see whether a SAML"),
        ("cat-oidc", {"subject": None}, "researchers[2].subject: required for an OIDC provider"),
        ("ann-course", {"subject": "ann"}, "researchers[0].subject: only federated"),
    ],
)
def test_principal_options_must_fit_the_principal(
    name: str, change: dict[str, Any], fragment: str
) -> None:
    config = document()
    entry = researcher(config, name)
    for key, value in change.items():
        if value is None:
            entry.pop(key)
        else:
            entry[key] = value
    [problem] = problems(config)
    assert problem.startswith(fragment)


def test_mfa_for_an_iam_role_is_refused_because_a_role_session_never_carries_mfa() -> None:
    # Given a grant whose principal is an IAM role, with mfa = true: AWS includes MFA in a
    # request only for credentials an IAM user got with its MFA device (GetSessionToken or
    # AssumeRole), and "the temporary credentials returned by AssumeRole do not include MFA
    # information", so the role's sessions could never satisfy aws:MultiFactorAuthPresent
    config = document()
    entry = researcher(config, "ann-course")
    entry["principal"] = "arn:aws:iam::210987654321:role/research/ann"
    entry["mfa"] = True
    # When the grants are compiled
    [problem] = problems(config)
    # Then the synth stops, saying why and how to fix it
    assert problem.startswith(
        "researchers[0].mfa: a session of the IAM role arn:aws:iam::210987654321:role/research/ann "
        "never carries MFA"
    )
    assert "Fix: name the researcher's IAM user" in problem
    assert "or remove mfa" in problem


def test_mfa_for_an_iam_user_is_kept_in_the_trust_policy() -> None:
    # Given a grant whose principal is an IAM user, with mfa = true
    config = document()
    entry = researcher(config, "ann-course")
    entry["principal"] = "arn:aws:iam::210987654321:user/ann"
    entry["mfa"] = True
    # When the grants are compiled / Then it is accepted: the user's MFA device is in the request
    assert grant(config, "ann-course").config.mfa


def test_an_iam_role_without_mfa_is_accepted() -> None:
    # Given a grant whose principal is an IAM role, without mfa (require MFA where its sessions
    # begin) / Then it is accepted
    config = document()
    entry = researcher(config, "ann-course")
    entry["principal"] = "arn:aws:iam::210987654321:role/research/ann"
    entry["mfa"] = False
    assert grant(config, "ann-course").principal_kind == "iam"


def test_a_malformed_principal_or_external_id_is_refused_by_the_config() -> None:
    config = document()
    researcher(config, "ann-course")["principal"] = "arn:aws:iam::21098765432:role/ann"
    researcher(config, "ann-course")["external_id"] = "has spaces"
    with pytest.raises(ConfigError) as raised:
        parse_config(config)
    assert [p.split(":")[0] for p in raised.value.problems] == [
        "researchers[0].principal",
        "researchers[0].external_id",
    ]


def test_a_date_range_starting_after_the_expiry_is_refused() -> None:
    config = document()
    researcher(config, "ann-course")["scopes"][0]["date_from"] = dt.date(2027, 2, 1)
    researcher(config, "ann-course")["scopes"][0]["date_to"] = dt.date(2027, 3, 1)
    [problem] = problems(config)
    assert problem.startswith("researchers[0].scopes[0].date_from: 2027-02-01 is on or after")


def test_a_grant_too_long_for_iam_is_refused_with_a_fix() -> None:
    config = document()
    scope = researcher(config, "ben-identified")["scopes"][0]
    scope["courses"] = [f"OtherU-C{n}-2025" for n in range(60)]
    scope["categories"] = ["forums", "database"]
    scope["tables"] = ["auth_user", "student_courseenrollment", "user_id_map"]
    scope["date_from"] = dt.date(2025, 1, 15)
    [problem] = problems(config)
    assert problem.startswith("researchers[1]: the grant spells out")
    # (one of the role's managed policies is its SQL access)
    read_policies = MANAGED_POLICIES_PER_ROLE - QUERY_POLICIES_PER_ROLE
    assert f"a role holds at most {read_policies} of them" in problem


def test_names_that_collide_in_cloudformation_are_refused() -> None:
    # Given two researchers whose names differ only in a dash before a digit
    config = document()
    researcher(config, "dan-expired")["name"] = "ann-1b"
    config["researchers"].append(dict(researcher(config, "ann-1b"), name="ann1b"))
    assert role_output_name("ann-1b") == role_output_name("ann1b")
    assert role_output_name("ann-course") != role_output_name("anncourse")
    # Then the second is named with the fix
    [problem] = problems(config)
    assert problem.startswith("researchers[4].name: 'ann1b' and 'ann-1b' differ only in dashes")


def test_every_problem_is_reported_at_once() -> None:
    config = document()
    researcher(config, "ann-course")["scopes"][1]["orgs"] = ["Nope"]
    researcher(config, "cat-oidc").pop("subject")
    researcher(config, "ben-identified")["identifiable"] = False
    assert len(problems(config)) == 3


# --- what is granted -------------------------------------------------------------------------


def test_an_expired_grant_compiles_to_nothing_readable() -> None:
    dan = grant(document(), "dan-expired")
    assert dan.expired
    assert dan.slices == ()
    assert dan.policies == ()
    assert dan.days_left(TODAY) == 0


def test_expiry_is_judged_on_the_synth_day() -> None:
    config = parse_config(document())
    [dan_before] = [
        g for g in compile_grants(config, today=dt.date(2025, 12, 30)) if g.name == "dan-expired"
    ]
    [dan_on] = [
        g for g in compile_grants(config, today=dt.date(2025, 12, 31)) if g.name == "dan-expired"
    ]
    assert not dan_before.expired and dan_before.days_left(dt.date(2025, 12, 30)) == 1
    assert dan_on.expired


def test_ann_gets_exactly_her_slices() -> None:
    ann = grant(document(), "ann-course")
    assert ann.role_name == "edxvault-ann-course"
    assert ann.role_arn("123456789012") == (
        "arn:aws:iam::123456789012:role/edx-vault/researcher/edxvault-ann-course"
    )
    assert ann.expiry_timestamp == "2027-01-01T00:00:00Z"
    # She is not identifiable: every pattern is the de-identified tier's
    tier = "deidentified"
    assert set(ann.key_patterns) == {
        *(
            f"{tier}/database/{table}/org=examplex/site=edx/course=ExampleX-CS101-*/"
            f"export_date={month}*"
            for table in ("student_courseenrollment", "courseware_studentmodule")
            for month in ("2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06")
        ),
        *(
            f"{tier}/course-structure/org=examplex/site=edx/course=ExampleX-CS101-*/"
            f"export_date={month}*"
            for month in ("2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06")
        ),
        f"{tier}/events-by-course/org=examplex/site=*/course=ExampleX-CS101-*/date=2025-03*",
    }
    # And she lists exactly where she reads: her dates, never a folder above them
    assert set(ann.prefix_patterns) == set(ann.key_patterns)


def test_a_grant_without_dates_lists_its_folders() -> None:
    # Given cat's grant: one table of one course, every date
    cat = grant(document(), "cat-oidc")
    # Then she lists the course's folder of the table, whatever the date
    assert cat.prefix_patterns == (
        "ora/submissions_submission/org=examplexpro/site=edge/course=ExampleXPRO-DS1-2025/*",
    )


@pytest.mark.parametrize(
    ("prefix", "listable"),
    [
        ("events/org=otheru/site=edx/date=2025-03-01/", True),
        ("events/org=otheru/site=edge/date=2025-0", True),
        ("events-by-course/org=otheru/site=edx/course=_none/date=2025-12-31/", True),
        ("email-opt-in/org=otheru/export_date=2025-03-02/", True),
        ("events/org=otheru/site=edx/date=2024-12-31/", False),  # the day before date_from
        ("events/org=otheru/site=edx/date=2026-01-01/", False),  # the day after date_to
        ("events/org=otheru/site=edx/date=", False),  # every date
        ("events/org=otheru/site=edx/", False),
        ("events/org=otheru/", False),
        ("events-by-course/org=otheru/site=edx/course=OtherU-X1-2025/", False),
        ("email-opt-in/org=otheru/", False),
        ("events/org=otheruniversity/site=edx/date=2025-03-01/", False),  # another org
        ("events/org=examplex/site=edx/date=2025-03-01/", False),
        ("events-by-course/org=examplex/site=edx/course=_none/date=2025-03-01/", False),
        ("email-opt-in/org=examplex/export_date=2025-03-02/", False),
    ],
)
def test_a_dated_whole_org_grant_lists_its_orgs_dates_only(prefix: str, listable: bool) -> None:
    # Given an org-wide grant (courses = ["*"]) for 2025
    config = document()
    scope = researcher(config, "ben-identified")["scopes"][0]
    scope["date_from"], scope["date_to"] = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
    ben = grant(config, "ben-identified")
    # When a listing names the prefix / Then IAM's StringLike on s3:prefix matches it exactly
    # when it lies within the org's granted dates
    assert any(matches_glob(pattern, prefix) for pattern in ben.prefix_patterns) is listable


@pytest.mark.parametrize("courses", [["*"], ["*", "OtherU-X1-*"]])
def test_events_of_the_whole_org_are_its_logs_and_every_per_course_file(
    courses: list[str],
) -> None:
    # Given ben's scope: events (and more) of OtherU, every course, any date
    config = document()
    researcher(config, "ben-identified")["scopes"][0]["courses"] = courses
    # When the grant is compiled
    events = [s for s in grant(config, "ben-identified").slices if s.category == "events"]
    # Then it reads the org's daily logs and all of their split, '_none' and '_unparsed' included
    assert {s.prefix: s.key_patterns for s in events if s.course == "*"} == {
        "events/": ("events/org=otheru/site=*/*",),
        "events-by-course/": ("events-by-course/org=otheru/site=*/course=*/*",),
    }
    assert {s.prefix: s.prefix_patterns for s in events if s.course == "*"} == {
        "events/": ("events/org=otheru/*",),
        "events-by-course/": ("events-by-course/org=otheru/*",),
    }


def test_an_open_date_range_ends_with_the_expiry_year() -> None:
    config = document()
    scope = researcher(config, "ann-course")["scopes"][1]
    del scope["date_to"]
    [events] = [s for s in grant(config, "ann-course").slices if s.category == "events"]
    assert events.date_to == dt.date(2027, 12, 31)
    assert events.key_patterns[-1] == (
        "deidentified/events-by-course/org=examplex/site=*/course=ExampleX-CS101-*/date=2027*"
    )


def test_old_forums_files_come_only_with_both_sites() -> None:
    ben = grant(document(), "ben-identified")
    assert "forums/org=otheru/site=*/course=*/*" in ben.key_patterns
    config = document()
    researcher(config, "ben-identified")["scopes"][0]["sites"] = ["edx"]
    narrowed = grant(config, "ben-identified")
    assert "forums/org=otheru/site=edx/course=*/*" in narrowed.key_patterns
    assert not any(
        "unspecified" in p or "site=*" in p
        for p in narrowed.key_patterns
        if p.startswith("forums/")
    )


def test_identifying_rules() -> None:
    assert is_identifying("email-opt-in")
    assert is_identifying("forums") and is_identifying("ora", "submissions_score")
    assert is_identifying("database") and is_identifying("database", "auth_user")
    assert not is_identifying("database", "student_courseenrollment")
    assert not is_identifying("events") and not is_identifying("course-structure")
    assert {
        "auth_user",
        "auth_userprofile",
        "certificates_generatedcertificate",
    } <= IDENTIFYING_TABLES
    # A de-identified copy is never identifying, whatever its original is (the audit's answer)
    auth_user = "database/auth_user/org=x/site=edx/course=C/export_date=2026-11-01/a.sql"
    assert identifying_key(auth_user)
    assert not identifying_key(f"deidentified/{auth_user}")


def test_every_pattern_matches_the_keys_the_pipeline_writes() -> None:
    # Given keys spelled by the layout's own key functions
    day = dt.date(2025, 3, 2)
    event_key = output_keys.course_event_log_output_key(
        "ExampleX", "edx", "ExampleX-CS101-2025_T1", day
    )
    table_key = output_keys.course_output_key(
        "database",
        table="student_courseenrollment",
        org="ExampleX",
        site="edx",
        course="ExampleX-CS101-2025_T1",
        export_date=day,
        file_name="f.sql",
    )
    opt_in_key = output_keys.email_opt_in_output_key(
        "OtherU", day, "otheru-email_opt_in-prod-analytics.csv"
    )
    copy = output_keys.deidentified_output_key
    # Then the grant patterns for them match, and those of a neighbour do not: the
    # non-identifiable grant reads the copies, never the originals; the identifiable one the
    # originals, never the copies
    ann = grant(document(), "ann-course")
    ben = grant(document(), "ben-identified")
    assert any(matches_glob(p, copy(event_key)) for p in ann.key_patterns)
    assert any(matches_glob(p, copy(table_key)) for p in ann.key_patterns)
    assert not any(matches_glob(p, key) for p in ann.key_patterns for key in (event_key, table_key))
    assert not any(matches_glob(p, opt_in_key) for p in ann.key_patterns)
    assert any(matches_glob(p, opt_in_key) for p in ben.key_patterns)
    assert not any(matches_glob(p, copy(opt_in_key)) for p in ben.key_patterns)
    assert not any(matches_glob(p, table_key) for p in ben.key_patterns)
    assert not any(matches_glob(p, event_key) for p in ben.key_patterns)


def test_course_event_patterns_match_the_keys_the_split_step_writes() -> None:
    # Given the org-level logs and the per-course files of one day, keyed by the layout
    day = dt.date(2025, 3, 2)
    courses = ("ExampleX-CS101-2025_T1", "ExampleX-CS202-2025_T1", *NOT_COURSES)
    keys = {
        "org log": output_keys.event_log_output_key("ExampleX", "edx", day),
        **{
            course: output_keys.course_event_log_output_key("ExampleX", "edx", course, day)
            for course in courses
        },
    }
    keys |= {
        f"copy of {what}": output_keys.deidentified_output_key(key)
        for what, key in keys.items()
        if what != "org log"  # the tier copies the per-course files only
    }
    config = document()
    researcher(config, "ben-identified")["scopes"][0]["orgs"] = ["ExampleX"]
    # (and ben's whole-org events scope without identifiable: the tier of the whole org)
    whole_org = document()
    researcher(whole_org, "ben-identified")["scopes"][0].update(
        orgs=["ExampleX"], categories=["events"]
    )
    researcher(whole_org, "ben-identified")["identifiable"] = False
    grants = {
        "ann": grant(document(), "ann-course"),
        "ben": grant(config, "ben-identified"),
        "ben, not identifiable": grant(whole_org, "ben-identified"),
    }
    # When each grant's patterns are matched against them
    readable = {
        name: {
            what for what, key in keys.items() if any(matches_glob(p, key) for p in g.key_patterns)
        }
        for name, g in grants.items()
    }
    # Then the course-limited grant reads its course's copy only; the identifiable whole-org
    # grant every original and no copy; the non-identifiable whole-org grant every course's
    # copy, _none's included, and no original. (Its pattern would also match a copy of
    # _unparsed, which the tier never holds: lines that are not events are dropped, not copied.)
    originals = {what for what in keys if not what.startswith("copy of ")}
    assert readable == {
        "ann": {"copy of ExampleX-CS101-2025_T1"},
        "ben": originals,
        "ben, not identifiable": set(keys) - originals,
    }


@pytest.mark.parametrize(
    ("date_from", "date_to"),
    [
        (dt.date(2025, 3, 1), dt.date(2025, 3, 31)),
        (dt.date(2024, 11, 30), dt.date(2026, 2, 28)),
        (dt.date(2025, 3, 15), dt.date(2025, 3, 17)),
        (dt.date(2024, 1, 1), dt.date(2026, 12, 31)),
    ],
)
def test_the_recipes_list_every_granted_day_and_only_what_the_grant_lists(
    date_from: dt.date, date_to: dt.date
) -> None:
    # Given ann's events grant for a range, and the researchers' recipe for its listing prefixes
    config = document()
    scope = researcher(config, "ann-course")["scopes"][1]
    scope["date_from"], scope["date_to"] = date_from, date_to
    patterns = grant(config, "ann-course").prefix_patterns
    folder = "deidentified/events-by-course/org=examplex/site=edge/course=ExampleX-CS101-2025_T1"
    # When the recipe spells the prefixes to list
    prefixes = listing_prefixes(folder, "date", date_from, date_to)
    # Then the grant allows every one of them, and they reach every day of the range, no other
    assert prefixes and all(any(matches_glob(p, prefix) for p in patterns) for prefix in prefixes)
    days = [date_from + dt.timedelta(days=n) for n in range(-1, (date_to - date_from).days + 2)]
    reached = {
        day for day in days for prefix in prefixes if f"{folder}/date={day}/".startswith(prefix)
    }
    assert reached == set(days[1:-1])
