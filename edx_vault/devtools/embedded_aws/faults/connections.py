"""How a faulted request's connection dies: dropped unanswered, or cut in the response body.

A dead invocation's request (and the call a ``crash`` kills it in) is never executed: its
connection is closed as a killed process's is. A ``reset`` passes the real response on and cuts
the connection after some body bytes, as a reset or a read timeout looks to an SDK.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn


def body_bytes(environ: Mapping[str, Any]) -> int:
    """The size of the request's payload (without aws-chunked framing, when it has some)."""
    decoded = environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH")
    try:
        return int(decoded or environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def drop_connection(environ: dict[str, Any], *, after_body_bytes: int = 0) -> NoReturn:
    """Read ``after_body_bytes`` of the request body, then close the connection unanswered.

    The request is not executed. The server sees the peer go away (werkzeug treats a
    ``ConnectionError`` from the application as a dropped connection and answers nothing);
    the socket is shut down so the client sees it at once, not at its read timeout.
    """
    if after_body_bytes > 0:
        environ["wsgi.input"].read(after_body_bytes)
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):  # already gone
            connection.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("the invocation that sent this request is dead")


def cut_after(body: Iterable[bytes], after_bytes: int) -> Iterator[bytes]:
    """The response body up to ``after_bytes``, then a dropped connection (as a reset is)."""
    passed = 0
    for chunk in body:
        if passed + len(chunk) >= after_bytes:
            yield chunk[: max(0, after_bytes - passed)]
            break
        passed += len(chunk)
        yield chunk
    close = getattr(body, "close", None)
    if close is not None:
        close()
    raise ConnectionResetError("connection cut by the embedded AWS's fault injection")
