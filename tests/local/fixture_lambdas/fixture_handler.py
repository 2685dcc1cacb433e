"""A handler for the embedded-AWS tests: doubles a number, fails on demand, or fails for a while.

Every successful call also writes ``results/{id}.json`` to the bucket named by ``FIXTURE_BUCKET``,
which proves the handler runs with its function's environment and reaches the embedded AWS with
plain ``boto3.client("s3")``, as a deployed handler would.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import boto3


class FixtureBoomError(Exception):
    """A permanent failure: the state machine catches it."""


class FixtureFlakyError(Exception):
    """A transient failure: the state machine retries it."""


_attempts: dict[str, int] = {}
_attempts_lock = threading.Lock()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    item_id = str(event["id"])
    mode = event.get("mode", "ok")
    if mode == "boom":
        raise FixtureBoomError(f"item {item_id} is broken")
    if mode == "flaky":
        with _attempts_lock:
            _attempts[item_id] = _attempts.get(item_id, 0) + 1
            attempt = _attempts[item_id]
        if attempt <= int(event["failures"]):
            raise FixtureFlakyError(f"item {item_id}: attempt {attempt} failed")
    result = {
        "id": event["id"],
        "doubled": int(event["value"]) * 2,
        "greeting": os.environ["FIXTURE_GREETING"],
        "function": context.function_name,
        # Where this module was loaded from: the deployed asset, not the working tree.
        "source": __file__,
    }
    boto3.client("s3").put_object(
        Bucket=os.environ["FIXTURE_BUCKET"],
        Key=f"results/{item_id}.json",
        Body=json.dumps(result).encode(),
    )
    return result
