"""The report's accounting: each planned item's result in its place, and the identity (every
listed file published, up to date, failed or deferred)."""

from __future__ import annotations

from typing import Any

from edx_vault.pipeline.manifest_rows import object_row, unit_row
from edx_vault.pipeline.run_accounting import (
    FAILED_BEFORE,
    NO_RESULT_REASON,
    UNKNOWN_NAME,
    ItemTally,
    account,
    unaccounted_reason,
)
from edx_vault.pipeline.work_items import RecordedResult

# One unit of each outcome, and the fields of its result in ``results/decrypt/`` (None: the
# unit's task left no result).
UNITS: list[tuple[str, str | None, dict[str, Any] | None]] = [
    ("a.gpg", None, {"status": "done", "category": "events", "bytes": 10}),
    ("b.gpg", None, {"status": "skipped", "why": "already_done"}),
    ("c.zip", "x.sql.gpg", {"status": "skipped", "why": "already_failed", "code": "tampered"}),
    ("d.gpg", None, None),
    ("e.gpg", None, {"status": "failed", "code": "wrong-recipient", "reason": "not for us"}),
    ("f.gpg", None, {"status": "skipped", "why": "busy"}),  # an older release's, no stage
]


def test_each_planned_items_result_lands_in_one_place_in_the_tally() -> None:
    # Given a tally that starts from the plan's previously failed sources
    tally = ItemTally(previously_failed=[{"key": "old.gpg", "member": None, "error_code": "x"}])
    # When it counts a mirrored source, then one unit of each outcome, as the Report step reads
    # their results
    mirrored = RecordedResult.model_validate(
        {"status": "done", "source_key": "m.gpg", "stage": "mirror", "bytes": 7}
    )
    tally.count("mirror", object_row("edx", "m.gpg"), ("m.gpg", None), mirrored)
    for key, member, fields in UNITS:
        result = None
        if fields is not None:
            document = {"source_key": key, "member": member, **fields}
            result = RecordedResult.model_validate(document, context={"stage": "decrypt"})
        tally.count("decrypt", unit_row("edx", key, member), (key, member), result)
    # Then the published, the skipped and the failed-before are counted, and every other unit
    # is a failure: lost (its row to release), failed, or held by another run
    assert (tally.mirrored_bytes, tally.skipped) == (7, 1)
    assert tally.files == {"events": {"count": 1, "bytes": 10}}
    assert tally.previously_failed[1:] == [
        {"key": "c.zip", "member": "x.sql.gpg", "error_code": "tampered"}
    ]
    assert tally.lost == [unit_row("edx", "d.gpg", None)]
    assert [(f["source_key"], f["stage"], f["code"]) for f in tally.failures] == [
        ("d.gpg", "decrypt", "no-result"),
        ("e.gpg", "decrypt", "wrong-recipient"),
        ("f.gpg", "decrypt", "held-by-another-run"),
    ]
    assert tally.failures[0]["reason"] == NO_RESULT_REASON


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
