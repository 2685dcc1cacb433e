"""The `cdk` entry point as the CLI runs it: offline, and with clear errors for bad config."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_app(config: Path, outdir: Path) -> subprocess.CompletedProcess[str]:
    """Run app.py the way `npx cdk synth` does: context and outdir through the environment."""
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps({"config": str(config)}),
        "CDK_OUTDIR": str(outdir),
    }
    return subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_bad_config_stops_synth_with_one_message_and_no_traceback(tmp_path: Path) -> None:
    # Given a config with a malformed admin ARN and a misspelt key
    text = (ROOT / "config" / "example.toml").read_text()
    text = text.replace("role/DataCzar", "DataCzar").replace("max_concurrency", "max_concurency")
    config = tmp_path / "vault.toml"
    config.write_text(text)
    # When the app runs
    result = run_app(config, tmp_path / "out")
    # Then it exits 1 naming both fields, with no stack trace and no template written
    assert result.returncode == 1
    assert "deployment.admin_role_arns[0]: 'arn:aws:iam::123456789012:DataCzar'" in result.stderr
    assert "schedule.max_concurency: unknown key" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "out").glob("*.template.json"))


@pytest.mark.slow
@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare to cut the network",
)
def test_cdk_synth_runs_with_no_network_at_all(tmp_path: Path) -> None:
    # Given a network namespace with no interfaces but loopback: any network attempt would fail
    # When the pinned CDK CLI synthesizes the app with validation and cdk-nag on
    result = subprocess.run(
        ["unshare", "--net", "npx", "--no-install", "cdk", "synth", "--quiet", "-o", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "CDK_VALIDATION": "true"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    # Then it succeeds and writes the storage template
    assert result.returncode == 0, result.stderr[-2000:]
    template = json.loads((tmp_path / "EdxVault-Storage.template.json").read_text())
    assert "AWS::S3::Bucket" in {r["Type"] for r in template["Resources"].values()}
