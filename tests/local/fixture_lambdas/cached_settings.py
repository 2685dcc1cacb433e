"""A handler that caches a setting from the environment on first use, as Lambda code may.

On Lambda each function has its own process, so the cache is the function's own. The embedded
AWS runs every function in one process: the tests call two functions with different settings
and check each sees its own. It also counts how many of its calls run at once, and how many
this sandbox served; ``end_sandbox`` (what the embedded AWS calls when it recycles the sandbox)
writes a line to the file ``FIXTURE_END_LOG`` names, if set.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from typing import Any

_lock = threading.Lock()
_running = 0
_peak = 0
_served = 0
_END_LOG = os.environ.get("FIXTURE_END_LOG")


def end_sandbox() -> None:
    if _END_LOG:
        with open(_END_LOG, "a") as log:
            log.write(f"ended after {_served} calls\n")


@functools.cache
def settings() -> str:
    return os.environ["FIXTURE_GREETING"]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _running, _peak, _served
    with _lock:
        _served += 1
        _running += 1
        _peak = max(_peak, _running)
    try:
        time.sleep(float(event.get("sleep", 0)))
        if event.get("unserializable"):
            return {"value": {1, 2}}  # a set: not JSON, as Lambda's runtime reports
        return {
            "padding": "x" * int(event.get("padding", 0)),
            "cached": settings(),
            "environment": os.environ["FIXTURE_GREETING"],
            "endpoint": os.environ["AWS_ENDPOINT_URL"],
            "function": context.function_name,
            "peak": _peak,
            "served": _served,
        }
    finally:
        with _lock:
            _running -= 1
