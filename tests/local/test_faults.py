"""Fault injection: matching calls fail as AWS and networks fail, the rest are untouched; a
crash kills the Lambda invocation making the call, and nothing it sends afterwards is executed."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from werkzeug.serving import make_server

from edx_vault.devtools.embedded_aws.api_requests import read_signature
from edx_vault.devtools.embedded_aws.aws_responses import read_body, request_headers
from edx_vault.devtools.embedded_aws.faults.control import CONTROL_PATH, fired, set_faults
from edx_vault.devtools.embedded_aws.faults.injector import FaultInjector
from edx_vault.devtools.embedded_aws.faults.rules import (
    FaultRule,
    FaultRuleError,
    rules_from_list,
    rules_from_toml,
)
from edx_vault.devtools.embedded_aws.in_process_lambda.function_spec import FunctionSpec
from edx_vault.devtools.embedded_aws.in_process_lambda.invocations import InvocationRegistry
from edx_vault.devtools.embedded_aws.in_process_lambda.runtime import InProcessLambda
from tests.local import fixture_app
from tests.local.conftest import RunningAws

pytestmark = pytest.mark.integration


@pytest.fixture
def aws(fixture_aws: RunningAws) -> Iterator[RunningAws]:
    """The shared server, with no fault left behind for the next test."""
    yield fixture_aws
    set_faults(fixture_aws.state.endpoint, [])


@pytest.fixture
def bucket(aws: RunningAws) -> str:
    name = f"faults-{uuid.uuid4().hex[:12]}"
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="raw/a.bin", Body=b"x" * 100_000)
    s3.put_object(Bucket=name, Key="other/b.bin", Body=b"y")
    return name


def test_an_error_hits_the_first_matching_calls_then_stops(aws: RunningAws, bucket: str) -> None:
    # Given SlowDown for the first two GetObjects under raw/ of this bucket, and a client that
    # does not retry (boto3's own retries would hide the faults)
    s3 = aws.client("s3", config=Config(retries={"total_max_attempts": 1}))
    set_faults(
        aws.state.endpoint,
        [
            {
                "service": "s3",
                "operation": "GetObject",
                "resource": f"{bucket}/raw/*",
                "error": "SlowDown",
                "status": 503,
                "times": 2,
            }
        ],
    )
    # When three reads of raw/a.bin and one of other/b.bin are made (no client retries)
    codes = []
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            s3.get_object(Bucket=bucket, Key="raw/a.bin")
        codes.append(raised.value.response["Error"]["Code"])
    third = s3.get_object(Bucket=bucket, Key="raw/a.bin")["Body"].read()
    other = s3.get_object(Bucket=bucket, Key="other/b.bin")["Body"].read()
    # Then exactly the first two matching calls failed as S3 fails, and the counts say so
    assert codes == ["SlowDown", "SlowDown"]
    assert len(third) == 100_000
    assert other == b"y"
    assert [rule["fired"] for rule in fired(aws.state.endpoint)] == [2]


def test_a_reset_cuts_the_body_mid_stream(aws: RunningAws, bucket: str) -> None:
    # Given a reset after 1,000 bytes of any GetObject in this bucket, once
    s3 = aws.client("s3")
    set_faults(
        aws.state.endpoint,
        [
            {
                "service": "s3",
                "operation": "GetObject",
                "resource": f"{bucket}/*",
                "action": "reset",
                "after_bytes": 1000,
                "times": 1,
            }
        ],
    )
    # When the object is read twice
    with pytest.raises((BotoCoreError, requests.exceptions.RequestException, OSError)):
        s3.get_object(Bucket=bucket, Key="raw/a.bin")["Body"].read()
    again = s3.get_object(Bucket=bucket, Key="raw/a.bin")["Body"].read()
    # Then the first read broke off as a dropped connection does, the second is whole
    assert len(again) == 100_000


def test_json_services_answer_in_their_own_shape(aws: RunningAws) -> None:
    # Given throttling on every DynamoDB ListTables and a KMS throttle on ListKeys
    set_faults(
        aws.state.endpoint,
        [
            {
                "service": "dynamodb",
                "operation": "ListTables",
                "error": "ThrottlingException",
                "status": 400,
            },
            {
                "service": "kms",
                "operation": "ListKeys",
                "error": "ThrottlingException",
                "status": 400,
            },
        ],
    )
    # When each is called
    errors = []
    once = Config(retries={"total_max_attempts": 1})
    for client, call in (
        (aws.client("dynamodb", config=once), "list_tables"),
        (aws.client("kms", config=once), "list_keys"),
    ):
        with pytest.raises(ClientError) as raised:
            getattr(client, call)()
        errors.append(raised.value.response["Error"]["Code"])
    # Then each SDK sees the error code it would see from AWS
    assert errors == ["ThrottlingException", "ThrottlingException"]


def test_a_malformed_rule_is_refused_naming_the_field(aws: RunningAws) -> None:
    # Given a rule with a typo in a field name
    # When it is sent to the server
    response = requests.put(
        f"{aws.state.endpoint}{CONTROL_PATH}",
        json=[{"service": "s3", "opration": "GetObject"}],
        timeout=10,
    )
    # Then nothing changes and the error names the rule and the field
    assert response.status_code == 400
    assert "fault[0]" in response.json()["error"] and "opration" in response.json()["error"]


def test_rules_from_a_toml_file(tmp_path: Path) -> None:
    # Given a faults file with one good and one bad rule
    good = tmp_path / "good.toml"
    good.write_text('[[fault]]\nservice = "s3"\noperation = "PutObject"\ntimes = 1\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('[[fault]]\nservice = "s3"\ntimes = -1\n')
    # When they are read / Then the good one gives its rule and the bad one names its field
    [rule] = rules_from_toml(good)
    assert (rule.service, rule.operation, rule.times, rule.action) == (
        "s3",
        "PutObject",
        1,
        "error",
    )
    with pytest.raises(FaultRuleError, match=r"fault\[0\]\.times"):
        rules_from_toml(bad)


# ------------------------------------------------------------------------------ crashes
#
# In-process: the real runtime (InProcessLambda) and the real fault injector in front of a
# server that only records what reaches it, so "nothing after the crash reached AWS" is
# read off the record. The handlers below are this module's own (Handler "test_faults.NAME").

BUCKET: Final = "crash-bucket"
# Lambda's message for a killed runtime (in_process_lambda.lambda_answers.RUNTIME_EXIT_ERROR
# cites it).
KILLED: Final = r"RequestId: [0-9a-f-]{36} Error: Runtime exited with error: signal: killed"
# One attempt per call, as the fault matrix's server runs them: a dropped connection is not
# retried with back-off inside botocore.
ONE_ATTEMPT: Final = {"AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}
_victim_done = threading.Event()
_slow_done = threading.Event()


def _put(key: str, body: bytes = b"") -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)


def _try_put(key: str) -> None:
    with contextlib.suppress(Exception):
        _put(key)


def crash_victim(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Writes two objects; on failure cleans up (as an AbortMultipartUpload would), from its own
    thread and from one it starts, as s3transfer's workers do."""
    try:
        _put("work/first", b"a" * 100)
        _put("work/second", b"b" * 1000)
    except Exception:
        _try_put("cleanup/abort")
        raise
    finally:
        helper = threading.Thread(target=_try_put, args=("cleanup/from-thread",))
        helper.start()
        helper.join()
        _victim_done.set()
    return {"written": 2}


