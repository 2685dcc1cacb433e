"""The CLI's frame: the command table drives the parser; options, exit statuses, errors."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from edx_vault.cli import main
from edx_vault.cli.commands import COMMANDS
from edx_vault.cli.parser import build_parser
from edx_vault.settings.deployment import Deployment
from tests.cli.conftest import Cli, DeployedVault


def test_every_command_of_the_table_is_on_the_command_line() -> None:
    # When the parser is built
    parser = build_parser()
    # Then each row of the table is a command, with its subcommands, in the table's order
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(subparsers.choices) == [command.name for command in COMMANDS]
    for command in COMMANDS:
        nested = [
            action
            for action in subparsers.choices[command.name]._actions
            if isinstance(action, argparse._SubParsersAction)
        ]
        assert [list(action.choices) for action in nested] == (
            [[sub.name for sub in command.subcommands]] if command.subcommands else []
        )


def test_the_cli_starts_without_moto_or_the_cdk() -> None:
    # Given a Python in which moto and the CDK cannot be imported
    blocked = (
        "import sys\n"
        "class Blocked:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('moto', 'aws_cdk'):\n"
        "            raise ImportError(f'{name} is blocked')\n"
        "sys.meta_path.insert(0, Blocked())\n"
        "from edx_vault.cli import main\n"
        "sys.exit(main(['status', '--help']))\n"
    )
    # When a command's help is asked for
    result = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, check=False
    )
    # Then the CLI starts and answers
    assert result.returncode == 0, result.stderr
    assert "usage: edx-vault status" in result.stdout


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
