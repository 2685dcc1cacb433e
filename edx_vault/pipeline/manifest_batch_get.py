"""Reading many manifest rows at once, through throttling.

BatchGetItem answers 200 with ``UnprocessedKeys`` when the table is throttled, which botocore's
retries (error responses only) never see, so the keys left over are asked for again here.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any, Final

from edx_vault.engine.errors import TransientError
from edx_vault.pipeline.manifest_rows import plain_row
from edx_vault.pipeline.manifest_schema import PARTITION_KEY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_BATCH_GET_LIMIT: Final = 100
# BatchGetItem answers 200 with UnprocessedKeys when the table is throttled, which botocore's
# retries (error responses only) never see. The keys are asked for again after a pause drawn
# from [0, min(cap, base * 2**n)] ("full jitter", so the Plan step's retries do not arrive in
# step with whatever else throttles the table), at most this many calls per 100 keys: about
# 11 s of pauses at worst, then a TransientError, which the state machine retries with its own
# longer backoff, instead of a loop that runs until the Lambda times out.
BATCH_GET_ATTEMPTS: Final = 8
BATCH_GET_BACKOFF_BASE_SECONDS: Final = 0.05
BATCH_GET_BACKOFF_CAP_SECONDS: Final = 5.0


def backoff(attempt: int) -> float:
    """The pause before retry ``attempt`` (1, 2, ...): exponential, capped, full jitter."""
    cap = min(BATCH_GET_BACKOFF_CAP_SECONDS, BATCH_GET_BACKOFF_BASE_SECONDS * 2**attempt)
    return random.uniform(0.0, cap)  # noqa: S311 (spreads retries; nothing secret)


def batch_get_rows(table: Table, keys: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
    """The rows of ``keys`` that exist, by partition key, 100 keys per BatchGetItem."""
    found: dict[str, dict[str, Any]] = {}
    # The resource's client already converts between DynamoDB and Python types.
    client = table.meta.client
    for start in range(0, len(keys), _BATCH_GET_LIMIT):
        pending: dict[str, Any] = {table.name: {"Keys": keys[start : start + _BATCH_GET_LIMIT]}}
        for attempt in range(BATCH_GET_ATTEMPTS):
            if attempt:
                time.sleep(backoff(attempt))
            response = client.batch_get_item(RequestItems=pending)
            for raw in response["Responses"].get(table.name, []):
                item: dict[str, Any] = plain_row(raw)
                found[item[PARTITION_KEY]] = item
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
        else:
            left = len(pending.get(table.name, {}).get("Keys", []))
            raise TransientError(
                f"the manifest table left {left} keys in UnprocessedKeys after "
                f"{BATCH_GET_ATTEMPTS} BatchGetItem calls (throttled); retry later"
            )
    return found
