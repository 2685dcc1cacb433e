"""One invocation, start to answer: the handler, the execution environment and its
credentials, the call in a thread of its own (stopped at the timeout), and Lambda's answer.
"""

from __future__ import annotations

import importlib
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from edx_vault.devtools.embedded_aws.deployed_code import DeployedCode, DeployedCodeCache
from edx_vault.devtools.embedded_aws.in_process_lambda.function_spec import (
    FunctionSpec,
    LambdaContext,
)
from edx_vault.devtools.embedded_aws.in_process_lambda.invocations import (
    INVOCATIONS,
    InvocationRegistry,
    RunningInvocation,
    follow_thread_lineage,
)
from edx_vault.devtools.embedded_aws.in_process_lambda.lambda_answers import (
    KILLED,
    TIMEOUT,
    HandlerNotFoundError,
    Invocation,
    RuntimeExitError,
    SandboxTimedoutError,
    error_payload,
    error_type,
    log_tail,
    result_payload,
)
from edx_vault.devtools.embedded_aws.in_process_lambda.sandbox import (
    FunctionGate,
    ModuleSandboxes,
    apply_environment,
)
from edx_vault.devtools.embedded_aws.in_process_lambda.signing import DefaultSessions
from edx_vault.devtools.embedded_aws.service_sessions import SessionCredentials, another_session

LOGGER = logging.getLogger("edx_vault.devtools.embedded_aws.lambda")

# Credentials a handler must not inherit from the server's own environment: the embedded AWS's
# dummy keys replace them, and a session token or profile from the host would not belong to them.
_HOST_CREDENTIAL_VARIABLES: Final = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SECURITY_TOKEN")


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
    _default_sessions: DefaultSessions = field(init=False)
    # Execution environments no invocation is using, per function (their credentials).
    _idle: dict[Hashable, list[SessionCredentials]] = field(default_factory=dict, init=False)
    _idle_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._default_sessions = DefaultSessions(self.invocations)

    def sandboxes(self) -> ModuleSandboxes:
        """The per-function module sets (made on first use, when the server is set up)."""
        if self._sandboxes is None:
            self._sandboxes = ModuleSandboxes(
                (*self.handler_packages, "edx_vault"), shared=("edx_vault.devtools.embedded_aws",)
            )
        return self._sandboxes

    def recycle_sandboxes(self) -> int:
        """Start every function cold at its next call (see :meth:`ModuleSandboxes.recycle`).

        Call it between runs, while no function runs: a handler resolved from the old modules
        is forgotten with them.
        """
        with self._import_lock:
            self._handlers.clear()
            return self.sandboxes().recycle()

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
        context = LambdaContext.of(function, request_id)
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
                put_session_away = self._default_sessions.activate(key)

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

            payload = result_payload(self._run(call, running, function.timeout))
        except Exception as error:
            payload = error_payload(error, request_id)
            errored = True
            LOGGER.warning(
                "%s %s failed: %s: %s", function.name, request_id, error_type(error), error
            )
        else:
            errored = False
        finally:
            if running is not None:
                self._give_back_environment(key, running)
        duration_ms = (time.monotonic() - started) * 1000
        LOGGER.info("%s %s took %.0f ms", function.name, request_id, duration_ms)
        killed = running is not None and running.dead.is_set() and running.cause != TIMEOUT
        logs = log_tail(
            request_id, function.version, function.memory_size, duration_ms, killed=killed
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
        if running.dead.is_set() and running.cause != TIMEOUT:
            raise RuntimeExitError(f"RequestId: {running.request_id} Error: {KILLED}")
        if not finished:
            self.invocations.kill(running, TIMEOUT)
            raise SandboxTimedoutError(
                f"RequestId: {running.request_id} Error: Task timed out after "
                f"{timeout_seconds:.2f} seconds"
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]