def slow_writer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sleeps past its function's timeout, then writes."""
    time.sleep(float(event["sleep"]))
    try:
        _put("late/write")
    finally:
        _slow_done.set()
    return {}


@dataclass
class Recorder:
    """A stand-in for AWS: answers every request with 200 and records (path, access key)."""

    seen: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        read_body(environ)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        signature = read_signature(request_headers(environ), query)
        self.seen.append((environ["PATH_INFO"], signature.access_key_id))
        start_response("200 OK", [("ETag", '"0"'), ("Content-Length", "0")])
        return [b""]

    def paths(self) -> list[str]:
        return [path.removeprefix(f"/{BUCKET}/") for path, _ in self.seen]


@dataclass
class InProcess:
    runtime: InProcessLambda
    injector: FaultInjector
    recorder: Recorder

    def spec(self, name: str, handler: str, *, timeout: int = 30) -> FunctionSpec:
        return FunctionSpec(
            name=name,
            arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
            version="$LATEST",
            handler=f"test_faults.{handler}",
            environment=ONE_ATTEMPT,
            memory_size=128,
            timeout=timeout,
            region="us-east-1",
        )


@pytest.fixture
def in_process() -> Iterator[InProcess]:
    registry = InvocationRegistry()
    recorder = Recorder()
    injector = FaultInjector(invocations=registry)
    server = make_server("127.0.0.1", 0, injector.wsgi(recorder), threaded=True)
    serving = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    serving.start()
    runtime = InProcessLambda(
        endpoint=f"http://127.0.0.1:{server.server_port}",
        handler_packages=("tests.local",),
        access_key_id="testing",
        secret_access_key="testing",
        invocations=registry,
    )
    _victim_done.clear()
    _slow_done.clear()
    try:
        yield InProcess(runtime, injector, recorder)
    finally:
        server.shutdown()


