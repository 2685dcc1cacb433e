"""The process set up for one function at a time: its environment variables and its modules.

One process stands in for every function's own. :class:`FunctionGate` lets calls of one function
run together and makes a call of another wait, since ``os.environ`` holds one function's
variables at a time (:func:`apply_environment`); :class:`ModuleSandboxes` gives each function
its own instances of the project's modules.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType

from edx_vault.devtools.embedded_aws.deployed_code import DeployedCode

LOGGER = logging.getLogger("edx_vault.devtools.embedded_aws")
# What a module may define to let go of what the process's exit would end on Lambda (a
# gpg-agent it started): called when its sandbox is recycled.
END_SANDBOX_HOOK = "end_sandbox"


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

    def recycle(self) -> int:
        """Forget every function's modules not in use now; the next call imports them afresh.

        What Lambda does to an idle execution environment some minutes after its last call: a
        weekly run always starts cold, so module-level caches (settings, clients, secrets read
        once per sandbox) never carry over from the week before. A module's
        ``end_sandbox()``, if it has one, is called first, for what the process's exit would
        end (a gpg-agent). Returns how many functions' sandboxes were recycled.
        """
        recycled = 0
        for key in list(self._saved):
            modules = self._saved.pop(key, None)
            if modules is None:
                continue
            recycled += 1
            for name, module in sorted(modules.items()):
                hook = getattr(module, END_SANDBOX_HOOK, None)
                if callable(hook):
                    try:
                        hook()
                    except Exception:
                        LOGGER.exception(
                            "%s.%s failed while recycling a sandbox", name, END_SANDBOX_HOOK
                        )
        return recycled
