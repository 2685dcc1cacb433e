"""``edx-vault verify``: published objects re-hashed against the manifest."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import unit_row
from edx_vault.settings import stack_outputs
from tests.cli.conftest import Cli, DeployedVault

FILES = {
    "events/org=examplex/site=edx/date=2024-01-06/examplex-edx-events-2024-01-06.log.gz": (
        b"\x1f\x8b event log bytes" * 1000
    ),
    "database/auth_user/org=examplex/site=edx/course=ExampleX-CS101-2024/export_date=2024-01-07/"
    "ExampleX-CS101-2024-auth_user-prod-analytics.sql": b"id\tusername\n1\tlearner\n",
    "email-opt-in/org=examplex/export_date=2024-01-07/examplex-email_opt_in-edx-analytics.csv": (
        b"user_id,username,email\n"
    ),
}


def publish(vault: DeployedVault) -> dict[str, dict[str, Any]]:
    """Publish FILES as the decrypt step does: object first, then its manifest row."""
    s3 = vault.aws.client("s3")
    table = vault.aws.resource("dynamodb").Table(vault.outputs[stack_outputs.MANIFEST_TABLE])
    manifest = Manifest(table)
    rows = {}
    for index, (key, body) in enumerate(FILES.items()):
        version = s3.put_object(Bucket=vault.data_bucket, Key=key, Body=body).get("VersionId")
        row = unit_row("course-data", f"examplex-2024-01-07-{index}.zip", f"member-{index}")
        assert manifest.claim(row, version='"etag"', run_id="run-1").value == "claimed"
        manifest.complete(
            row,
            run_id="run-1",
            attributes={
                "output_key": key,
                "output_version_id": version or "",
                "plaintext_bytes": len(body),
                "plaintext_sha256": hashlib.sha256(body).hexdigest(),
            },
        )
        rows[key] = {"version": version}
    # A failed unit has no output: verify must not look for one.
    failed = unit_row("course-data", "examplex-2024-01-07-9.zip", "member-9")
    manifest.claim(failed, version='"etag"', run_id="run-1")
    manifest.fail(failed, run_id="run-1", code="corrupt", reason="bad zip")
    return rows


def test_verify_passes_when_every_object_is_as_published(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given three published objects and their manifest rows
    publish(vault_stack)
    # When the admin verifies
    result = cli("verify")
    # Then all three are intact and progress was counted on stderr
    assert result.exit_code == 0, result.output
    assert "Verified 3 published objects" in result.stdout
    assert "3 intact, 0 with problems" in result.stdout
    assert "3/3 objects verified" in result.stderr


def test_verify_detects_a_tampered_and_a_missing_object(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given published objects, one overwritten with other bytes, one deleted
    publish(vault_stack)
    s3 = vault_stack.aws.client("s3")
    tampered, deleted, _ = FILES
    s3.put_object(Bucket=vault_stack.data_bucket, Key=tampered, Body=b"replaced by someone")
    s3.delete_object(Bucket=vault_stack.data_bucket, Key=deleted)
    # When the admin verifies, for a script
    result = cli("verify", "--json")
    # Then both are reported and the exit status is 1
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    problems = {(p["output_key"], p["problem"]) for p in report["problems"]}
    assert (tampered, "sha256-mismatch") in problems
    assert (tampered, "size-mismatch") in problems
    assert (deleted, "missing") in problems
    assert report["checked"] == 3 and report["intact"] == 1
    # and the new version of the tampered object is flagged as not the published one
    # (the stack's bucket is versioned, and moto's CloudFormation honours that)
    assert s3.get_bucket_versioning(Bucket=vault_stack.data_bucket)["Status"] == "Enabled"
    assert (tampered, "replaced") in problems
    # and --json keeps stderr free of progress lines
    assert result.stderr == ""


@pytest.mark.parametrize("flag", [[], ["--json"]])
def test_verify_of_an_empty_vault_succeeds(
    cli: Cli, vault_stack: DeployedVault, flag: list[str]
) -> None:
    # Given nothing published yet
    # When the admin verifies
    result = cli("verify", *flag)
    # Then there is nothing to check and nothing wrong
    assert result.exit_code == 0
    assert "0" in result.stdout
