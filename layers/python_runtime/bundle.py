"""Assemble the Python runtime layer: ``edx_vault`` (without its CLI) and its dependencies.

Lambda adds a layer's ``python/`` directory to ``sys.path``. The dependencies come from
``pyproject.toml``'s ``[project].dependencies`` (one list of pins for the package, the tests and
the layer), as wheels built for Lambda's platform and Python version rather than this machine's. No
Docker and no compiler are needed: ``--only-binary=:all:`` refuses anything that would have to be
built here, for the wrong platform.

The layer carries its own AWS SDK: boto3 at the pinned version, with botocore, s3transfer,
jmespath, urllib3, python-dateutil and six as pip resolves them. Only boto3 is pinned, so the
others match the tests' only while the wheelhouse and the virtualenv resolve alike (they do when
filled together, as ``make setup`` does); ``tests/layer/test_runtime_layer.py`` fails otherwise.
Lambda puts ``/opt/python`` ahead of the runtime's bundled SDK on ``sys.path``, so whatever
part of the SDK's closure is in the layer wins. Leaving out boto3 and botocore but keeping the
urllib3, python-dateutil and six that aws-xray-sdk's botocore requirement pulled in made the
runtime's botocore (a version AWS changes without notice) run against the layer's urllib3: a
combination nothing tested. Shipping the whole closure follows AWS's rule: the Lambda Developer
Guide ("Managing Lambda dependencies with layers", "To lock an embedded SDK version") says the
embedded SDK may change without notice and to lock a version by putting it in a layer, which the
function then always uses; its best practices add "To have full control of the dependencies your
function uses, we recommend packaging all your dependencies with your deployment package".

Size, measured for python3.12 x86_64 with boto3 1.44.1 and botocore 1.44.8: 35.05 MiB unzipped
(36.8 MB) and 20.93 MiB zipped, of which boto3, botocore, s3transfer and jmespath are 21.80 MiB
(botocore's service models, mostly); without them the layer was 13.25 MiB and 4.43 MiB. Lambda's
limit is 250 MB for the function and all its layers, unzipped; with the gpg layer (5.56 MiB) this
leaves over 200 MB.

The wheels are kept in a wheelhouse (``build/lambda-wheels/`` in the project) and the layer is
installed from it with ``--no-index``: once the wheelhouse holds them (``--download-only``, run by
the project set-up, or any earlier online build), ``cdk synth`` builds the layer with no network,
and the same wheels every time. The wheelhouse is refreshed from the index only when it cannot
satisfy the pins (a pin was changed).

It uses only the standard library and pip, so the same file runs on a developer machine (through
the CDK local bundler) and inside the Docker fallback:
``python3 bundle.py OUTPUT_DIR --project-root DIR``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

PACKAGE = "edx_vault"
# The admin CLI runs on an administrator's machine and the developer tools (the embedded AWS,
# which imports moto; the synthetic package) on a developer's: neither ever runs in Lambda.
EXCLUDED_MODULES = ("cli", "devtools")
# Lambda's Python: its version and, per architecture, the wheel platform tag. manylinux2014
# (glibc 2.17) wheels run on Amazon Linux 2023's glibc 2.34.
LAMBDA_PYTHON_VERSION = "3.12"
WHEEL_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
# Under the project root; build/ is git-ignored.
WHEELHOUSE = Path("build") / "lambda-wheels"


class RuntimeLayerError(RuntimeError):
    """The runtime layer could not be built; the message says why."""


def runtime_requirements(pyproject: Path) -> list[str]:
    """The package's runtime requirements, the AWS SDK included (see the module docstring).

    Parameters
    ----------
    pyproject
        The project's ``pyproject.toml``.

    Returns
    -------
    list[str]
        Requirement strings as written there (``"python-gnupg==0.5.7"``, ...).
    """
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements: list[str] = project["dependencies"]
    return list(requirements)


def wheelhouse_dir(project_root: Path, *, architecture: str, python_version: str) -> Path:
    """Where the wheels for one Lambda platform and Python version are kept."""
    return project_root / WHEELHOUSE / f"python{python_version}-{_platform(architecture)}"


def download_wheels(
    project_root: Path,
    *,
    architecture: str = "x86_64",
    python_version: str = LAMBDA_PYTHON_VERSION,
    pip: Sequence[str] = (sys.executable, "-m", "pip"),
) -> Path:
    """Fetch the layer's wheels (dependencies included) from the package index.

    Parameters
    ----------
    project_root, architecture, python_version, pip
        As for :func:`assemble_runtime_layer`.

    Returns
    -------
    Path
        The wheelhouse.

    Raises
    ------
    RuntimeLayerError
        When pip cannot reach the index or finds no wheel for Lambda's platform.
    """
    wheelhouse = wheelhouse_dir(
        project_root, architecture=architecture, python_version=python_version
    )
    wheelhouse.mkdir(parents=True, exist_ok=True)
    _pip(
        pip,
        "download",
        "--dest",
        str(wheelhouse),
        *_target_platform(architecture, python_version),
        *runtime_requirements(project_root / "pyproject.toml"),
        purpose=f"download the runtime wheels for Lambda ({_describe(architecture, python_version)})",
    )
    return wheelhouse


def assemble_runtime_layer(
    output_dir: Path,
    *,
    project_root: Path,
    architecture: str = "x86_64",
    python_version: str = LAMBDA_PYTHON_VERSION,
    pip: Sequence[str] = (sys.executable, "-m", "pip"),
) -> Path:
    """Write ``python/`` (dependencies and ``edx_vault``) into ``output_dir``.

    Installs from the wheelhouse without the network; only when it lacks a pinned wheel are the
    wheels downloaded first.

    Parameters
    ----------
    output_dir
        An empty or missing directory; becomes the layer's ``/opt``.
    project_root
        Holds ``pyproject.toml``, the ``edx_vault`` package and the wheelhouse.
    architecture
        Lambda's name for it: ``x86_64`` or ``arm64``.
    python_version
        The Lambda runtime's Python, ``major.minor``.
    pip
        The command that runs pip.

    Returns
    -------
    Path
        ``output_dir/python``.

    Raises
    ------
    RuntimeLayerError
        When the architecture is unknown, or the wheels are neither in the wheelhouse nor
        downloadable (no network, no wheel for Lambda's platform).
    """
    site_packages = output_dir / "python"
    wheelhouse = wheelhouse_dir(
        project_root, architecture=architecture, python_version=python_version
    )
    try:
        _install_from_wheelhouse(
            site_packages, project_root, wheelhouse, architecture, python_version, pip
        )
    except RuntimeLayerError:
        # A pin changed, or nothing was downloaded yet: refresh from the index, then retry.
        shutil.rmtree(site_packages, ignore_errors=True)
        download_wheels(
            project_root, architecture=architecture, python_version=python_version, pip=pip
        )
        _install_from_wheelhouse(
            site_packages, project_root, wheelhouse, architecture, python_version, pip
        )
    # Console scripts of the dependencies: nothing in Lambda runs them.
    shutil.rmtree(site_packages / "bin", ignore_errors=True)
    shutil.copytree(
        project_root / PACKAGE,
        site_packages / PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *EXCLUDED_MODULES),
        dirs_exist_ok=True,
    )
    return site_packages


def _install_from_wheelhouse(
    site_packages: Path,
    project_root: Path,
    wheelhouse: Path,
    architecture: str,
    python_version: str,
    pip: Sequence[str],
) -> None:
    site_packages.mkdir(parents=True, exist_ok=True)
    _pip(
        pip,
        "install",
        "--no-index",
        "--find-links",
        str(wheelhouse),
        "--target",
        str(site_packages),
        *_target_platform(architecture, python_version),
        # pip would compile for *this* interpreter's version, useless on Lambda's.
        "--no-compile",
        *runtime_requirements(project_root / "pyproject.toml"),
        purpose=f"install the runtime wheels for Lambda ({_describe(architecture, python_version)})",
    )


def _target_platform(architecture: str, python_version: str) -> list[str]:
    return [
        "--platform",
        _platform(architecture),
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
    ]


def _platform(architecture: str) -> str:
    try:
        return WHEEL_PLATFORMS[architecture]
    except KeyError:
        raise RuntimeLayerError(
            f"unknown Lambda architecture {architecture!r}; expected one of {sorted(WHEEL_PLATFORMS)}"
        ) from None


def _describe(architecture: str, python_version: str) -> str:
    return f"python{python_version}, {_platform(architecture)}"


def _pip(pip: Sequence[str], *arguments: str, purpose: str) -> None:
    command = [*pip, *arguments[:1], "--quiet", "--disable-pip-version-check", *arguments[1:]]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    except OSError as error:
        raise RuntimeLayerError(f"cannot run pip ({' '.join(pip)}): {error}") from error
    if completed.returncode != 0:
        raise RuntimeLayerError(f"pip could not {purpose}: {completed.stderr.strip()}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line for the Docker fallback and the project set-up.

    ``python3 bundle.py OUTPUT_DIR --project-root DIR`` builds the layer;
    ``python3 bundle.py --download-only --project-root DIR`` only fills the wheelhouse, so that
    later synths need no network.
    """
    parser = argparse.ArgumentParser(description="Build the edx-vault Python runtime layer.")
    parser.add_argument("output_dir", type=Path, nargs="?", help="where to write python/")
    parser.add_argument("--project-root", type=Path, required=True)
    parser.add_argument("--architecture", choices=sorted(WHEEL_PLATFORMS), default="x86_64")
    parser.add_argument("--python-version", default=LAMBDA_PYTHON_VERSION)
    parser.add_argument(
        "--download-only", action="store_true", help="only fill the wheelhouse from the index"
    )
    arguments = parser.parse_args(argv)
    if arguments.output_dir is None and not arguments.download_only:
        parser.error("OUTPUT_DIR is required unless --download-only is given")
    target = {"architecture": arguments.architecture, "python_version": arguments.python_version}
    try:
        if arguments.download_only:
            print(download_wheels(arguments.project_root, **target))
        else:
            assemble_runtime_layer(
                arguments.output_dir, project_root=arguments.project_root, **target
            )
    except RuntimeLayerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
