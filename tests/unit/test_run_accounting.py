"""The report's accounting identity: every listed file published, up to date, failed or deferred."""

from __future__ import annotations

from edx_vault.pipeline.run_accounting import (
    FAILED_BEFORE,
    UNKNOWN_NAME,
    account,
    unaccounted_reason,
)


def test_every_listed_file_lands_in_exactly_one_place() -> None:
    # Given edX listed 9 files: 3 up to date, 1 skipped as failed before, 1 unknown name,
    # and 4 planned, of which one failed and one has a member that failed before
    accounting = account(
        listed=9,
        up_to_date=3,
        planned_keys=["a.gpg", "b.gpg", "c.zip", "d.zip"],
        failures=[{"source_key": "b.gpg"}, {"source_key": "b.gpg"}],
        previously_failed=[{"key": "old.gpg"}, {"key": "d.zip", "member": "x.sql.gpg"}],
        unknown=[{"bucket": "edx", "key": "mitx/odd-name.txt"}],
    )
    # When it is counted / Then each is in one place and nothing is unaccounted
    assert accounting == {
        "listed": 9,
        "published": 2,
        "up_to_date": 3,
        "failed": 1,
        "deferred": {FAILED_BEFORE: 2, UNKNOWN_NAME: 1},
        "unaccounted": 0,
    }


def test_a_source_that_failed_this_run_is_not_also_deferred() -> None:
    # Given a zip with one member failing now and another that failed before
    accounting = account(
        listed=1,
        up_to_date=0,
        planned_keys=["c.zip"],
        failures=[{"source_key": "c.zip"}],
        previously_failed=[{"key": "c.zip", "member": "y.sql.gpg"}],
        unknown=[],
    )
    # Then it counts once, as failed
    assert (accounting["failed"], accounting["deferred"][FAILED_BEFORE]) == (1, 0)
    assert accounting["unaccounted"] == 0


def test_a_file_listed_but_neither_published_nor_explained_is_unaccounted() -> None:
    # Given the plan listed 5 files but only 4 are anywhere in the run
    accounting = account(
        listed=5,
        up_to_date=2,
        planned_keys=["a.gpg", "b.gpg"],
        failures=[],
        previously_failed=[],
        unknown=[],
    )
    # Then one is unaccounted, and the reason says how the rest add up
    assert accounting["unaccounted"] == 1
    reason = unaccounted_reason(accounting)
    assert "edX listed 5 files" in reason
    assert "accounts for 4" in reason


def test_a_plan_that_did_not_count_what_it_listed_is_not_checked() -> None:
    # Given a report of a run planned before plans counted their listing
    accounting = account(
        listed=None,
        up_to_date=1,
        planned_keys=["a.gpg"],
        failures=[],
        previously_failed=[],
        unknown=[],
    )
    # Then nothing is called unaccounted
    assert (accounting["listed"], accounting["unaccounted"]) == (None, 0)
