"""The de-identified tier's plan: which copies are due, which are up to date, which are removed."""

from __future__ import annotations

import datetime as dt
from typing import Final

from edx_vault.package.bucket_layout import DEIDENTIFIED_PREFIX
from edx_vault.pipeline.deidentify_plan import (
    Listed,
    TierEpoch,
    has_copy,
    plan_tier,
    rules_version,
    tier_version,
)

T0: Final = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
EVENTS: Final = (
    "events-by-course/org=VaultX/site=edx/course=VaultX-DEID101-2025_T1/date=2025-03-01/"
    "VaultX-edx-events-2025-03-01.VaultX-DEID101-2025_T1.log.gz"
)
TABLE: Final = (
    "database/auth_user/org=VaultX/site=edx/course=VaultX-DEID101-2025_T1/"
    "export_date=2025-03-02/VaultX-DEID101-2025_T1-auth_user-prod-analytics.sql"
)
EPOCH: Final = TierEpoch(version="v1", since=T0)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def copy(key: str, minutes: int) -> Listed:
    return Listed(DEIDENTIFIED_PREFIX + key, at(minutes))


def test_missing_and_stale_copies_are_due_current_ones_are_not() -> None:
    # Given an event file without a copy, and a table whose copy predates its re-publication
    originals = [Listed(EVENTS, at(5), 10), Listed(TABLE, at(20), 7)]
    copies = [copy(TABLE, 10)]
    # When the tier is planned
    plan = plan_tier(originals, copies, EPOCH)
    # Then both are due, in key order, and nothing is removed
    assert [item.key for item in plan.due] == [TABLE, EVENTS]
    assert (plan.orphans, plan.up_to_date) == ((), 0)
    # And once both copies are newer than their originals, nothing is due
    later = plan_tier(originals, [copy(EVENTS, 6), copy(TABLE, 21)], EPOCH)
    assert (later.due, later.orphans, later.up_to_date) == ((), (), 2)


def test_a_copy_listed_in_its_originals_second_is_current() -> None:
    # Given a copy whose LastModified equals its original's (S3 lists whole seconds): the step
    # runs after the run's publishing, so it read that version
    plan = plan_tier([Listed(EVENTS, at(5))], [copy(EVENTS, 5)], EPOCH)
    # Then it is not made again
    assert (plan.due, plan.up_to_date) == ((), 1)


def test_a_new_epoch_makes_every_earlier_copy_due() -> None:
    # Given current copies, and a key rotated (a new epoch) after they were made
    originals = [Listed(EVENTS, at(1)), Listed(TABLE, at(1))]
    copies = [copy(EVENTS, 2), copy(TABLE, 30)]
    rotated = TierEpoch(version="v2", since=at(10))
    # When planned in the new epoch
    plan = plan_tier(originals, copies, rotated)
    # Then the copy made before it is due, the one made after it (a rebuild's first part) is not
    assert [item.key for item in plan.due] == [EVENTS]
    assert plan.up_to_date == 1
    # And a copy listed in the epoch's own second is made again (S3 lists whole seconds)
    same_second = plan_tier(originals, [copy(EVENTS, 10), copy(TABLE, 30)], rotated)
    assert [item.key for item in same_second.due] == [EVENTS]


def test_a_copy_without_its_original_is_removed() -> None:
    # Given a copy whose original is gone, and one of an _unparsed course file (never copied)
    unparsed = EVENTS.replace("course=VaultX-DEID101-2025_T1", "course=_unparsed")
    copies = [copy(TABLE, 3), copy(unparsed, 3)]
    # When planned with no originals
    plan = plan_tier([Listed(unparsed, at(1))], copies, EPOCH)
    # Then both copies are removed and nothing is made
    assert plan.orphans == tuple(sorted(DEIDENTIFIED_PREFIX + key for key in (TABLE, unparsed)))
    assert plan.due == ()


def test_nothing_due_on_an_empty_bucket() -> None:
    plan = plan_tier([], [], EPOCH)
    assert (plan.due, plan.orphans, plan.up_to_date) == ((), (), 0)


def test_which_published_files_have_copies() -> None:
    # Tables by their rule: auth_user yes; the id map, ORA, forums, whole-org logs no
    assert has_copy(EVENTS)
    assert has_copy(TABLE)
    assert not has_copy(TABLE.replace("auth_user", "user_id_map"))
    assert not has_copy(EVENTS.replace("course=VaultX-DEID101-2025_T1", "course=_unparsed"))
    assert has_copy(EVENTS.replace("course=VaultX-DEID101-2025_T1", "course=_none"))
    assert not has_copy("events/org=VaultX/site=edx/date=2025-03-01/VaultX-edx-events.log.gz")
    assert not has_copy("ora/submissions_submission/org=VaultX/x.sql")
    assert not has_copy("forums/org=VaultX/site=edx/course=c/export_date=2025-03-02/c-prod.mongo")
    assert not has_copy("email-opt-in/org=VaultX/export_date=2025-03-02/x.csv")
    assert has_copy(
        "course-structure/org=VaultX/site=edx/course=c/export_date=d/c-course_structure.json"
    )


def test_the_version_names_the_key_by_its_creation_and_the_rules_by_digest() -> None:
    # The rules' digest is stable within a release, and the version never holds key bytes
    assert rules_version() == rules_version()
    version = tier_version(dt.datetime(2025, 1, 1, tzinfo=dt.UTC), rules_version())
    assert version == f"key=2025-01-01T00:00:00+00:00;rules={rules_version()}"
