"""Lambda functions: memory, timeout, environment, layers and unzipped size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edx_vault.devtools.embedded_aws.deploy.rules.lambda_functions import LAMBDA_UNZIPPED_MAX_BYTES
from tests.local.deploy_rules.rule_templates import STACK, messages, resource, violations


def function(**changes: Any) -> dict[str, Any]:
    properties = {
        "Handler": "plan.handler",
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::123456789012:role/r",
        "Code": {"S3Bucket": "assets", "S3Key": "code.zip"},
        "MemorySize": 1024,
        "Timeout": 900,
        **changes,
    }
    return {"Resources": {"Plan": resource("AWS::Lambda::Function", **properties)}}


@pytest.mark.parametrize(("memory", "timeout"), [(128, 1), (10240, 900)])
def test_memory_and_timeout_within_lambdas_limits_pass(memory: int, timeout: int) -> None:
    # Given the smallest and largest allowed values / Then they are accepted
    assert violations(function(MemorySize=memory, Timeout=timeout)) == []


def test_memory_over_10240_mb_is_refused() -> None:
    # Given 1 MB over the limit / Then the limit is named
    [problem] = messages(function(MemorySize=10241))
    assert "MemorySize = 10241" in problem
    assert "128 MB to 10,240 MB" in problem


def test_a_timeout_over_900_seconds_is_refused() -> None:
    # Given one second over 15 minutes / Then the limit is named
    [problem] = messages(function(Timeout=901))
    assert "Timeout = 901" in problem
    assert "1 to 900 seconds (15 minutes)" in problem


def variables(total_bytes: int) -> dict[str, str]:
    """Variables measuring exactly ``total_bytes`` as Lambda measures them (compact JSON)."""
    overhead = len('{"A":""}')
    return {"A": "x" * (total_bytes - overhead)}


def test_environment_variables_of_4_kb_pass() -> None:
    # Given variables measuring 4,096 bytes as JSON / Then they are accepted
    assert violations(function(Environment={"Variables": variables(4096)})) == []


def test_environment_variables_over_4_kb_are_refused() -> None:
    # Given one byte more / Then the measured size and the limit are named
    [problem] = messages(function(Environment={"Variables": variables(4097)}))
    assert "Environment.Variables = at least 4,097 bytes as JSON" in problem
    assert "at most 4 KB (4,096 bytes)" in problem


def test_five_layers_pass_and_six_are_refused() -> None:
    # Given five layers / Then they are accepted
    layers = [f"arn:aws:lambda:us-east-1:123456789012:layer:l{n}:1" for n in range(6)]
    assert violations(function(Layers=layers[:5])) == []
    # Given six / Then the limit is named
    [problem] = messages(function(Layers=layers))
    assert "Layers = 6 layers" in problem
    assert "at most 5 layers" in problem


def assembly_with_code(tmp_path: Path, code_bytes: int, layer_bytes: int) -> Path:
    """An assembly holding a function's code and a layer as asset directories (sparse files),
    the code found through the asset manifest, the layer through aws:asset:path."""
    for name, size in (("asset.code", code_bytes), ("asset.layer", layer_bytes)):
        (tmp_path / name).mkdir()
        with (tmp_path / name / "payload.bin").open("wb") as payload:
            payload.truncate(size)
    manifest = {
        "files": {
            "code": {
                "source": {"path": "asset.code", "packaging": "zip"},
                "destinations": {"d": {"bucketName": "assets", "objectKey": "code.zip"}},
            }
        }
    }
    (tmp_path / f"{STACK}.assets.json").write_text(json.dumps(manifest))
    return tmp_path


def function_with_layer() -> dict[str, Any]:
    template = function(Layers=[{"Ref": "Gpg"}])
    template["Resources"]["Gpg"] = {
        "Type": "AWS::Lambda::LayerVersion",
        "Properties": {"Content": {"S3Bucket": "assets", "S3Key": "layer.zip"}},
        "Metadata": {"aws:asset:path": "asset.layer"},
    }
    return template


def test_code_and_layers_of_250_mb_unzipped_pass(tmp_path: Path) -> None:
    # Given code and a layer adding up to exactly 262,144,000 bytes
    assembly = assembly_with_code(tmp_path, 1000, LAMBDA_UNZIPPED_MAX_BYTES - 1000)
    # Then it is accepted
    assert violations(function_with_layer(), assembly) == []


def test_code_and_layers_over_250_mb_unzipped_are_refused(tmp_path: Path) -> None:
    # Given one byte more
    assembly = assembly_with_code(tmp_path, 1001, LAMBDA_UNZIPPED_MAX_BYTES - 1000)
    # Then the sum and the limit are named
    [problem] = messages(function_with_layer(), assembly)
    assert "Code + Layers = 262,144,001 bytes unzipped" in problem
    assert "at most 250 MB (262,144,000 bytes) unzipped, including layers" in problem