def test_a_crash_kills_the_invocation_and_nothing_it_sends_afterwards_is_executed(
    in_process: InProcess,
) -> None:
    # Given a crash once a Lambda invocation has sent 500 bytes of PutObject bodies under work/
    in_process.injector.replace(
        [
            FaultRule(
                service="s3",
                operation="PutObject",
                resource=f"{BUCKET}/work/*",
                action="crash",
                after_bytes=500,
                times=1,
            )
        ]
    )
    function = in_process.spec("victim", "crash_victim")
    # When the function writes 100 bytes, then 1,000 (and cleans up when that fails)
    crashed = in_process.runtime.invoke(function, {})
    assert _victim_done.wait(10), "the handler's thread never finished"
    # Then the invoke fails as Lambda reports a killed runtime
    assert crashed.errored
    error = json.loads(crashed.payload)
    assert set(error) == {"errorType", "errorMessage"}
    assert error["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(KILLED, error["errorMessage"]), error["errorMessage"]
    assert "Runtime.ExitError" in crashed.logs
    # And only the call that fit before the crash reached AWS: not the one it died in, not the
    # clean-up from its own thread nor from the thread it started
    assert in_process.recorder.paths() == ["work/first"]
    assert [rule["fired"] for rule in in_process.injector.snapshot()] == [1]
    # And the next call runs in a new execution environment (other keys) and is not harmed
    dead_key = in_process.recorder.seen[0][1]
    again = in_process.runtime.invoke(function, {})
    assert not again.errored, again.payload
    assert in_process.recorder.paths()[1:] == ["work/first", "work/second", "cleanup/from-thread"]
    assert dead_key not in {key for _, key in in_process.recorder.seen[1:]}


def test_a_crash_only_hits_invocations_of_the_functions_it_names(in_process: InProcess) -> None:
    # Given a crash rule for another function's calls, and one for this function's second call
    in_process.injector.replace(
        [
            FaultRule(service="s3", operation="PutObject", function="other-*", action="crash"),
            FaultRule(
                service="s3",
                operation="PutObject",
                function="vic*",
                action="crash",
                after_calls=1,
            ),
        ]
    )
    # When the function writes its two objects
    crashed = in_process.runtime.invoke(in_process.spec("victim", "crash_victim"), {})
    assert _victim_done.wait(10)
    # Then only the second rule fired, at the second call
    assert json.loads(crashed.payload)["errorType"] == "Runtime.ExitError"
    assert in_process.recorder.paths() == ["work/first"]
    assert [rule["fired"] for rule in in_process.injector.snapshot()] == [0, 1]


def test_a_crash_never_hits_a_call_made_outside_a_lambda_invocation(
    in_process: InProcess,
) -> None:
    # Given a crash for every PutObject
    in_process.injector.replace([FaultRule(service="s3", operation="PutObject", action="crash")])
    endpoint = in_process.runtime.endpoint
    # When someone who is not a Lambda invocation writes
    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.put_object(Bucket=BUCKET, Key="admin/write", Body=b"x")
    # Then the write is executed: there is no invocation to kill
    assert in_process.recorder.paths() == ["admin/write"]
    assert [rule["fired"] for rule in in_process.injector.snapshot()] == [0]


def test_an_invocation_stopped_at_its_timeout_changes_nothing_afterwards(
    in_process: InProcess,
) -> None:
    # Given a function with a one-second timeout whose handler writes after 1.5 s
    function = in_process.spec("slow", "slow_writer", timeout=1)
    # When it is invoked
    result = in_process.runtime.invoke(function, {"sleep": 1.5})
    assert _slow_done.wait(10)
    # Then it timed out as on Lambda, and its late write never reached AWS
    assert json.loads(result.payload)["errorType"] == "Sandbox.Timedout"
    assert in_process.recorder.paths() == []


def test_crash_rules_are_checked_field_by_field() -> None:
    # Given rules with a crash-only field on an error, and a function that is not a string
    bad = [
        ({"service": "s3", "after_calls": 1}, r"fault\[0\]\.after_calls: only for action"),
        ({"service": "s3", "action": "crash", "function": 3}, r"fault\[0\]\.function"),
        ({"service": "s3", "action": "explode"}, r"fault\[0\]\.action"),
    ]
    # When each is read / Then the error names the field
    for rule, message in bad:
        with pytest.raises(FaultRuleError, match=message):
            rules_from_list([rule])
    [crash] = rules_from_list(
        [{"service": "s3", "action": "crash", "function": "*Decrypt*", "after_calls": 1}]
    )
    assert (crash.action, crash.function, crash.after_calls, crash.after_bytes) == (
        "crash",
        "*Decrypt*",
        1,
        0,
    )


def test_a_crash_through_the_embedded_aws_answers_as_lambda_does(
    aws: RunningAws,
) -> None:
    # Given the test app's function, and a crash at its write of results/
    bucket = aws.output(fixture_app.DATA_STACK, "ItemsBucketName")
    name = aws.output(fixture_app.FLOW_STACK, "FunctionName")
    set_faults(
        aws.state.endpoint,
        [
            {
                "service": "s3",
                "operation": "PutObject",
                "resource": f"{bucket}/results/*",
                "function": name,
                "action": "crash",
                "times": 1,
            }
        ],
    )
    lambda_ = aws.client("lambda")
    s3 = aws.client("s3")
    item = f"crash-{uuid.uuid4().hex[:8]}"
    # When it is invoked twice
    first = lambda_.invoke(FunctionName=name, Payload=json.dumps({"id": item, "value": 2}))
    crashed = json.loads(first["Payload"].read())
    present = s3.list_objects_v2(Bucket=bucket, Prefix=f"results/{item}").get("KeyCount")
    second = lambda_.invoke(FunctionName=name, Payload=json.dumps({"id": item, "value": 2}))
    # Then the first is a killed runtime in Lambda's words, and wrote nothing
    assert first["FunctionError"] == "Unhandled"
    assert crashed["errorType"] == "Runtime.ExitError"
    assert crashed["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert present == 0
    # And the second, in a fresh execution environment, wrote its result
    assert "FunctionError" not in second
    assert json.loads(second["Payload"].read())["doubled"] == 4
    assert s3.head_object(Bucket=bucket, Key=f"results/{item}.json")["ContentLength"] > 0
    assert [rule["fired"] for rule in fired(aws.state.endpoint)] == [1]
