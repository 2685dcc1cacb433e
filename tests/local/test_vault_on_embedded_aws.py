"""The vault app on the embedded AWS: `local up`, `local seed`, `local down`, as an admin runs them.

The app is synthesized once for the example configuration (which builds the Lambda layers, so
these tests are marked slow) and deployed into fresh servers.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from edx_vault.cli import main
from edx_vault.devtools.embedded_aws import lifecycle
from edx_vault.devtools.embedded_aws.deploy.cdk_deploy import DeployReport
from edx_vault.devtools.embedded_aws.seed import seed
from edx_vault.engine.openpgp_keys import OpenPgpError
from edx_vault.engine.openpgp_message import decrypt_message
from edx_vault.settings import stack_outputs
from edx_vault.settings.config import load_config
from edx_vault.settings.secret_store import load_pipeline_keyring
from tests.local.conftest import EXAMPLE_CONFIG, RunningAws, free_port, start, stop

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STORAGE = stack_outputs.stack_name("EdxVault", stack_outputs.STORAGE_STACK_SUFFIX)
PIPELINE = stack_outputs.stack_name("EdxVault", stack_outputs.PIPELINE_STACK_SUFFIX)


def test_local_up_deploys_the_app_and_local_down_stops_it(
    vault_assembly: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_file = tmp_path / "local.json"
    port = free_port()
    common = ["--state-file", str(state_file)]
    # Given a server started and deployed by `edx-vault local up`
    assembly = ["--app", str(vault_assembly), "--config", str(EXAMPLE_CONFIG)]
    status = main(["local", "up", "--port", str(port), *common, *assembly])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    endpoint = f"http://127.0.0.1:{port}"
    assert printed.out.startswith(
        f"export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION=us-east-1"
    )
    state = lifecycle.running_state(state_file)
    assert state is not None
    aws = RunningAws(state, state_file, report=DeployReport())
    try:
        # Then the storage stack is complete and its outputs name resources that exist
        [stack] = aws.client("cloudformation").describe_stacks(StackName=STORAGE)["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
        assert set(stack_outputs.STORAGE_OUTPUTS) <= set(outputs)
        s3, bucket = aws.client("s3"), outputs[stack_outputs.DATA_BUCKET]
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        blocked = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(blocked.values())
        encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        [rule] = encryption["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        logging = s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]
        assert logging["TargetBucket"] == outputs[stack_outputs.ACCESS_LOGS_BUCKET]
        assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert "DenyPutsWithAnotherKmsKey" in s3.get_bucket_policy(Bucket=bucket)["Policy"]
        key = aws.client("kms").describe_key(KeyId=outputs[stack_outputs.DATA_KEY_ARN])
        assert key["KeyMetadata"]["Enabled"]
        table = aws.client("dynamodb").describe_table(
            TableName=outputs[stack_outputs.MANIFEST_TABLE]
        )
        assert table["Table"]["TableStatus"] == "ACTIVE"
        backups = aws.client("dynamodb").describe_continuous_backups(
            TableName=outputs[stack_outputs.MANIFEST_TABLE]
        )["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
        secrets = aws.client("secretsmanager")
        secret = secrets.describe_secret(SecretId=outputs[stack_outputs.PIPELINE_KEY_SECRET_ARN])
        assert secret["KmsKeyId"] == outputs[stack_outputs.SECRETS_KEY_ARN]
        # And the pipeline stack, when the app has one, runs the synthesized state machine
        if (vault_assembly / f"{PIPELINE}.template.json").exists():
            [pipeline] = aws.client("cloudformation").describe_stacks(StackName=PIPELINE)["Stacks"]
            arn = {o["OutputKey"]: o["OutputValue"] for o in pipeline["Outputs"]}[
                stack_outputs.STATE_MACHINE_ARN
            ]
            aws.client("stepfunctions").describe_state_machine(stateMachineArn=arn)

        # When `local up` runs again, it finds the running server instead of starting one
        assert main(["local", "up", "--port", str(free_port()), *common]) == 0
        again = capsys.readouterr()
        assert "already running" in again.err
        assert again.out.strip() == printed.out.strip()

        # And seeding before `edx-vault keygen` says to run keygen first
        assert main(["local", "seed", *common, "--out", str(tmp_path / "c.gpg")]) == 1
        assert "run `edx-vault keygen" in capsys.readouterr().err
    finally:
        # When `local down` runs
        assert main(["local", "down", *common]) == 0
    # Then no server process is left, the state is forgotten and the port is free again
    assert f"stopped the embedded AWS (pid {state.pid}" in capsys.readouterr().out
    assert not lifecycle.is_our_server(state.pid)
    assert not state_file.exists()
    assert not lifecycle._port_in_use("127.0.0.1", port)
    assert main(["local", "down", *common]) == 0
    assert "not running" in capsys.readouterr().out


@pytest.fixture(scope="module")
def vault_with_key(
    vault_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningAws]:
    """The vault deployed, with a pipeline key made by `edx-vault keygen`."""
    directory = tmp_path_factory.mktemp("vault-with-key")
    aws = start(directory / "state" / "local.json", vault_assembly)
    saved = dict(os.environ)
    os.environ.update(aws.state.environment())
    try:
        status = main(
            ["keygen", "--email", "czar@example.edu", "--out", str(directory / "pipeline.asc")]
        )
        assert status == 0
    finally:
        os.environ.clear()
        os.environ.update(saved)
    yield aws
    stop(aws)


def _stored_keys(aws: RunningAws) -> tuple[list[str], str]:
    outputs = aws.report.outputs[STORAGE]
    keys, passphrase, _ = load_pipeline_keyring(
        aws.client("secretsmanager"),
        outputs[stack_outputs.PIPELINE_KEY_SECRET_ARN],
        outputs[stack_outputs.PIPELINE_PASSPHRASE_SECRET_ARN],
    )
    return keys, passphrase


def test_seed_puts_the_package_in_the_source_buckets_and_credentials_for_the_key(
    vault_with_key: RunningAws, tmp_path: Path
) -> None:
    # When the embedded AWS is seeded
    config = load_config(EXAMPLE_CONFIG)
    result = seed(
        config=config,
        endpoint=vault_with_key.state.endpoint,
        region=vault_with_key.state.region,
        credentials_out=tmp_path / "credentials.csv.gpg",
        size="small",
    )
    # Then every generated object is in edX's buckets as the configuration names them, for
    # the configured orgs
    s3 = vault_with_key.client("s3")
    assert set(result.buckets) == {
        config.edx.source_buckets.events,
        config.edx.source_buckets.database,
    }
    stored = Counter(
        bucket
        for bucket in result.buckets
        for _ in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    )
    assert stored == Counter(obj.bucket for obj in result.package.objects)
    orgs = {
        obj.key.removeprefix("email-opt-in/").split("/")[0].split("-")[0]
        for obj in result.package.objects
    }
    assert orgs == {"examplex", "otheru"}
    # And credentials.csv.gpg decrypts with the stored key to one fake row
    keys, passphrase = _stored_keys(vault_with_key)
    plaintext = decrypt_message(result.credentials_file.read_bytes(), keys, passphrase).decode()
    header, row = plaintext.splitlines()
    assert header == "User Name,Access Key Id,Secret Access Key"
    assert row.split(",")[1] == result.access_key_id
    assert result.access_key_id.startswith("AKIA")
    # And the package's own files decrypt with it too
    event_log = next(obj for obj in result.package.objects if obj.key.endswith(".log.gz.gpg"))
    body = s3.get_object(Bucket=event_log.bucket, Key=event_log.key)["Body"].read()
    assert decrypt_message(body, keys, passphrase)


def test_seed_corrupt_tampers_with_one_event_log_and_ships_a_failed_export(
    vault_with_key: RunningAws, tmp_path: Path
) -> None:
    result = seed(
        config=load_config(EXAMPLE_CONFIG),
        endpoint=vault_with_key.state.endpoint,
        region=vault_with_key.state.region,
        credentials_out=tmp_path / "credentials.csv.gpg",
        size="small",
        corrupt=True,
    )
    assert result.corrupted is not None
    bucket, _, key = result.corrupted.partition("/")
    body = vault_with_key.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    keys, passphrase = _stored_keys(vault_with_key)
    with pytest.raises(OpenPgpError):
        decrypt_message(body, keys, passphrase)
    assert any(unit.failed for unit in result.package.units)


def test_local_up_app_refuses_an_assembly_aws_would_refuse_and_leaves_no_server(
    vault_assembly: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a copy of the synthesized assembly with one function's memory over Lambda's limit
    import json
    import shutil

    broken = tmp_path / "cdk.out"
    shutil.copytree(vault_assembly, broken)
    template_path = broken / f"{PIPELINE}.template.json"
    template = json.loads(template_path.read_text())
    name, function = next(
        (name, resource)
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    )
    function["Properties"]["MemorySize"] = 20_480
    template_path.write_text(json.dumps(template))
    state_file = tmp_path / "local.json"
    # When an admin tries it with `local up --app`, as `cdk deploy --app` would deploy it
    status = main(
        [
            "local",
            "up",
            "--port",
            str(free_port()),
            "--state-file",
            str(state_file),
            "--app",
            str(broken),
            "--config",
            str(EXAMPLE_CONFIG),
        ]
    )
    # Then nothing is deployed: the error names the resource, the value and the rule
    assert status == 1
    error = capsys.readouterr().err
    assert name in error and "MemorySize" in error and "20480" in error.replace(",", "")
    assert not state_file.exists()


def test_the_cli_signs_as_the_admin_role_and_root_is_refused_learner_data(
    vault_with_key: RunningAws,
) -> None:
    # Given the vault deployed with the example configuration (admin role DataCzar)
    bucket = vault_with_key.report.outputs[STORAGE][stack_outputs.DATA_BUCKET]
    # When the CLI's identity and the account's root user each write an object
    admin = vault_with_key.client("s3")
    admin.put_object(Bucket=bucket, Key="reports/probe.json", Body=b"{}")
    root = vault_with_key.root_client("s3")
    with pytest.raises(Exception, match="AccessDenied") as refused:
        root.put_object(Bucket=bucket, Key="reports/probe.json", Body=b"{}")
    # Then the CLI is the admin role's session, and root is refused by the bucket policy,
    # as on AWS (the policy names the vault's roles and the admin roles only)
    assert vault_with_key.state.principal.endswith(":assumed-role/DataCzar/edx-vault-cli")
    assert "DenyObjectAccessOutsideTheVault" in str(refused.value)
