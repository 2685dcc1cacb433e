"""What every step of a run works with: the settings, the vault's S3 client and the manifest.

A step takes a :class:`RunContext` and one typed work item or batch
(:mod:`edx_vault.pipeline.work_items`); the Lambda runtime builds the context once per sandbox
(:func:`edx_vault.pipeline.lambda_runtime.run_context`), tests build it over moto.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.run_files import RunFiles
from edx_vault.settings.pipeline_settings import PipelineSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Answers whether the run with this id has ended (None: rely on the claim's lease alone).
RunHasEnded = Callable[[str], bool] | None


@dataclass(frozen=True)
class VaultTarget:
    """Where results go: the data bucket and the key every object is encrypted with."""

    bucket: str
    kms_key_arn: str


@dataclass(frozen=True)
class RunContext:
    """The clients and settings every step of a run uses."""

    settings: PipelineSettings
    vault_s3: S3Client
    manifest: Manifest
    # Whether a run holding a claim has ended (see edx_vault.pipeline.run_liveness); None: lease only.
    run_has_ended: RunHasEnded = None

    @property
    def target(self) -> VaultTarget:
        return VaultTarget(bucket=self.settings.data_bucket, kms_key_arn=self.settings.data_key_arn)

    def files(self, run_id: str) -> RunFiles:
        return RunFiles(
            self.vault_s3, self.settings.data_bucket, self.settings.data_key_arn, run_id
        )
