"""The Lambda layers: gpg and its libraries, and the Python runtime code with its dependencies.

Both are built during ``cdk synth`` by local bundlers written in Python (``ILocalBundling``):
on a Debian or Ubuntu machine with gpg, patchelf and binutils installed (``make setup`` does it)
no Docker is needed. Where local bundling is not possible (macOS, another CPU architecture than
the Lambda's, a glibc too new for Lambda), CDK falls back to building the same thing in Docker
with the same scripts (``layers/*/bundle.py``). The runtime layer installs from a wheelhouse in
``build/lambda-wheels/``, so synth needs no network once it is filled. See docs/gpg-layer.md.

Asset hashes are taken from the *output* (``AssetHashType.OUTPUT``): a gpg security update or a
new wheel changes the layer's hash, so ``cdk deploy`` publishes a new layer version.
"""

from __future__ import annotations

import atexit
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from layers.gpg import bundle as gpg_bundle
from layers.python_runtime import bundle as runtime_bundle

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
GPG_LAYER_SOURCE: Final = PROJECT_ROOT / "layers" / "gpg"
RUNTIME_LAYER_SOURCE: Final = PROJECT_ROOT / "layers" / "python_runtime"
# The function and its layers must agree on both; the construct exposes them for the functions.
LAMBDA_RUNTIME: Final = lambda_.Runtime.PYTHON_3_12
LAMBDA_ARCHITECTURE: Final = lambda_.Architecture.X86_64
# The gpg layer's binaries come from Debian 12: glibc 2.36, but they need no symbol newer than
# 2.34 (Amazon Linux 2023). A newer Debian or Ubuntu may not; the bundler checks.
GPG_BUILD_IMAGE: Final = "public.ecr.aws/docker/library/debian:bookworm-slim"
GPG_BUILD_PACKAGES: Final = ("gpg", "gpg-agent", "gpgconf", "patchelf", "binutils", "python3")
# Where the Docker fallback of the runtime layer sees the project (for pyproject.toml and the
# package); the asset's own source is only layers/python_runtime.
DOCKER_PROJECT_ROOT: Final = "/project"
# platform.machine() spellings of Lambda's architectures.
_HOST_MACHINES: Final = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "arm64",
    "arm64": "arm64",
}
# One local build per layer and target per process: tests and `cdk synth` of several apps
# in one process then pay for pip and patchelf once. Each synth still gets its own copy.
_local_builds: dict[tuple[str, ...], Path] = {}


def host_architecture() -> str | None:
    """This machine's CPU as Lambda names it (``x86_64``, ``arm64``), ``None`` if neither."""
    return _HOST_MACHINES.get(platform.machine().lower())


def _build_once(key: tuple[str, ...], build: Callable[[Path], object], output_dir: Path) -> None:
    built = _local_builds.get(key)
    if built is None:
        staging = Path(tempfile.mkdtemp(prefix="edx-vault-layer-"))
        # mkdtemp makes it 0700 and copytree copies that mode onto CDK's bundling directory.
        staging.chmod(0o755)
        atexit.register(shutil.rmtree, staging, ignore_errors=True)
        build(staging)
        _local_builds[key] = built = staging
    shutil.copytree(built, output_dir, dirs_exist_ok=True, symlinks=True)


def _decline(layer: str, reason: str) -> bool:
    # CDK then runs the Docker fallback; say why, since a missing Docker is the next error.
    print(f"{layer}: not bundling locally ({reason}); falling back to Docker", file=sys.stderr)
    return False


@jsii.implements(cdk.ILocalBundling)
class GpgLocalBundling:
    """Builds the gpg layer on this machine when it can produce one that runs on Lambda.

    Parameters
    ----------
    architecture
        The Lambda architecture the layer is for; the local binaries must match it.
    """

    def __init__(self, architecture: lambda_.Architecture) -> None:
        self.architecture = architecture

    def try_bundle(self, output_dir: str, *_options: object, **_keywords: object) -> bool:
        """Assemble the layer into ``output_dir``; ``False`` makes CDK use Docker instead.

        jsii passes the bundling options as one positional struct, while the generated interface
        declares keyword arguments (aws/aws-cdk#26581); this accepts both and needs neither.
        """
        layer = "gpg layer"
        if sys.platform != "linux":
            return _decline(layer, f"gpg binaries for Lambda come from Linux, not {sys.platform}")
        if host_architecture() != self.architecture.name:
            return _decline(
                layer,
                f"this machine is {platform.machine()}, the layer is {self.architecture.name}",
            )
        try:
            _build_once(
                ("gpg", self.architecture.name), gpg_bundle.assemble_gpg_layer, Path(output_dir)
            )
        except gpg_bundle.LayerBuildError as error:
            return _decline(layer, str(error))
        return True


