"""When a source counts as settled, and what a settled source records for later plans."""

from __future__ import annotations

from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import object_row, unit_row
from edx_vault.pipeline.settle import settle_source
from tests.integration.conftest import Vault

BUCKET, KEY = "course-data", "mitx-2024-03-03.zip"
MEMBERS = ("mitx-2024-03-03/a.sql.gpg", "mitx-2024-03-03/b.sql.gpg")


def mirrored(manifest: Manifest, *, version: str, run_id: str, unit_count: int) -> None:
    """The object row as the Mirror step leaves it."""
    row = object_row(BUCKET, KEY)
    manifest.claim(row, version=version, run_id=run_id)
    manifest.complete(row, run_id=run_id, attributes={"units_settled": False})
    manifest.set_attributes(row, {"unit_count": unit_count})


def decrypted(manifest: Manifest, member: str, *, version: str, run_id: str) -> None:
    row = unit_row(BUCKET, KEY, member)
    manifest.claim(row, version=version, run_id=run_id)
    manifest.complete(row, run_id=run_id, attributes={"output_key": f"database/{member}"})


def test_unit_rows_of_an_older_version_do_not_settle_the_current_one(vault: Vault) -> None:
    # Given a zip whose two members were decrypted at version v1
    manifest = vault.manifest
    mirrored(manifest, version='"v1"', run_id="run-1", unit_count=2)
    for member in MEMBERS:
        decrypted(manifest, member, version='"v1"', run_id="run-1")
    assert settle_source(manifest, BUCKET, KEY)
    # And edX re-issued it as v2, of which the next run decrypted only the first member (the
    # second one's task was lost, so its row still holds v1's result)
    mirrored(manifest, version='"v2"', run_id="run-2", unit_count=2)
    decrypted(manifest, MEMBERS[0], version='"v2"', run_id="run-2")
    # When the run's report settles the source
    settled = settle_source(manifest, BUCKET, KEY)
    # Then v2 is not settled: v1's row for the second member is not v2's, and the next run
    # must plan the zip again rather than call it up to date with v1's plaintext published
    assert not settled
    assert manifest.get(object_row(BUCKET, KEY))["units_settled"] is False
    # And once the second member is decrypted at v2, it is
    decrypted(manifest, MEMBERS[1], version='"v2"', run_id="run-3")
    assert settle_source(manifest, BUCKET, KEY)


def test_a_settled_source_whose_unit_is_retried_and_lost_is_no_longer_settled(
    vault: Vault,
) -> None:
    # Given a settled zip whose second member failed (say, wrong-recipient)
    manifest = vault.manifest
    mirrored(manifest, version='"v1"', run_id="run-1", unit_count=2)
    decrypted(manifest, MEMBERS[0], version='"v1"', run_id="run-1")
    failing = unit_row(BUCKET, KEY, MEMBERS[1])
    manifest.claim(failing, version='"v1"', run_id="run-1")
    manifest.fail(failing, run_id="run-1", code="wrong-recipient", reason="not for us")
    assert settle_source(manifest, BUCKET, KEY)
    assert manifest.get(object_row(BUCKET, KEY))["units_failed"] == 1
    # When a --retry-failed run claims that member again and its task is lost (the row stays
    # in_progress), and the run's report settles the source
    manifest.claim(failing, version='"v1"', run_id="run-2", retry_failed=True)
    settled = settle_source(manifest, BUCKET, KEY)
    # Then the source is no longer settled, so the next run, retry or not, plans it again and
    # takes the member up once the lost claim's lease has passed
    assert not settled
    assert manifest.get(object_row(BUCKET, KEY))["units_settled"] is False
