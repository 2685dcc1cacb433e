"""What a Map iteration (a batch of items) answers Step Functions: small, whatever the batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from edx_vault.pipeline.work_items import ItemResult


def batch_summary(results: Iterable[ItemResult], **extra: int) -> dict[str, Any]:
    """The statuses of a batch's results, counted (the results themselves are in S3)."""
    statuses = Counter(result.status for result in results)
    status = "done" if set(statuses) <= {"done"} else "failed" if "failed" in statuses else "mixed"
    return {"status": status, "items": statuses.total(), **dict(sorted(statuses.items())), **extra}