@jsii.implements(cdk.ILocalBundling)
class RuntimeLocalBundling:
    """Builds the Python runtime layer with this machine's pip, for Lambda's platform.

    Parameters
    ----------
    architecture
        The Lambda architecture (selects the manylinux wheel tag).
    runtime
        The Lambda Python runtime (selects the wheels' Python version).
    """

    def __init__(self, architecture: lambda_.Architecture, runtime: lambda_.Runtime) -> None:
        self.architecture = architecture
        self.python_version = runtime.name.removeprefix("python")

    def try_bundle(self, output_dir: str, *_options: object, **_keywords: object) -> bool:
        """Assemble the layer into ``output_dir``; ``False`` makes CDK use Docker instead.

        The options are ignored, as in :meth:`GpgLocalBundling.try_bundle`.
        """
        try:
            _build_once(
                ("runtime", self.architecture.name, self.python_version),
                lambda staging: runtime_bundle.assemble_runtime_layer(
                    staging,
                    project_root=PROJECT_ROOT,
                    architecture=self.architecture.name,
                    python_version=self.python_version,
                ),
                Path(output_dir),
            )
        except runtime_bundle.RuntimeLayerError as error:
            return _decline("runtime layer", str(error))
        return True


class LambdaLayers(Construct):
    """The two layers every edx-vault function uses.

    Parameters
    ----------
    scope, id_
        As for any construct.
    architecture
        The functions' architecture; the layers are built for it.
    runtime
        The functions' Python runtime.

    Attributes
    ----------
    gpg_layer
        gpg, gpg-agent, gpgconf, gpg-connect-agent in ``/opt/bin`` and their libraries in
        ``/opt/lib``. Runtime code runs ``/opt/bin/gpg`` by absolute path
        (``edx_vault.engine.gnupg_config.find_gpg_binary``).
    runtime_layer
        ``edx_vault`` (without the CLI) and its dependencies, the AWS SDK included (pinned, not
        the runtime's).
    architecture, runtime
        What the functions using these layers must be created with.
    layers
        Both layers, for a function's ``layers=``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        architecture: lambda_.Architecture = LAMBDA_ARCHITECTURE,
        runtime: lambda_.Runtime = LAMBDA_RUNTIME,
    ) -> None:
        super().__init__(scope, id_)
        self.architecture = architecture
        self.runtime = runtime
        self.gpg_layer = lambda_.LayerVersion(
            self,
            "Gpg",
            code=lambda_.Code.from_asset(
                str(GPG_LAYER_SOURCE),
                asset_hash_type=cdk.AssetHashType.OUTPUT,
                bundling=self._gpg_bundling(),
            ),
            compatible_architectures=[architecture],
            compatible_runtimes=[runtime],
            description="GnuPG (gpg, gpg-agent, gpgconf) and its libraries, from Debian 12",
            license="GPL-3.0-or-later",
        )
        self.runtime_layer = lambda_.LayerVersion(
            self,
            "Runtime",
            code=lambda_.Code.from_asset(
                str(RUNTIME_LAYER_SOURCE),
                asset_hash_type=cdk.AssetHashType.OUTPUT,
                bundling=self._runtime_bundling(),
            ),
            compatible_architectures=[architecture],
            compatible_runtimes=[runtime],
            description="edx_vault runtime library and its dependencies",
        )
        self.layers: list[lambda_.ILayerVersion] = [self.gpg_layer, self.runtime_layer]

    def _gpg_bundling(self) -> cdk.BundlingOptions:
        # DockerImage.from_build would run `docker build` as soon as it is called, even when
        # local bundling then succeeds; a registry image plus a command only runs on fallback.
        script = " && ".join(
            [
                "apt-get update -qq",
                "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
                + " ".join(GPG_BUILD_PACKAGES),
                "python3 /asset-input/bundle.py /asset-output",
                # Give the output back to the user who owns the sources, not to root.
                'chown -R "$(stat -c %u:%g /asset-input)" /asset-output',
            ]
        )
        return cdk.BundlingOptions(
            image=cdk.DockerImage.from_registry(GPG_BUILD_IMAGE),
            platform=self.architecture.docker_platform,
            # apt-get needs root inside the container.
            user="root",
            command=["bash", "-c", script],
            local=GpgLocalBundling(self.architecture),
        )

    def _runtime_bundling(self) -> cdk.BundlingOptions:
        return cdk.BundlingOptions(
            image=self.runtime.bundling_image,
            platform=self.architecture.docker_platform,
            volumes=[
                cdk.DockerVolume(host_path=str(PROJECT_ROOT), container_path=DOCKER_PROJECT_ROOT)
            ],
            # The container runs as the host user, whose home is not writable there.
            environment={"PIP_CACHE_DIR": "/tmp/pip-cache"},  # noqa: S108 - inside the container
            command=[
                "python3",
                "/asset-input/bundle.py",
                "/asset-output",
                "--project-root",
                DOCKER_PROJECT_ROOT,
                "--architecture",
                self.architecture.name,
                "--python-version",
                self.runtime.name.removeprefix("python"),
            ],
            local=RuntimeLocalBundling(self.architecture, self.runtime),
        )
