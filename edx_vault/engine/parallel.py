"""Bounded parallel requests for the steps that read one small object or row per batch or item.

Collect and Report read one file per batch of the run's items, and Report settles (and may
release) one source or row per item; a backfill has hundreds of batches and tens of thousands
of items, and one request after another at S3's and DynamoDB's tens of milliseconds would not
fit in a Lambda's timeout. :func:`ordered_map` runs them on a few threads, keeps the items'
order, holds only a bounded window of results, and lets the first error through.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Requests in flight at once: as many as botocore keeps connections per client
# (``max_pool_connections``, 10 by default, which the pipeline's clients use). More threads
# than connections would each open a connection (a TLS handshake) for a request and discard it.
PARALLEL_REQUESTS: Final = 10
# How many items may be submitted ahead of the one the caller is waiting for, per thread: enough
# to keep every thread busy while a slow request holds up the head of the line, few enough that
# the results held at once stay a few hundred whatever the number of items.
WINDOW_PER_WORKER: Final = 4


def ordered_map(
    function: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int = PARALLEL_REQUESTS,
) -> Iterator[R]:
    """``map(function, items)`` on ``workers`` threads, results in the items' order.

    At most ``workers * WINDOW_PER_WORKER`` calls are submitted or held beyond the result the
    caller is waiting for, so memory stays bounded and ``items`` may be a generator.

    Parameters
    ----------
    function
        Called once per item, from a worker thread: it must be safe to run concurrently with
        itself (boto3 clients are; boto3 resources are not, see
        :meth:`edx_vault.pipeline.manifest.Manifest.for_this_thread`).
    items
        The items, consumed lazily.
    workers
        Threads, hence requests in flight.

    Yields
    ------
    R
        ``function(item)`` for each item, in order.

    Raises
    ------
    Exception
        The first error a call raised, in the items' order, as it was raised (not wrapped), so
        the handlers classify a throttled read exactly as they would without threads. No call
        starts after it; calls already running are waited for, since a thread cannot be
        stopped.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    pending: deque[Future[R]] = deque()
    remaining = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="edx-vault-io") as pool:
        try:
            for item in itertools.islice(remaining, workers * WINDOW_PER_WORKER):
                pending.append(pool.submit(function, item))
            while pending:
                result = pending.popleft().result()
                for item in itertools.islice(remaining, 1):
                    pending.append(pool.submit(function, item))
                yield result
        finally:
            # On an error, or a caller that stopped early: nothing queued starts any more.
            for future in pending:
                future.cancel()
