"""The runtime layer carries the AWS SDK the tests ran against, with its whole dependency closure.

Lambda puts a layer's ``python/`` ahead of the runtime's own libraries on ``sys.path``. A layer
holding only part of the SDK's closure (urllib3, python-dateutil and six, but not botocore) made the
runtime's botocore run against the layer's urllib3: a pairing no test ever ran. These tests build
the layer from the project's wheelhouse (no network once it is filled) and check that every
distribution in it is the one installed here, and that the SDK imports from the layer alone.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from layers.python_runtime import bundle as runtime_bundle
from stacks.lambda_layers import PROJECT_ROOT

# boto3 and what it pulls in, as the issue names them; the closure is also computed from the
# installed metadata below, so a new dependency of botocore is covered without editing this.
SDK_DISTRIBUTIONS = frozenset(
    {"boto3", "botocore", "s3transfer", "urllib3", "python-dateutil", "six", "jmespath"}
)
SDK_MODULES = ("boto3", "botocore", "s3transfer", "urllib3", "dateutil", "six", "jmespath")


@pytest.fixture(scope="module")
def layer_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return runtime_bundle.assemble_runtime_layer(
        tmp_path_factory.mktemp("runtime-layer"), project_root=PROJECT_ROOT
    )


def layer_distributions(site: Path) -> dict[str, str]:
    """Normalised name to version, read from each ``*.dist-info/METADATA`` in the layer."""
    found: dict[str, str] = {}
    for metadata in site.glob("*.dist-info/METADATA"):
        headers = HeaderParser().parsestr(metadata.read_text(encoding="utf-8"))
        found[canonicalize_name(headers["Name"])] = headers["Version"]
    return found


def installed_closure(root: str) -> set[str]:
    """``root`` and everything it requires here (no extras), transitively."""
    closure: set[str] = set()
    pending = [canonicalize_name(root)]
    while pending:
        name = pending.pop()
        if name in closure:
            continue
        closure.add(name)
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonicalize_name(requirement.name))
    return closure


@pytest.mark.slow
def test_the_layer_ships_boto3_and_its_whole_closure_at_the_tested_versions(
    layer_site: Path,
) -> None:
    # Given the runtime layer built from the wheelhouse, and boto3's closure as installed here
    closure = installed_closure("boto3")
    assert closure >= SDK_DISTRIBUTIONS
    # When the layer's distributions are read from their METADATA
    shipped = layer_distributions(layer_site)
    # Then each member of the closure is in the layer, at the version the tests use
    tested = {name: importlib.metadata.version(name) for name in sorted(closure)}
    assert {name: shipped.get(name) for name in sorted(closure)} == tested


@pytest.mark.slow
def test_every_distribution_in_the_layer_is_the_version_the_tests_use(layer_site: Path) -> None:
    # Given the runtime layer
    # When its distributions are compared with this environment's
    shipped = layer_distributions(layer_site)
    tested = {name: importlib.metadata.version(name) for name in shipped}
    # Then none differs: nothing in Lambda runs a version the tests did not
    assert shipped == tested


@pytest.mark.slow
def test_the_sdk_imports_from_the_layer_alone(layer_site: Path) -> None:
    # Given an interpreter that sees the standard library and the layer, nothing else
    # (-S: no site-packages; -E: no PYTHONPATH), as Lambda's Python finds the layer first
    probe = (
        "import importlib, sys; sys.path.insert(0, sys.argv[1]); "
        f"print('\\n'.join(importlib.import_module(m).__file__ for m in {SDK_MODULES!r}))"
    )
    # When boto3 and its dependencies are imported
    imported = subprocess.run(
        [sys.executable, "-S", "-E", "-c", probe, str(layer_site)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    # Then every one of them is found, and found in the layer
    assert imported.returncode == 0, imported.stderr
    files = [Path(line) for line in imported.stdout.splitlines()]
    assert len(files) == len(SDK_MODULES)
    assert all(file.is_relative_to(layer_site) for file in files), files
