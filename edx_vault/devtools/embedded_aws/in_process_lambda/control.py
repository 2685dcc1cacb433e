"""The running server's Lambda sandboxes, over HTTP: ``POST`` recycles every idle one.

Lambda ends an idle execution environment minutes after its last call, so a sync that runs
weekly always meets cold functions; the embedded AWS keeps them for as long as it runs. Tests
that stand for a run a week after the last (:mod:`tests.faults`) recycle them first
(:func:`recycle_sandboxes`), so what a function reads once per sandbox is read again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final, Protocol

SANDBOXES_PATH: Final = "/_edx_vault/sandboxes"


class Recycler(Protocol):
    """What the endpoint recycles (the in-process Lambda runtime)."""

    def recycle_sandboxes(self) -> int: ...


def with_sandbox_control(runtime: Recycler, application: Callable[..., Any]) -> Callable[..., Any]:
    """``application``, with :data:`SANDBOXES_PATH` answered by ``runtime``."""

    def served(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO", "") != SANDBOXES_PATH:
            return application(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            start_response("405 Method Not Allowed", [("Allow", "POST")])
            return [b""]
        body = json.dumps({"recycled": runtime.recycle_sandboxes()}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return served


def recycle_sandboxes(endpoint: str) -> int:
    """Recycle a running server's idle sandboxes; how many functions had one."""
    import requests

    response = requests.post(f"{endpoint}{SANDBOXES_PATH}", timeout=30)
    response.raise_for_status()
    return int(response.json()["recycled"])
