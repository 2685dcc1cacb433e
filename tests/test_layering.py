"""The packages import downward only, and Lambda code stays free of the CLI, devtools and CDK.

The contracts are import-linter's, in pyproject.toml (``[tool.importlinter]``); these tests run
them on this tree, and on a copy with one import against the layering to show they catch it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def copy_of_the_tree(destination: Path) -> Path:
    for name in ("edx_vault", "lambdas", "stacks"):
        shutil.copytree(
            ROOT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def test_this_tree_keeps_every_contract() -> None:
    # When the contracts are checked on the working tree
    result = lint_imports(ROOT)
    # Then every one is kept
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "offending_import", "contract"),
    [
        (
            "edx_vault/engine/publish.py",
            "from edx_vault.pipeline import manifest",
            "edx_vault's packages import downward only BROKEN",
        ),
        (
            "edx_vault/settings/types.py",
            "import edx_vault.package.bucket_layout",
            "edx_vault's packages import downward only BROKEN",
        ),
        (
            "lambdas/decrypt.py",
            "from edx_vault.devtools import synthetic",
            "Code that runs in Lambda imports neither",
        ),
        (
            "edx_vault/pipeline/planner.py",
            "from edx_vault.settings.config import VaultConfig",
            "Code that runs in Lambda imports neither",
        ),
        (
            "stacks/data_bucket.py",
            "from edx_vault.cli import main",
            "The CDK app never imports the CLI or the developer tools BROKEN",
        ),
    ],
)
def test_an_import_against_the_layering_is_reported(
    tmp_path: Path, module: str, offending_import: str, contract: str
) -> None:
    # Given a copy of the tree with one import against the contracts
    tree = copy_of_the_tree(tmp_path)
    path = tree / module
    path.write_text(path.read_text() + f"\n{offending_import}  # against the layering\n")
    # When the contracts are checked on it
    result = lint_imports(tree)
    # Then the check fails and names the contract and the offending module
    assert result.returncode != 0
    assert contract in " ".join(result.stdout.split())
    assert module.removesuffix(".py").replace("/", ".") in result.stdout
