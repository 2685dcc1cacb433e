"""Running invocations: who each one signs as, which threads work for it, whether it died.

The runtime records an invocation from its start until its handler's thread is done; the fault
injector finds the invocation a request comes from by the key that signed it, and kills it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Final

from edx_vault.devtools.embedded_aws.service_sessions import SessionCredentials

LOGGER = logging.getLogger("edx_vault.devtools.embedded_aws.lambda")

# The attribute a thread carries when it works for an invocation.
_THREAD_ATTRIBUTE: Final = "_edx_vault_invocation"


@dataclass
class RunningInvocation:
    """One invocation, from its start until its handler's thread is done, and who it signs as.

    Attributes
    ----------
    function
        The function's name.
    request_id
        The invocation's request id.
    credentials
        The session its execution environment signs with (no other running invocation's).
    dead
        Set once the invocation was killed (a ``crash`` fault) or stopped at its timeout:
        nothing it sends reaches AWS from then on.
    settled
        Set when the handler's thread is done or the invocation is dead, whichever is first.
    cause
        Why it died (``crash at s3 PutObject bucket/key``, ``timeout``).
    """

    function: str
    request_id: str
    credentials: SessionCredentials
    dead: threading.Event = field(default_factory=threading.Event)
    settled: threading.Event = field(default_factory=threading.Event)
    cause: str = ""


class InvocationRegistry:
    """Running invocations, found by their access key or by the thread asking (thread-safe).

    The fault injector finds the invocation a request comes from by the key that signed it and
    kills it; the runtime waits for an invocation to settle and reads whether it died. A thread
    belongs to an invocation when the runtime started it for the handler, or when a thread of
    that invocation started it (``threading.Thread.start`` is followed once, process-wide, by
    :func:`follow_thread_lineage`): s3transfer's workers, a parallel read's pool.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, RunningInvocation] = {}

    def begin(
        self, function: str, request_id: str, credentials: SessionCredentials
    ) -> RunningInvocation:
        """Record an invocation that signs with ``credentials``."""
        running = RunningInvocation(function, request_id, credentials)
        with self._lock:
            self._by_key[credentials.access_key_id] = running
        return running

    def by_access_key(self, access_key_id: str) -> RunningInvocation | None:
        """The invocation that signs with this key (the last to, for a reused environment)."""
        with self._lock:
            return self._by_key.get(access_key_id)

    @staticmethod
    def current() -> RunningInvocation | None:
        """The invocation the calling thread works for, or ``None``."""
        running: RunningInvocation | None = getattr(
            threading.current_thread(), _THREAD_ATTRIBUTE, None
        )
        return running

    @staticmethod
    def adopt(thread: threading.Thread, running: RunningInvocation) -> None:
        """Make ``thread`` (not started yet) work for ``running``."""
        setattr(thread, _THREAD_ATTRIBUTE, running)

    def kill(self, running: RunningInvocation, cause: str) -> bool:
        """Kill ``running``: from now on nothing it sends is executed. False if already dead."""
        with self._lock:
            if running.dead.is_set():
                return False
            running.cause = cause
            running.dead.set()
        running.settled.set()
        LOGGER.warning("%s %s killed: %s", running.function, running.request_id, cause)
        return True


_lineage_lock = threading.Lock()
_lineage_followed = False


def follow_thread_lineage() -> None:
    """Make every thread started by a thread of an invocation work for that invocation too.

    A Lambda process's threads are the invocation's: when the sandbox dies, they die with it.
    Here they sign with the invocation's credentials, so a kill reaches them as well. Patched
    once per process (the server's), on ``threading.Thread.start``; a thread adopted
    explicitly keeps its invocation.
    """
    global _lineage_followed
    with _lineage_lock:
        if _lineage_followed:
            return
        original_start = threading.Thread.start

        def start(self: threading.Thread) -> None:
            parent = InvocationRegistry.current()
            if parent is not None and getattr(self, _THREAD_ATTRIBUTE, None) is None:
                setattr(self, _THREAD_ATTRIBUTE, parent)
            original_start(self)

        threading.Thread.start = start  # type: ignore[method-assign]
        _lineage_followed = True


# The one registry of the process: the server's runtime and fault injector share it.
INVOCATIONS: Final = InvocationRegistry()
