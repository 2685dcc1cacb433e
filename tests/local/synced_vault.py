"""One vault deployed on the embedded AWS and synced once, shared by the end-to-end modules.

The session fixture ``synced`` (tests/local/conftest.py) deploys the app, generates the pipeline
key, seeds a small package, imports edX's credentials and runs one ``sync --wait``; the modules
that use it read what that sync published (tests/local/test_research_access.py) or drive more
syncs over it (tests/local/test_sync_end_to_end.py, which runs after: its later syncs change
the state).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from edx_vault.cli import main
from edx_vault.devtools.embedded_aws.seed import SeedResult
from edx_vault.devtools.synthetic.generated import GeneratedUnit
from edx_vault.pipeline.manifest import Manifest
from edx_vault.settings import stack_outputs
from tests.local.conftest import RunningAws

STORAGE = stack_outputs.stack_name("EdxVault", stack_outputs.STORAGE_STACK_SUFFIX)


@dataclass(frozen=True)
class Synced:
    aws: RunningAws
    seeded: SeedResult
    first_sync_status: int
    work: Path

    def output(self, name: str) -> str:
        return self.aws.output(STORAGE, name)

    @property
    def bucket(self) -> str:
        return self.output(stack_outputs.DATA_BUCKET)

    def report(self, run_id: str) -> dict[str, Any]:
        s3 = self.aws.client("s3")
        body = s3.get_object(Bucket=self.bucket, Key=f"reports/{run_id}.json")["Body"].read()
        report: dict[str, Any] = json.loads(body)
        return report

    def latest_run_id(self) -> str:
        s3 = self.aws.client("s3")
        reports = s3.list_objects_v2(Bucket=self.bucket, Prefix="reports/")["Contents"]
        runs = [entry for entry in reports if not entry["Key"].endswith("-audit.json")]
        newest = max(runs, key=lambda entry: entry["LastModified"])
        return str(newest["Key"]).removeprefix("reports/").removesuffix(".json")

    def manifest(self) -> Manifest:
        resource = boto3.resource(
            "dynamodb",
            endpoint_url=self.aws.state.endpoint,
            region_name=self.aws.state.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        return Manifest(resource.Table(self.output(stack_outputs.MANIFEST_TABLE)))

    def edx_etag(self, unit: GeneratedUnit) -> str:
        """The ETag edX's object holding ``unit`` has now."""
        head = self.aws.root_client("s3").head_object(
            Bucket=unit.source_bucket, Key=unit.source_key
        )
        return str(head["ETag"])


def sync_and_wait() -> int:
    return main(["sync", "--wait"])
