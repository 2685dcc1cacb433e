"""cdk-nag over every kind of grant, and a real `cdk synth` with an expired grant in it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.access.conftest import synthesize
from tests.access.grant_config import write_grants_config

ROOT = Path(__file__).resolve().parents[2]


def test_cdk_nag_is_clean_for_every_kind_of_grant(tmp_path: Path) -> None:
    # Given the app with IAM, SAML, OIDC and expired grants, and both cdk-nag packs
    config = write_grants_config(tmp_path)
    outdir = tmp_path / "out"
    # When it synthesizes (a failing pack would raise)
    synthesize(config, outdir, nag=True)
    report = json.loads((outdir / "validation-report.json").read_text())
    # Then the only finding is the expired grant's warning: every wildcard of every grant is
    # acknowledged with a reason, and nothing else fires
    violations = [
        (plugin["pluginName"], violation["ruleName"], violation["severity"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
    ]
    assert violations == [
        ("Construct Annotations", "Annotation::edx-vault:grant-expired", "warning")
    ]
    [plugin] = report["pluginReports"]
    [violation] = plugin["violations"]
    assert "research grant 'dan-expired' expired on 2025-12-31" in violation["description"]
    assert plugin["conclusion"] == "success"


def test_app_py_prints_a_warning_naming_the_expired_grant(tmp_path: Path) -> None:
    # Given a configuration with grants that expired before today
    config = write_grants_config(tmp_path)
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps({"config": str(config), "aws:cdk:bundling-stacks": []}),
        "CDK_OUTDIR": str(tmp_path / "out"),
    }
    # When app.py runs as `cdk synth` runs it
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # Then it succeeds, writes the access template and names the expired grant on stderr
    assert result.returncode == 0, result.stderr[-2000:]
    assert "warning: research grant 'dan-expired' expired on 2025-12-31" in result.stderr
    assert (tmp_path / "out" / "EdxVault-Access.template.json").exists()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("npx") is None, reason="needs the CDK CLI (npx)")
def test_cdk_synth_with_validation_and_nag_succeeds_and_warns(tmp_path: Path) -> None:
    # Given the pinned CDK CLI, template validation and cdk-nag on, and expired grants
    config = write_grants_config(tmp_path)
    result = subprocess.run(
        [
            "npx",
            "--no-install",
            "cdk",
            "synth",
            "EdxVault-Access",
            "--exclusively",
            "--quiet",
            "-c",
            f"config={config}",
            "-o",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        env={**os.environ, "CDK_VALIDATION": "true"},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    # Then the synth succeeds, and says which grant expired, as a warning
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "research grant 'dan-expired' expired on 2025-12-31" in output
    assert "WARNING" in output
    report = json.loads((tmp_path / "out" / "validation-report.json").read_text())
    severities = {
        violation["severity"]
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
    }
    assert severities == {"warning"}
