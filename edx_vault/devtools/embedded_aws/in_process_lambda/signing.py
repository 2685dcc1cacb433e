"""Each function's boto3 default session, whose clients sign as the calling thread's invocation.

Concurrent calls of one function share the clients their modules cached, and each invocation
signs with credentials of its own: so the credentials are picked when botocore signs, by the
thread making the call (:class:`~.invocations.InvocationRegistry`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, Final

from botocore.credentials import (
    CredentialProvider,
    Credentials,
    EnvProvider,
    ReadOnlyCredentials,
)

from edx_vault.devtools.embedded_aws.in_process_lambda.invocations import InvocationRegistry

# How botocore names where a function's credentials come from.
_PROVIDER_METHOD: Final = "edx-vault-invocation"


class _InvocationCredentials(Credentials):
    """A function's boto3 credentials: those of the invocation the signing thread works for.

    botocore asks the credentials for a frozen copy each time it signs a request, in the thread
    making the call; concurrent calls of one function share the clients their module cached,
    so the answer depends on the thread. A thread of no invocation signs with the
    environment's variables (the function's role session).
    """

    def __init__(self, registry: InvocationRegistry, fallback: ReadOnlyCredentials) -> None:
        super().__init__(
            fallback.access_key or "", fallback.secret_key or "", fallback.token, _PROVIDER_METHOD
        )
        self._registry = registry

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        running = self._registry.current()
        if running is None:
            return super().get_frozen_credentials()
        own = running.credentials
        return ReadOnlyCredentials(own.access_key_id, own.secret_access_key, own.session_token)


class _InvocationCredentialProvider(CredentialProvider):
    """Put first in a function's boto3 session: its clients sign as the calling invocation."""

    METHOD = _PROVIDER_METHOD
    CANONICAL_NAME = "EdxVaultInvocation"

    def __init__(self, registry: InvocationRegistry) -> None:
        super().__init__()
        self._registry = registry

    def load(self) -> Credentials | None:
        fallback = EnvProvider().load()
        if fallback is None:
            return None
        return _InvocationCredentials(self._registry, fallback.get_frozen_credentials())


class DefaultSessions:
    """Gives each function its own ``boto3`` default session while it runs.

    ``boto3.client()`` builds one default session per process on first use, and that session
    keeps the credentials it first read from the environment. Each function runs with its own
    role's credentials, so each gets its own default session (made on its first
    ``boto3.client()``, from its environment), as each Lambda function has its own process.
    boto3 itself is shared, so the session is swapped, not the module.
    """

    def __init__(self, registry: InvocationRegistry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._sessions: dict[Hashable, Any] = {}

    def activate(self, key: Hashable) -> Callable[[], None]:
        """Make function ``key``'s session the default; return what puts it away again."""
        import boto3

        with self._lock:
            saved = boto3.DEFAULT_SESSION
            session = self._sessions.get(key)
            if session is None:
                session = boto3.Session()
                # Its clients sign as the invocation the calling thread works for.
                resolver = session._session.get_component("credential_provider")
                resolver.insert_before("env", _InvocationCredentialProvider(self._registry))
            boto3.DEFAULT_SESSION = session

        def put_away() -> None:
            with self._lock:
                if boto3.DEFAULT_SESSION is not None:
                    self._sessions[key] = boto3.DEFAULT_SESSION
                boto3.DEFAULT_SESSION = saved

        return put_away
