"""Lambda handlers in one process: each function its own environment and modules, as on Lambda."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from edx_vault.devtools.embedded_aws.in_process_lambda.function_spec import FunctionSpec
from edx_vault.devtools.embedded_aws.in_process_lambda.invocations import InvocationRegistry
from edx_vault.devtools.embedded_aws.in_process_lambda.runtime import InProcessLambda
from edx_vault.devtools.embedded_aws.in_process_lambda.sandbox import (
    FunctionGate,
    ModuleSandboxes,
    apply_environment,
)
from tests.local import fixture_app

ENDPOINT = "http://127.0.0.1:9"  # never called: these handlers make no AWS call


def spec(name: str, handler: str, *, timeout: int = 30, **environment: str) -> FunctionSpec:
    return FunctionSpec(
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        version="$LATEST",
        handler=handler,
        environment=environment,
        memory_size=256,
        timeout=timeout,
        region="us-east-1",
    )


@pytest.fixture
def runtime() -> InProcessLambda:
    return InProcessLambda(
        endpoint=ENDPOINT,
        handler_packages=(fixture_app.HANDLER_PACKAGE,),
        access_key_id="testing",
        secret_access_key="testing",
    )


def test_each_function_keeps_its_own_module_state_and_environment(
    runtime: InProcessLambda,
) -> None:
    # Given two functions with the same handler module but different settings
    first = spec("first", "cached_settings.handler", FIXTURE_GREETING="one")
    second = spec("second", "cached_settings.handler", FIXTURE_GREETING="two")
    # When they are called in turn, twice each
    results = [
        json.loads(runtime.invoke(function, {}).payload)
        for function in (first, second, first, second)
    ]
    # Then each saw, and cached, its own setting, and the endpoint of the embedded AWS
    assert [(r["function"], r["cached"], r["environment"]) for r in results] == [
        ("first", "one", "one"),
        ("second", "two", "two"),
        ("first", "one", "one"),
        ("second", "two", "two"),
    ]
    assert {r["endpoint"] for r in results} == {ENDPOINT}
    # And nothing is left behind in this process
    assert "FIXTURE_GREETING" not in os.environ
    assert f"{fixture_app.HANDLER_PACKAGE}.cached_settings" not in sys.modules


def test_recycled_sandboxes_start_cold_and_end_what_they_started(
    runtime: InProcessLambda, tmp_path: Path
) -> None:
    # Given a function warm after two calls (its module state carried from call to call)
    end_log = tmp_path / "ended.log"
    function = spec(
        "weekly", "cached_settings.handler", FIXTURE_GREETING="hi", FIXTURE_END_LOG=str(end_log)
    )
    served = [json.loads(runtime.invoke(function, {}).payload)["served"] for _ in range(2)]
    # When its idle sandbox is recycled (as Lambda ends idle environments between weekly runs)
    recycled = runtime.recycle_sandboxes()
    # Then the next call starts cold, and the old sandbox's end_sandbox hook ran once
    assert served == [1, 2]
    assert recycled == 1
    assert json.loads(runtime.invoke(function, {}).payload)["served"] == 1
    assert end_log.read_text() == "ended after 2 calls\n"


def test_the_sandbox_control_endpoint_recycles_on_post_only() -> None:
    from edx_vault.devtools.embedded_aws.in_process_lambda.control import (
        SANDBOXES_PATH,
        with_sandbox_control,
    )

    # Given the control wrapped around an application, over a runtime that counts recycles
    class Counting:
        recycles = 0

        def recycle_sandboxes(self) -> int:
            self.recycles += 1
            return 3

    counting = Counting()
    statuses: list[str] = []
    served = with_sandbox_control(counting, lambda environ, start: [b"aws"])

    def call(method: str, path: str) -> bytes:
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path}
        return b"".join(served(environ, lambda status, headers: statuses.append(status)))

    # When it gets a POST and a GET on its path, and a request for anything else
    # Then only the POST recycles, and other paths reach the application
    assert json.loads(call("POST", SANDBOXES_PATH)) == {"recycled": 3}
    assert call("GET", SANDBOXES_PATH) == b""
    assert call("POST", "/") == b"aws"
    assert counting.recycles == 1
    assert statuses == ["200 OK", "405 Method Not Allowed"]


def test_calls_of_one_function_run_concurrently(runtime: InProcessLambda) -> None:
    function = spec("parallel", "cached_settings.handler", FIXTURE_GREETING="hi")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: runtime.invoke(function, {"sleep": 0.2}), range(4)))
    peaks = [json.loads(result.payload)["peak"] for result in results]
    assert max(peaks) > 1


def test_a_missing_handler_module_is_lambdas_import_error(runtime: InProcessLambda) -> None:
    invocation = runtime.invoke(spec("missing", "no_such_module.handler"), {})
    assert invocation.errored
    assert json.loads(invocation.payload)["errorType"] == "Runtime.ImportModuleError"


def test_a_result_that_is_not_json_is_lambdas_marshal_error(runtime: InProcessLambda) -> None:
    function = spec("marshal", "cached_settings.handler", FIXTURE_GREETING="x")
    invocation = runtime.invoke(function, {"unserializable": True})
    assert invocation.errored
    assert json.loads(invocation.payload)["errorType"] == "Runtime.MarshalError"


def test_a_handler_past_its_timeout_fails_as_lambdas_sandbox_timeout(
    runtime: InProcessLambda,
) -> None:
    # Given a function with a one-second timeout
    function = spec("slow", "cached_settings.handler", timeout=1, FIXTURE_GREETING="x")
    # When one call finishes in time and another runs past it
    in_time = runtime.invoke(function, {"sleep": 0.1})
    started = time.monotonic()
    too_slow = runtime.invoke(function, {"sleep": 2.5})
    waited = time.monotonic() - started
    # Then only the second fails, with Lambda's error, as soon as the timeout passes
    assert not in_time.errored
    assert too_slow.errored
    error = json.loads(too_slow.payload)
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert waited < 2.0


def test_a_response_over_six_mb_fails_as_lambda_refuses_it(runtime: InProcessLambda) -> None:
    # Given a function whose result is just under, then just over, Lambda's 6 MB response limit
    function = spec("big", "cached_settings.handler", FIXTURE_GREETING="x")
    limit = 6 * 1024 * 1024
    # When each is returned
    under = runtime.invoke(function, {"padding": limit - 1024})
    over = runtime.invoke(function, {"padding": limit})
    # Then only the one over the limit fails, with Lambda's error type
    assert not under.errored
    assert over.errored
    assert json.loads(over.payload)["errorType"] == "Function.ResponseSizeTooLarge"


def test_the_gate_never_lets_two_functions_overlap_but_lets_one_share() -> None:
    gate = FunctionGate()
    inside: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    lock = threading.Lock()

    def call(key: str) -> None:
        with gate.entered(key, lambda: lambda: None):
            with lock:
                inside.append(key)
                overlaps.append(tuple(sorted(set(inside))))
            time.sleep(0.05)
            with lock:
                inside.remove(key)

    keys = ["a", "a", "b", "a", "b", "b"]
    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        list(pool.map(call, keys))
    assert all(len(seen) == 1 for seen in overlaps), overlaps


def test_the_gate_sets_up_once_per_turn_and_undoes_when_the_last_call_leaves() -> None:
    gate = FunctionGate()
    log: list[str] = []

    def set_up(key: str) -> Callable[[], Callable[[], None]]:
        def do() -> Callable[[], None]:
            log.append(f"up {key}")
            return lambda: log.append(f"down {key}")

        return do

    with gate.entered("a", set_up("a")), gate.entered("a", set_up("a")):
        pass
    with gate.entered("b", set_up("b")):
        pass
    assert log == ["up a", "down a", "up b", "down b"]


def test_module_sandboxes_give_each_key_its_own_module_instances(tmp_path: Path) -> None:
    # Given a package with module-level state, not yet imported
    package = tmp_path / "sandboxed_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "state.py").write_text("VALUES = []\n")
    sys.path.insert(0, str(tmp_path))
    try:
        sandboxes = ModuleSandboxes(["sandboxed_pkg"])
        # When two keys import and change it in turn
        put_away = sandboxes.activate("first")
        import sandboxed_pkg.state as first_state  # type: ignore[import-not-found]

        first_state.VALUES.append("first")
        put_away()
        put_away = sandboxes.activate("second")
        import sandboxed_pkg.state as second_state

        put_away()
        put_away = sandboxes.activate("first")
        import sandboxed_pkg.state as first_again

        put_away()
    finally:
        sys.path.remove(str(tmp_path))
    # Then each key had its own module, and got the same one back
    assert second_state is not first_state
    assert second_state.VALUES == []
    assert first_again is first_state
    assert first_again.VALUES == ["first"]
    assert "sandboxed_pkg" not in sys.modules


def test_apply_environment_restores_what_was_there() -> None:
    os.environ["EDXV_TEST_KEPT"] = "before"
    os.environ.pop("EDXV_TEST_NEW", None)
    restore = apply_environment({"EDXV_TEST_KEPT": None, "EDXV_TEST_NEW": "during"})
    assert "EDXV_TEST_KEPT" not in os.environ
    assert os.environ["EDXV_TEST_NEW"] == "during"
    restore()
    assert os.environ.pop("EDXV_TEST_KEPT") == "before"
    assert "EDXV_TEST_NEW" not in os.environ


def signing_keys(event: dict[str, Any], context: Any) -> dict[str, str]:
    """The key boto3's default session signs with, in the handler's thread and in one it starts
    (a handler of this module: Handler ``test_in_process_lambda.signing_keys``)."""

    def own_key() -> str:
        assert boto3.DEFAULT_SESSION is not None
        credentials = boto3.DEFAULT_SESSION.get_credentials()
        assert credentials is not None
        return str(credentials.get_frozen_credentials().access_key)

    seen: dict[str, str] = {}
    time.sleep(float(event.get("sleep", 0)))
    helper = threading.Thread(target=lambda: seen.update(child=own_key()))
    helper.start()
    helper.join()
    return {
        "main": own_key(),
        "child": seen["child"],
        "environment": os.environ["AWS_ACCESS_KEY_ID"],
    }


def test_each_running_invocation_signs_with_an_environment_of_its_own() -> None:
    # Given a function whose handler reports the key its boto3 clients sign with
    runtime = InProcessLambda(
        endpoint=ENDPOINT,
        handler_packages=("tests.local",),
        access_key_id="testing",
        secret_access_key="testing",
        invocations=InvocationRegistry(),
    )
    function = spec("keys", "test_in_process_lambda.signing_keys")
    # When three calls run at once, then one more after them
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(lambda _: runtime.invoke(function, {"sleep": 0.3}), range(3)))
    later = runtime.invoke(function, {})
    keys = [json.loads(result.payload) for result in (*together, later)]
    # Then each running call had keys no other running call had, in every thread it started,
    # and none signs with the environment's variables (the function's role session)
    assert len({k["main"] for k in keys[:3]}) == 3
    assert all(k["child"] == k["main"] and k["main"] != k["environment"] for k in keys)
    # And the later call was a warm start: it got one of the finished calls' environments
    assert keys[3]["main"] in {k["main"] for k in keys[:3]}
