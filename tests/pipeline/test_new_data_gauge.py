"""The NoNewData alarm's gauge: days since a run last published something."""

from __future__ import annotations

import datetime as dt

from edx_vault.pipeline.new_data import new_data_since
from edx_vault.pipeline.run_report import summary_text

SUNDAY = dt.datetime(2026, 3, 1, 6, 30, tzinfo=dt.UTC)


def test_a_run_that_publishes_resets_the_count() -> None:
    # Given new data last arrived three weeks ago
    last = SUNDAY - dt.timedelta(days=21)
    # When a run publishes one file
    since, days = new_data_since(last, published=1, finished=SUNDAY)
    # Then new data arrived now
    assert (since, days) == (SUNDAY, 0.0)


def test_a_run_that_publishes_nothing_counts_from_the_last_new_data() -> None:
    # Given new data last arrived 9 days and 12 hours ago
    last = SUNDAY - dt.timedelta(days=9, hours=12)
    # When a run publishes nothing
    since, days = new_data_since(last, published=0, finished=SUNDAY)
    # Then the count keeps growing from then
    assert (since, days) == (last, 9.5)


def test_the_first_run_starts_the_count_even_when_it_publishes_nothing() -> None:
    # Given no earlier run / When the first run publishes nothing / Then counting starts now
    assert new_data_since(None, published=0, finished=SUNDAY) == (SUNDAY, 0.0)


def test_ninety_days_is_expressible() -> None:
    # Given the longest configurable wait / Then the gauge reaches it (the alarm only compares)
    last = SUNDAY - dt.timedelta(days=90)
    assert new_data_since(last, published=0, finished=SUNDAY)[1] == 90.0


def test_the_summary_says_how_long_nothing_new_arrived() -> None:
    # Given a run that published nothing, 14 days after the last new data
    report = {
        "run_id": "r",
        "status": "succeeded",
        "window": {"first_date": "2024-01-01", "last_date": "2026-02-28"},
        "planned": 0,
        "up_to_date": 10,
        "files": {},
        "failures": [],
        "missing": [],
        "key_expiry": None,
        "estimated_cost_usd": 0.01,
        "new_data": {"last": "2026-02-15T06:30:00+00:00", "days_since": 14.0},
    }
    # When summarised / Then the email says so
    assert "nothing new published since 2026-02-15T06:30:00+00:00 (14.0 days)" in summary_text(
        report
    )
