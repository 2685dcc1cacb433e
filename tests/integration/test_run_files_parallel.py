"""Collect and Report read a run's many files (and Report settles its sources) on a thread pool.

At backfill scale one request after another does not fit in the steps' timeouts
(``bench/pipeline_scale.py``), so the reads run a few at a time. What must not change: the
report and the decrypt work list are the same whatever order the reads finish in, and a read
that fails fails the step with its own error rather than becoming a missing result.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from edx_vault.pipeline import run_report
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import ClaimOutcome, Status, object_row, unit_row
from edx_vault.pipeline.run_files import DECRYPT_ITEMS
from edx_vault.pipeline.run_report import build_report, report_key
from edx_vault.pipeline.steps.collect import collect_units
from edx_vault.pipeline.steps.report import finish_run
from tests.integration.conftest import Aws, Vault
from tests.integration.run_leftovers import (
    FINISHED,
    RUN,
    SOURCES,
    VERSION,
    Source,
    context_for,
    fail_reads_of,
    leave_run,
    service_error,
    shuffle_reads,
    sources,
)

pytestmark = pytest.mark.integration


def serial_map(function: Any, items: Any, **_: Any) -> Any:
    """The reads one after another, as the steps made them before they had a pool."""
    return map(function, items)


def test_the_report_is_the_same_whatever_order_the_reads_finish_in(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run whose items succeeded, failed, or were lost, and whose reads finish shuffled
    planned = sources(vault)
    files = leave_run(vault, planned)
    shuffle_reads(vault, seed=11)
    # When the report is built on the thread pool
    parallel = build_report(files, vault.manifest, finished=FINISHED, key_expiry=None)
    # Then it is the report the reads made one after another give, failures in the same order
    monkeypatch.setattr(run_report, "ordered_map", serial_map)
    serial = build_report(files, vault.manifest, finished=FINISHED, key_expiry=None)
    assert parallel == serial
    # And that order is the work lists': the mirror items' failures, then the decrypt items'
    expected = [(s.key, "mirror", "tampered") for s in planned if s.mirror == "failed"]
    expected += [(s.key, "mirror", "no-result") for s in planned if s.mirror == "lost"]
    mirrored = [s for s in planned if s.mirror == "done"]
    expected += [(s.key, "decrypt", "wrong-recipient") for s in mirrored if s.decrypt == "failed"]
    expected += [(s.key, "decrypt", "no-result") for s in mirrored if s.decrypt == "lost"]
    by_key = {s.key: index for index, s in enumerate(planned)}
    stage_order = {"mirror": 0, "decrypt": 1}
    expected.sort(key=lambda f: (stage_order[f[1]], by_key[f[0]]))
    assert [(f["source_key"], f["stage"], f["code"]) for f in parallel["failures"]] == expected
    published = sum(1 for s in mirrored if s.decrypt == "done")
    assert parallel["files"] == {
        "events": {"count": published, "bytes": 1000 * published},
        "events-by-course": {"count": 2 * published, "bytes": 900 * published},
    }


def test_every_source_is_settled_from_the_pool(vault: Vault) -> None:
    # Given a run whose units finished (done or failed) or were lost
    planned = sources(vault)
    files = leave_run(vault, planned)
    shuffle_reads(vault, seed=5)
    # When the report settles the sources, many at once
    build_report(files, vault.manifest, finished=FINISHED, key_expiry=None)
    # Then each source whose unit finished is settled, with its failures counted, and a source
    # whose unit was lost (or whose mirror did not finish) is not
    for source in planned:
        row = vault.manifest.get(object_row(source.bucket, source.key)) or {}
        finished = source.mirror == "done" and source.decrypt != "lost"
        assert bool(row.get("units_settled")) is finished, source
        if finished:
            assert row["units_failed"] == (1 if source.decrypt == "failed" else 0)


def test_the_report_releases_the_claims_of_items_that_left_no_result(vault: Vault) -> None:
    # Given a run whose lost tasks (retries spent on a transient fault) left their rows claimed
    planned = sources(vault)
    files = leave_run(vault, planned)
    # When the report is built
    build_report(files, vault.manifest, finished=FINISHED, key_expiry=None)
    # Then no row is left in_progress: each lost item's row is interrupted, which the next run
    # claims at once instead of waiting out the lease, and every other row is as its task left it
    for source in planned:
        source_row = vault.manifest.get(object_row(source.bucket, source.key)) or {}
        unit = vault.manifest.get(unit_row(source.bucket, source.key, None)) or {}
        if source.mirror == "lost":
            assert source_row["status"] == Status.INTERRUPTED, source
            assert not unit, source
        elif source.mirror == "done":
            expected = {"done": Status.DONE, "failed": Status.FAILED, "lost": Status.INTERRUPTED}
            assert unit["status"] == expected[source.decrypt], source
        assert vault.manifest.claim(
            object_row(source.bucket, source.key), version=VERSION, run_id="next-run"
        ) is (
            ClaimOutcome.CLAIMED
            if source.mirror == "lost"
            else ClaimOutcome.ALREADY_DONE
            if source.mirror == "done"
            else ClaimOutcome.ALREADY_FAILED
        ), source


@pytest.mark.parametrize("position", [0, SOURCES // 2, SOURCES - 1])
def test_a_result_that_cannot_be_read_fails_the_report_with_its_own_error(
    aws: Aws, vault: Vault, position: int
) -> None:
    # Given a run in which one mirror result cannot be read (S3 answers 500 after retries)
    planned = [
        Source(s.bucket, s.key, "done" if i == position else s.mirror, s.decrypt)
        for i, s in enumerate(sources(vault))
    ]
    files = leave_run(vault, planned)
    shuffle_reads(vault, seed=position)
    unreadable = files.result_key("mirror", planned[position].key)
    error = service_error("InternalError", 500, "GetObject")
    refused = fail_reads_of(
        vault.s3,
        "provide-client-params.s3.GetObject",
        lambda params: params["Key"] == unreadable,
        error,
    )
    secrets = aws.client("secretsmanager")
    secret = secrets.create_secret(Name=f"{vault.table_name}/key", SecretString="x")
    # When the Report step runs
    with pytest.raises(ClientError) as raised:
        finish_run(
            context_for(vault),
            secrets,
            aws.client("sns"),
            run_id=RUN,
            finished=FINISHED,
            topic_arn="",
            key_secret_arn=secret["ARN"],
        )
    # Then it fails with S3's own error (which the handler classifies as transient, so the
    # state machine retries the step), not with a report that calls the item lost
    assert raised.value is error
    assert refused
    listed = vault.s3.list_objects_v2(Bucket=vault.target.bucket, Prefix=report_key(RUN))
    assert "Contents" not in listed


def test_a_settle_query_that_fails_fails_the_report(vault: Vault) -> None:
    # Given a run in which the manifest refuses the Query of one source (throttled), a source
    # whose unit was lost, so it is settled from its rows
    planned = sources(vault)
    files = leave_run(vault, planned)
    queried = next(s for s in planned if s.mirror == "done" and s.decrypt == "lost")
    throttled = f"{queried.bucket}/{queried.key}"
    error = service_error("ProvisionedThroughputExceededException", 400, "Query")
    refused = fail_reads_of(
        vault.table.meta.client,
        "provide-client-params.dynamodb.Query",
        lambda params: throttled in params.get("ExpressionAttributeValues", {}).values(),
        error,
    )
    manifest = Manifest(vault.table)
    # When the report settles the sources
    # Then the throttling error comes out of it
    with pytest.raises(ClientError) as raised:
        build_report(files, manifest, finished=FINISHED, key_expiry=None)
    assert raised.value is error
    assert refused


def test_sources_of_one_finished_unit_settle_without_a_query(vault: Vault) -> None:
    # Given a run whose single-unit sources finished (done or failed) or were lost
    planned = sources(vault)
    files = leave_run(vault, planned)
    queries: list[str] = []
    vault.table.meta.client.meta.events.register(
        "provide-client-params.dynamodb.Query",
        lambda params, **_: queries.append(str(params["ExpressionAttributeValues"])),
    )
    # When the report settles them
    build_report(files, Manifest(vault.table), finished=FINISHED, key_expiry=None)
    # Then only the sources whose results do not say they finished are read back (a Query each)
    unsure = [s for s in planned if s.mirror != "done" or s.decrypt == "lost"]
    assert len(queries) == len(unsure)
    assert all(any(s.key in query for query in queries) for s in unsure)


def test_a_settle_update_that_fails_fails_the_report(vault: Vault) -> None:
    # Given a run in which the manifest refuses the UpdateItem that settles one finished source
    planned = sources(vault)
    files = leave_run(vault, planned)
    finished = next(s for s in planned if s.mirror == "done" and s.decrypt == "done")
    error = service_error("ProvisionedThroughputExceededException", 400, "UpdateItem")
    refused = fail_reads_of(
        vault.table.meta.client,
        "provide-client-params.dynamodb.UpdateItem",
        lambda params: finished.key in str(params["Key"]),
        error,
    )
    # When the report settles the sources, then the throttling error comes out of it
    with pytest.raises(ClientError) as raised:
        build_report(files, Manifest(vault.table), finished=FINISHED, key_expiry=None)
    assert raised.value is error
    assert refused


def test_collect_joins_the_unit_lists_in_key_order_whatever_order_they_are_read_in(
    vault: Vault,
) -> None:
    # Given 30 mirrored sources' unit lists (one to three units each), read in shuffled order
    context = context_for(vault)
    files = context.files(RUN)
    lists: dict[str, list[dict[str, Any]]] = {}
    for index in range(30):
        key = f"mitx-2026-01-{index:02d}.zip"
        units = [
            {"source_bucket": vault.database_bucket, "source_key": key, "member": f"m{n}"}
            | {"raw_size": 1000}
            for n in range(1 + index % 3)
        ]
        lists[files.unit_list_key(vault.database_bucket, key)] = units
        files.put_json(files.unit_list_key(vault.database_bucket, key), units)
    shuffle_reads(vault, seed=3)
    # When Collect joins them
    collected = collect_units(context, RUN)
    # Then the decrypt work list is every unit, in the unit lists' key order, in batches
    expected = [unit for key in sorted(lists) for unit in lists[key]]
    assert collected == {"units": len(expected)}
    assert [
        unit for batch in files.get_json(files.key(DECRYPT_ITEMS)) for unit in batch["items"]
    ] == expected


def test_collect_fails_when_a_unit_list_cannot_be_read(vault: Vault) -> None:
    # Given mirrored sources one of whose unit lists cannot be read
    context = context_for(vault)
    files = context.files(RUN)
    keys = [files.unit_list_key(vault.database_bucket, f"mitx-{n}.zip") for n in range(12)]
    for key in keys:
        files.put_json(key, [{"source_key": key, "member": None}])
    error = service_error("SlowDown", 503, "GetObject")
    fail_reads_of(
        vault.s3, "provide-client-params.s3.GetObject", lambda p: p["Key"] == keys[7], error
    )
    # When Collect runs, then it fails with that error and writes no partial work list
    with pytest.raises(ClientError) as raised:
        collect_units(context, RUN)
    assert raised.value is error
    assert files.key(DECRYPT_ITEMS) not in files.existing_keys()


def test_each_thread_gets_its_own_table_resource_over_the_same_client(vault: Vault) -> None:
    # Given the manifest a step was given
    manifest = vault.manifest
    row = object_row(vault.event_bucket, "a.log.gz.gpg")
    manifest.claim(row, version=VERSION, run_id=RUN)
    # When this thread and another ask for theirs
    here = manifest.for_this_thread()
    there: list[Manifest] = []
    worker = threading.Thread(target=lambda: there.append(manifest.for_this_thread()))
    worker.start()
    worker.join()
    # Then each thread has one of its own, the same on every call, over the same client
    assert manifest.for_this_thread() is here
    assert there[0] is not here
    assert here._table is not there[0]._table
    assert here._table.meta.client is manifest._table.meta.client
    assert there[0]._table.meta.client is manifest._table.meta.client
    # And it reads the same table
    assert (there[0].get(row) or {})["run_id"] == RUN


def test_the_run_left_behind_has_every_kind_of_outcome(vault: Vault) -> None:
    # Given the planned sources these tests leave behind (kept few: each costs S3 and DynamoDB
    # calls) / Then each way a mirror task ends, and each way a decrypt task ends after a
    # mirrored source, is among them, so every test above meets every case
    planned = sources(vault)
    assert {s.mirror for s in planned} == {"done", "failed", "lost"}
    assert {s.decrypt for s in planned if s.mirror == "done"} == {"done", "failed", "lost"}
