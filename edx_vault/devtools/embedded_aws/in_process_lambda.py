"""Lambda functions run in-process: the real handler modules, called like Lambda calls them.

moto runs a function's code in a Docker container, and has no hook to do anything else. The
server replaces that one method (``LambdaFunction._invoke_lambda``, see
:mod:`edx_vault.devtools.embedded_aws.moto_patches`) with :meth:`InProcessLambda.invoke`, which:

- finds the handler from the function's ``Handler`` string: ``"plan.handler"`` is the function
  ``handler`` of the first of ``{package}.plan`` (packages from ``--handler-package``, default
  ``lambdas``) that exists. The working tree's code runs, not the uploaded zip;
- applies the function's environment variables, plus what Lambda sets (function name, memory,
  region) and what reaches the embedded AWS (``AWS_ENDPOINT_URL``, dummy credentials), for the
  duration of the call, so a handler that builds ``boto3.client("s3")`` talks to this server;
- returns the result as JSON, or Lambda's error payload (``errorType``, ``errorMessage``,
  ``stackTrace``) with ``FunctionError: Unhandled``, so Step Functions' Retry and Catch see the
  exception's class name exactly as on AWS.

A Lambda function has a process of its own; here all functions share one, and Step Functions
calls them from many threads at once (a Distributed Map runs up to MaxConcurrency iterations).
Two things make that safe. :class:`FunctionGate` lets calls of one function run together (so
concurrency within a Map is real) and makes a call of another function wait until they are done,
since ``os.environ`` holds one function's variables at a time. :class:`ModuleSandboxes` gives each
function its own instances of the project's modules, so module-level state (a cached settings
object read from the environment, a GnuPG home) is never shared between functions.

Each invocation runs in an **execution environment** of its own, with credentials no other
running invocation holds: a session of the function's execution role named after the function,
as on Lambda. A finished invocation hands its environment to the next call of the function (a
warm start); one that died (killed by a ``crash`` fault, :mod:`edx_vault.devtools.embedded_aws.faults`, or
stopped at its timeout) takes it away, and every request still signed with its credentials is
dropped unexecuted, so nothing a dead handler does afterwards (an ``except`` or ``finally``
clean-up) reaches AWS, as with a killed process. Concurrent calls of one function share its
modules and their cached clients, so the credentials are picked per thread at signing time:
the handler's thread and every thread it starts sign with its invocation's session
(:class:`InvocationRegistry`). What still differs from Lambda is in ``docs/embedded-aws.md``
(no memory limit, concurrent calls of one function share its module state, third-party modules
are shared).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import secrets
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final

from botocore.credentials import (
    CredentialProvider,
    Credentials,
    EnvProvider,
    ReadOnlyCredentials,
)

from edx_vault.devtools.embedded_aws.deployed_code import DeployedCode, DeployedCodeCache
from edx_vault.devtools.embedded_aws.service_sessions import SessionCredentials, another_session

LOGGER = logging.getLogger("edx_vault.devtools.embedded_aws.lambda")

# Credentials a handler must not inherit from the server's own environment: the embedded AWS's
# dummy keys replace them, and a session token or profile from the host would not belong to them.
_HOST_CREDENTIAL_VARIABLES: Final = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SECURITY_TOKEN")


@dataclass(frozen=True)
class FunctionSpec:
    """What a call needs to know about the function, taken from moto's ``LambdaFunction``.

    Attributes
    ----------
    name, arn, version
        The function's name, ARN and version (``$LATEST``).
    handler
        The ``Handler`` string, ``"module.function"``.
    environment
        The function's environment variables.
    memory_size, timeout
        As configured: the timeout is enforced (``Sandbox.Timedout``), the memory is reported
        to the handler through the context only.
    region
        The function's region.
    role
        The execution role's ARN.
    deployed
        The function's deployed project code (its code asset and the layers' project
        packages), when the server has it: the handler is imported from there, not from the
        working tree.
    """

    name: str
    arn: str
    version: str
    handler: str
    environment: Mapping[str, str]
    memory_size: int
    timeout: int
    region: str
    role: str = ""
    deployed: DeployedCode | None = None

    @classmethod
    def from_moto(cls, function: Any) -> FunctionSpec:
        """Read a ``moto.awslambda.models.LambdaFunction``."""
        return cls(
            name=str(function.function_name),
            arn=str(function.function_arn),
            version=str(function.version),
            handler=str(function.handler),
            environment={str(k): str(v) for k, v in (function.environment_vars or {}).items()},
            memory_size=int(function.memory_size or 128),
            timeout=int(function.timeout or 3),
            region=str(function.region),
            role=str(function.role or ""),
        )


@dataclass
class LambdaContext:
    """The context object a Python handler receives, with the attributes Lambda's has."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float = field(repr=False)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout (which is not enforced here)."""
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    """The outcome of one call, in the shape moto's ``_invoke_lambda`` returns.

    Attributes
    ----------
    payload
        The JSON response: the handler's result, or Lambda's error document.
    errored
        The handler raised (or could not be found, or returned something not JSON).
    logs
        The log tail Lambda would return with ``LogType: Tail``.
    """

    payload: str
    errored: bool
    logs: str


