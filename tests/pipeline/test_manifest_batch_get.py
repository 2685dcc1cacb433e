"""Manifest.object_rows backs off on UnprocessedKeys, and gives up rather than loop forever.

BatchGetItem answers 200 with ``UnprocessedKeys`` when the table is throttled; botocore's
retries only see error responses, so the manifest retries these keys itself.
"""

from __future__ import annotations

import random
import time
from types import SimpleNamespace
from typing import Any

import pytest

from edx_vault.engine.errors import TransientError
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_batch_get import BATCH_GET_ATTEMPTS

TABLE = "manifest"
# A client that is asked more often than this is looping without bound.
RUNAWAY = 50


class ThrottledClient:
    """BatchGetItem that leaves every key unprocessed ``throttled_calls`` times, then answers."""

    def __init__(self, throttled_calls: int) -> None:
        self.throttled_calls = throttled_calls
        self.calls = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        self.calls += 1
        if self.calls > RUNAWAY:
            raise AssertionError("BatchGetItem was retried without bound")
        keys = RequestItems[TABLE]["Keys"]
        if self.calls <= self.throttled_calls:
            return {"Responses": {TABLE: []}, "UnprocessedKeys": {TABLE: {"Keys": keys}}}
        rows = [{**key, "status": "done", "source_etag": '"v1"'} for key in keys]
        return {"Responses": {TABLE: rows}, "UnprocessedKeys": {}}


def manifest_over(client: ThrottledClient) -> Manifest:
    table = SimpleNamespace(name=TABLE, meta=SimpleNamespace(client=client))
    return Manifest(table)  # type: ignore[arg-type]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every back-off, recorded instead of slept; jitter pinned to its upper bound."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    return slept


SOURCES = [("edx-course-data", f"mitx/edx/events/2024/f{n}.gpg") for n in range(3)]


def test_unprocessed_keys_are_retried_after_growing_pauses(sleeps: list[float]) -> None:
    # Given a table that is throttled for the first three BatchGetItem calls
    client = ThrottledClient(throttled_calls=3)
    # When the rows are read
    rows = manifest_over(client).object_rows(SOURCES)
    # Then every row is found, after three pauses that grow exponentially
    assert len(rows) == len(SOURCES)
    assert client.calls == 4
    assert len(sleeps) == 3
    assert sleeps == sorted(sleeps) and sleeps[0] > 0 and sleeps[2] == 4 * sleeps[0]


def test_a_table_that_stays_throttled_is_a_transient_error(sleeps: list[float]) -> None:
    # Given a table that never processes the keys
    client = ThrottledClient(throttled_calls=RUNAWAY)
    # When the rows are read / Then the manifest gives up after a bounded number of attempts
    # with the error the state machine retries (the Plan step runs again later), saying why
    with pytest.raises(TransientError, match="UnprocessedKeys"):
        manifest_over(client).object_rows(SOURCES)
    assert client.calls == BATCH_GET_ATTEMPTS
    # And its pauses are bounded: no single one, nor their sum, is unreasonable for a Lambda
    assert max(sleeps) <= 5.0
    assert sum(sleeps) < 30.0
