"""The CLI's frame: commands registered from COMMAND_MODULES, options, exit statuses, errors."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from edx_vault.cli import COMMAND_MODULES, build_parser, main
from edx_vault.settings.deployment import Deployment
from tests.cli.conftest import Cli, DeployedVault


def test_every_command_module_registers_its_command() -> None:
    # When the parser is built
    parser = build_parser()
    # Then each module in COMMAND_MODULES added a command (underscores become dashes)
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subparsers.choices) == {name.replace("_", "-") for name in COMMAND_MODULES}


def test_help_exits_0_and_an_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "import-credentials" in capsys.readouterr().out
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_global_options_work_before_and_after_the_command(
    cli: Cli, vault_stack: DeployedVault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no EDX_VAULT_CONFIG, and the config passed explicitly
    monkeypatch.delenv("EDX_VAULT_CONFIG")
    config = str(vault_stack.config_path)
    # When --config comes before or after the command
    before = cli("--config", config, "info", "--json")
    after = cli("info", "--json", "--config", config, "--region", "us-east-1")
    # Then both find the deployment
    assert before.exit_code == after.exit_code == 0
    assert before.stdout == after.stdout


def test_a_missing_config_file_is_one_clear_line(cli: Cli, tmp_path: Path) -> None:
    # When the configuration file does not exist
    result = cli("--config", str(tmp_path / "nope.toml"), "status")
    # Then the error names it, exit 1, no traceback
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {tmp_path / 'nope.toml'}: the configuration")
    assert "Traceback" not in result.output


def test_access_denied_is_one_line_naming_the_call(
    cli: Cli, vault_stack: DeployedVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an admin whose role may not describe stacks
    def denied(*_: Any, **__: Any) -> Deployment:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not authorized to DescribeStacks"}},
            "DescribeStacks",
        )

    monkeypatch.setattr(Deployment, "discover", denied)
    # When any command runs
    result = cli("info")
    # Then one line says which call was refused and what to do
    assert result.exit_code == 1
    assert result.stderr == (
        "error: AWS refused DescribeStacks: AccessDenied: not authorized to DescribeStacks "
        "(run the CLI with one of the deployment's admin roles)\n"
    )