# Lambda's report for a runtime process that died without answering, e.g. killed: "errorType":
# "Runtime.ExitError", "errorMessage": "RequestId: ... Error: Runtime exited with error: exit
# status 129" (AWS Knowledge Center, "How do I troubleshoot Lambda function runtime errors",
# lambda-runtime-error), "signal: killed" for a SIGKILL, with FunctionError "Unhandled". Step
# Functions' guide calls such unhandled errors Lambda.Unknown ("Handle Lambda service
# exceptions"); the vault's Retry names neither, so its behaviour does not hang on the name.
RUNTIME_EXIT_ERROR: Final = "Runtime.ExitError"
_KILLED: Final = "Runtime exited with error: signal: killed"


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


# The attribute a thread carries when it works for an invocation.
_THREAD_ATTRIBUTE: Final = "_edx_vault_invocation"
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


class FunctionGate:
    """Lets calls of the same function run together; a call of another one waits its turn.

    While calls of one function run, the process is set up for it (its environment, its
    modules); :meth:`entered` sets it up when the first call comes in and undoes it when the
    last one leaves. Waiting calls are served in order of arrival: once a call of another
    function waits, later calls of the running one queue behind it, so none starves.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._current: Hashable | None = None
        self._undo: Callable[[], None] = lambda: None
        self._active = 0
        self._queue: list[tuple[object, Hashable]] = []

    @contextmanager
    def entered(self, key: Hashable, set_up: Callable[[], Callable[[], None]]) -> Iterator[None]:
        """Run the block with the process set up for ``key``.

        Parameters
        ----------
        key
            Identifies what the block needs (equal keys may share the set-up).
        set_up
            Called when the first holder of ``key`` enters; returns the function that undoes
            it, called when the last one leaves.
        """
        ticket = object()
        with self._condition:
            self._queue.append((ticket, key))
            while not self._may_enter(ticket, key):
                self._condition.wait()
            self._queue.remove((ticket, key))
            if self._active == 0:
                self._undo = set_up()
                self._current = key
            self._active += 1
        try:
            yield
        finally:
            with self._condition:
                self._active -= 1
                if self._active == 0:
                    self._undo()
                    self._current = None
                self._condition.notify_all()

    def _may_enter(self, ticket: object, key: Hashable) -> bool:
        if self._active > 0 and key != self._current:
            return False
        # Only calls with the same key may be ahead of this one in the queue.
        for waiting, waiting_key in self._queue:
            if waiting is ticket:
                return True
            if waiting_key != key:
                return False
        return False


def apply_environment(environment: Mapping[str, str | None]) -> Callable[[], None]:
    """Set (or, for ``None``, remove) variables in ``os.environ``; return what restores them."""
    saved: dict[str, str | None] = {}
    for name, value in environment.items():
        saved[name] = os.environ.get(name)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value

    def restore() -> None:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    return restore


class ModuleSandboxes:
    """Gives each function its own instances of the project's modules, as its own process would.

    Lambda runs every function in its own process, so module-level state (a
    ``functools.cache`` of settings read from the environment, a client, a GnuPG home) belongs to
    one function. Here all functions share one interpreter: without this, the first function to
    import ``edx_vault.pipeline.lambda_runtime`` would fix its cached settings for every other function.

    The modules of the given top-level packages (the handler packages' and ``edx_vault``) are
    swapped in and out of ``sys.modules`` (and their parent packages' attributes) per function:
    a function's first call imports them afresh, later calls get the same instances back.
    Modules already imported when the sandboxes were made (the server's own, such as
    ``edx_vault.devtools.embedded_aws``) stay shared. Third-party packages are shared, as they would be
    from a layer (their state is not the function's).
    """

    def __init__(self, packages: Sequence[str], *, shared: Sequence[str] = ()) -> None:
        self._packages = frozenset(package.split(".")[0] for package in packages)
        self._shared = tuple(shared)
        self._baseline = self._isolated_now()
        self._saved: dict[Hashable, dict[str, ModuleType]] = {}

    def _isolated(self, name: str) -> bool:
        if name.split(".")[0] not in self._packages:
            return False
        return not any(name == shared or name.startswith(f"{shared}.") for shared in self._shared)

    def _isolated_now(self) -> dict[str, ModuleType]:
        return {
            name: module
            for name, module in list(sys.modules.items())
            if module is not None and self._isolated(name)
        }

    @staticmethod
    def _link(name: str, module: ModuleType) -> None:
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules.get(parent_name) if parent_name else None
        if parent is not None:
            setattr(parent, child, module)

    @staticmethod
    def _unlink(name: str, module: ModuleType) -> None:
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules.get(parent_name) if parent_name else None
        if parent is not None and getattr(parent, child, None) is module:
            delattr(parent, child)

    def activate(
        self, key: Hashable, *, deployed: DeployedCode | None = None
    ) -> Callable[[], None]:
        """Install ``key``'s modules; return what puts them away again.

        With ``deployed``, the function's modules come from its deployed code: its view goes
        first on ``sys.path``, its top-level modules are isolated too, and the server's own
        instances of the isolated packages are hidden while it runs, so ``import edx_vault``
        finds the layer's package (the shared ones, such as ``edx_vault.devtools.embedded_aws``, stay).
        """
        hidden: dict[str, ModuleType] = {}
        if deployed is not None:
            self._packages = self._packages | deployed.modules
            hidden = self._isolated_now()
            for name in sorted(hidden, reverse=True):
                del sys.modules[name]
            sys.path.insert(0, str(deployed.view))
        for name, module in sorted(self._saved.pop(key, {}).items()):
            sys.modules[name] = module
            self._link(name, module)

        def deactivate() -> None:
            if deployed is not None:
                sys.path.remove(str(deployed.view))
            own = {
                name: module
                for name, module in self._isolated_now().items()
                if self._baseline.get(name) is not module
            }
            self._saved[key] = own
            for name, module in sorted(own.items(), reverse=True):
                del sys.modules[name]
                self._unlink(name, module)
            for name, module in sorted({**hidden, **self._baseline}.items()):
                sys.modules[name] = module
                self._link(name, module)

        return deactivate


class HandlerNotFoundError(Exception):
    """The Handler string names no module or function in the handler packages."""


@dataclass
class InProcessLambda:
    """Runs Lambda invocations in this process.

    Parameters
    ----------
    endpoint
        This server's URL, given to handlers as ``AWS_ENDPOINT_URL``.
    handler_packages
        Packages searched, in order, for the module a Handler string names.
    access_key_id, secret_access_key
        The credentials handlers get when ``role_credentials`` is not set.
    role_credentials
        Gives the session of the function's execution role that its handler runs with, as
        Lambda does (``(access key id, secret, session token)``; the strict embedded AWS). It
        is the one the environment's variables hold.
    deployed_code
        Unpacks functions' deployed code; without it handlers come from the working tree.
    invocations
        Where running invocations are recorded (the fault injector kills them there).
    """

    endpoint: str
    handler_packages: Sequence[str]
    access_key_id: str
    secret_access_key: str
    role_credentials: Callable[[FunctionSpec], tuple[str, str, str]] | None = None
    deployed_code: DeployedCodeCache | None = None
    gate: FunctionGate = field(default_factory=FunctionGate)
    invocations: InvocationRegistry = field(default_factory=lambda: INVOCATIONS)
    _sandboxes: ModuleSandboxes | None = field(default=None, init=False)
    _handlers: dict[Hashable, Callable[..., Any]] = field(default_factory=dict, init=False)
    _import_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _default_sessions: dict[Hashable, Any] = field(default_factory=dict, init=False)
    # Execution environments no invocation is using, per function (their credentials).
    _idle: dict[Hashable, list[SessionCredentials]] = field(default_factory=dict, init=False)
    _idle_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def sandboxes(self) -> ModuleSandboxes:
        """The per-function module sets (made on first use, when the server is set up)."""
        if self._sandboxes is None:
            self._sandboxes = ModuleSandboxes(
                (*self.handler_packages, "edx_vault"), shared=("edx_vault.devtools.embedded_aws",)
            )
        return self._sandboxes

    def resolve(
        self, key: Hashable, handler: str, *, deployed: DeployedCode | None = None
    ) -> Callable[..., Any]:
        """The function a Handler string names, for the function ``key`` (imported once).

        From the deployed code when there is some (``plan.handler`` is ``plan`` at its root,
        as in ``/var/task``), else from the handler packages of the working tree.
        """
        with self._import_lock:
            if key in self._handlers:
                return self._handlers[key]
            module_name, _, function_name = handler.rpartition(".")
            if not module_name or not function_name:
                raise HandlerNotFoundError(f"Bad handler '{handler}': not module.function")
            tried = []
            packages = ("",) if deployed is not None else self.handler_packages
            for package in packages:
                qualified = f"{package}.{module_name}" if package else module_name
                tried.append(qualified)
                try:
                    module = importlib.import_module(qualified)
                except ModuleNotFoundError as error:
                    if error.name is not None and qualified.startswith(error.name):
                        continue  # this package has no such module: try the next one
                    raise
                function = getattr(module, function_name, None)
                if not callable(function):
                    raise HandlerNotFoundError(
                        f"Handler '{function_name}' missing on module '{qualified}'"
                    )
                resolved: Callable[..., Any] = function
                self._handlers[key] = resolved
                return resolved
            raise HandlerNotFoundError(
                f"Unable to import module '{module_name}': none of {', '.join(tried)} exists"
            )

    def _activate_default_session(self, key: Hashable) -> Callable[[], None]:
        """Give the function its own ``boto3`` default session while it runs.

        ``boto3.client()`` builds one default session per process on first use, and that
        session keeps the credentials it first read from the environment. Each function runs
        with its own role's credentials, so each gets its own default session (made on its
        first ``boto3.client()``, from its environment), as each Lambda function has its own
        process. boto3 itself is shared, so the session is swapped, not the module.
        """
        import boto3

        with self._import_lock:
            saved = boto3.DEFAULT_SESSION
            session = self._default_sessions.get(key)
            if session is None:
                session = boto3.Session()
                # Its clients sign as the invocation the calling thread works for.
                resolver = session._session.get_component("credential_provider")
                resolver.insert_before("env", _InvocationCredentialProvider(self.invocations))
            boto3.DEFAULT_SESSION = session

        def put_away() -> None:
            with self._import_lock:
                if boto3.DEFAULT_SESSION is not None:
                    self._default_sessions[key] = boto3.DEFAULT_SESSION
                boto3.DEFAULT_SESSION = saved

        return put_away

    def environment_for(self, function: FunctionSpec) -> dict[str, str | None]:
        """The variables set while ``function`` runs (``None``: removed)."""
        environment: dict[str, str | None] = dict.fromkeys(_HOST_CREDENTIAL_VARIABLES)
        environment.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": function.name,
                "AWS_LAMBDA_FUNCTION_VERSION": function.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
                "_HANDLER": function.handler,
                "AWS_REGION": function.region,
                "AWS_DEFAULT_REGION": function.region,
                "AWS_ACCESS_KEY_ID": self.access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_ENDPOINT_URL": self.endpoint,
            }
        )
        if self.role_credentials is not None:
            key_id, secret, token = self.role_credentials(function)
            environment.update(
                AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret, AWS_SESSION_TOKEN=token
            )
        # The function's own variables win, as on Lambda (except the reserved ones above,
        # which Lambda does not let a function set).
        for name, value in function.environment.items():
            if name not in environment:
                environment[name] = value
        return environment

    def _take_environment(
        self, key: Hashable, function: FunctionSpec, environment: Mapping[str, str | None]
    ) -> SessionCredentials:
        """An idle execution environment's credentials (a warm start), or a new one's.

        A new environment gets, with ``role_credentials``, another session of the same role
        named after the function (:func:`~edx_vault.devtools.embedded_aws.service_sessions.another_session`);
        without, random keys (the lenient embedded AWS checks none).
        """
        with self._idle_lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop()
        if self.role_credentials is not None:
            return another_session(
                str(environment["AWS_ACCESS_KEY_ID"]),
                account=function.arn.split(":")[4],
                region=function.region,
                session_name=function.name,
            )
        return SessionCredentials(
            access_key_id=f"ASIA{secrets.token_hex(8).upper()}",
            secret_access_key=secrets.token_urlsafe(30),
            session_token=secrets.token_urlsafe(48),
        )

    def _give_back_environment(self, key: Hashable, running: RunningInvocation) -> None:
        """A live invocation's environment serves the next call; a dead one's is gone."""
        if running.dead.is_set():
            return
        with self._idle_lock:
            self._idle.setdefault(key, []).append(running.credentials)

    def invoke(self, function: FunctionSpec, event: Any) -> Invocation:
        """Call the function's handler with ``event``, as Lambda's Python runtime does."""
        follow_thread_lineage()
        request_id = str(uuid.uuid4())
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        context = LambdaContext(
            function_name=function.name,
            function_version=function.version,
            invoked_function_arn=function.arn,
            memory_limit_in_mb=function.memory_size,
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{function.name}",
            log_stream_name=f"embedded/[{function.version}]{request_id.replace('-', '')}",
            deadline=time.monotonic() + function.timeout,
        )
        started = time.monotonic()
        running: RunningInvocation | None = None
        key: Hashable = function.arn
        try:
            environment = self.environment_for(function)
            key = (function.arn, tuple(sorted(environment.items(), key=lambda item: item[0])))
            running = self.invocations.begin(
                function.name, request_id, self._take_environment(key, function, environment)
            )
            sandboxes = self.sandboxes()

            def set_up() -> Callable[[], None]:
                restore_environment = apply_environment(environment)
                put_modules_away = sandboxes.activate(key, deployed=function.deployed)
                put_session_away = self._activate_default_session(key)

                def undo() -> None:
                    put_session_away()
                    put_modules_away()
                    restore_environment()

                return undo

            def call() -> Any:
                with self.gate.entered(key, set_up):
                    # Imported with the function's environment applied, as on a cold start:
                    # module-level code (a Powertools Logger or Metrics) reads it at import.
                    handler = self.resolve(key, function.handler, deployed=function.deployed)
                    return handler(event, context)

            result = self._run(call, running, function.timeout)
            payload = json.dumps(result)
            if len(payload.encode()) > PAYLOAD_LIMIT_BYTES:
                raise ResponseSizeTooLargeError(
                    f"Response payload size ({len(payload.encode())} bytes) exceeded maximum "
                    f"allowed payload size ({PAYLOAD_LIMIT_BYTES} bytes)."
                )
        except Exception as error:
            payload = json.dumps(_error_document(error, request_id))
            errored = True
            LOGGER.warning(
                "%s %s failed: %s: %s",
                function.name,
                request_id,
                _error_type(error),
                error,
            )
        else:
            errored = False
        finally:
            if running is not None:
                self._give_back_environment(key, running)
        duration_ms = (time.monotonic() - started) * 1000
        LOGGER.info("%s %s took %.0f ms", function.name, request_id, duration_ms)
        died = (
            f"RequestId: {request_id} Error: {_KILLED}\n{RUNTIME_EXIT_ERROR}\n"
            if running is not None and running.dead.is_set() and running.cause != _TIMEOUT
            else ""
        )
        logs = (
            f"START RequestId: {request_id} Version: {function.version}\n{died}"
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Memory Size: {function.memory_size} MB\n"
        )
        return Invocation(payload=payload, errored=errored, logs=logs)

    def _run(
        self, call: Callable[[], Any], running: RunningInvocation, timeout_seconds: int
    ) -> Any:
        """``call()``'s result, or Lambda's error once the invocation died or timed out.

        Lambda stops a function at its timeout, and a killed runtime answers nothing. A thread
        cannot be stopped, so the handler runs in a thread of its own, working for ``running``,
        and the caller gets the error on time. The handler's thread may run on in the background
        (holding its function's environment until it is done) but the invocation is dead: every
        request it still sends is dropped unexecuted, and its result is dropped, as Lambda drops
        the work of a sandbox it stopped.
        """
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = call()
            except BaseException as error:  # handed to the caller below
                outcome["error"] = error
            finally:
                running.settled.set()

        worker = threading.Thread(target=run, name="lambda-handler", daemon=True)
        self.invocations.adopt(worker, running)
        worker.start()
        finished = running.settled.wait(timeout_seconds)
        # A kill wins over whatever the handler did after it (it only saw dropped connections).
        if running.dead.is_set() and running.cause != _TIMEOUT:
            raise RuntimeExitError(f"RequestId: {running.request_id} Error: {_KILLED}")
        if not finished:
            self.invocations.kill(running, _TIMEOUT)
            raise SandboxTimedoutError(
                f"RequestId: {running.request_id} Error: Task timed out after "
                f"{timeout_seconds:.2f} seconds"
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]


# Lambda's quota for a synchronous invocation's request and response: "6 MB each for request
# and response (synchronous)" (Lambda quotas, "Invocation payload"); in bytes, 6,291,456.
PAYLOAD_LIMIT_BYTES: Final = 6 * 1024 * 1024


class SandboxTimedoutError(Exception):
    """The handler ran past the function's timeout (Lambda stops it: ``Sandbox.Timedout``)."""


class ResponseSizeTooLargeError(Exception):
    """The handler's result is over Lambda's synchronous response limit."""


class RuntimeExitError(Exception):
    """The invocation was killed (a ``crash`` fault): its runtime answered nothing."""


# The cause of an invocation stopped at its timeout (it is dead too, but not a crash).
_TIMEOUT: Final = "timeout"


def _error_type(error: Exception) -> str:
    if isinstance(error, SandboxTimedoutError):
        return "Sandbox.Timedout"
    if isinstance(error, RuntimeExitError):
        return RUNTIME_EXIT_ERROR
    if isinstance(error, ResponseSizeTooLargeError):
        return "Function.ResponseSizeTooLarge"
    if isinstance(error, HandlerNotFoundError):
        return "Runtime.ImportModuleError" if "import" in str(error) else "Runtime.HandlerNotFound"
    if isinstance(error, TypeError | ValueError) and "JSON serializable" in str(error):
        return "Runtime.MarshalError"
    return type(error).__name__


def _error_document(error: Exception, request_id: str) -> dict[str, Any]:
    """Lambda's Python runtime's document for an unhandled exception."""
    if isinstance(error, RuntimeExitError):
        # A dead runtime reports nothing of its own: Lambda writes the document.
        return {"errorType": RUNTIME_EXIT_ERROR, "errorMessage": str(error)}
    return {
        "errorMessage": str(error),
        "errorType": _error_type(error),
        "requestId": request_id,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }
