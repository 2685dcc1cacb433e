"""The project code a Lambda function was deployed with, unpacked for the in-process runtime.

CloudFormation gave each function its code (the asset zip CDK uploaded) and layers. On Lambda
the handler is imported from ``/var/task`` (the code) and ``/opt/python`` (the layers). Here the
embedded AWS unpacks the same zips, as moto stored them, and builds a *view* per function: a
directory holding the code's top-level modules and the layers' **project packages**
(``edx_vault``), put first on ``sys.path`` while that function runs. So the handler and the
project modules it imports are the deployed ones: a module the layer left out
(``edx_vault.cli``), or a file the asset forgot, fails here as on Lambda.

Third-party packages still come from this machine: the layers hold wheels built for Lambda's
Python 3.12 and Linux (``pydantic_core``'s compiled module cannot load in another Python), and
gpg is this machine's. What those layers contain is checked without running it, by the
deploy-time import rule (:mod:`edx_vault.devtools.embedded_aws.deploy.asset_imports`) and ``tests/layer/``.
"""

from __future__ import annotations

import compileall
import hashlib
import io
import py_compile
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

# The packages of this project that the runtime layer ships (see layers/python_runtime).
PROJECT_PACKAGES: Final = ("edx_vault",)
# Where Lambda's Python runtimes look inside a layer (the Lambda Developer Guide, "Layer paths
# for each Lambda runtime"), for the function's Python version.
_LAYER_PATHS: Final = ("python", "python/lib/python3.12/site-packages")


@dataclass(frozen=True)
class DeployedCode:
    """A function's deployed project code.

    Attributes
    ----------
    view
        The directory to put first on ``sys.path`` while the function runs.
    modules
        The top-level module and package names the view provides (each function gets its own
        instances of them).
    """

    view: Path
    modules: frozenset[str]


class DeployedCodeCache:
    """Unpacks code and layer zips once each (by content) under ``root``; thread-safe."""

    def __init__(self, root: Path, *, project_packages: Sequence[str] = PROJECT_PACKAGES) -> None:
        self.root = root
        self.project_packages = tuple(project_packages)
        self._lock = threading.Lock()
        self._views: dict[str, DeployedCode] = {}

    def view(self, code_zip: bytes, layer_zips: Sequence[bytes]) -> DeployedCode | None:
        """The view of a function's code and layers (``None`` when it has no code zip).

        Later layers win over earlier ones, and the code over every layer, as in Lambda's
        ``sys.path`` (``/var/task`` first, then ``/opt/python``, where layers are extracted in
        order, a later layer overwriting an earlier one's files).
        """
        if not code_zip:
            return None
        digest = hashlib.sha256(
            b"".join(hashlib.sha256(part).digest() for part in (code_zip, *layer_zips))
        ).hexdigest()[:16]
        with self._lock:
            if digest in self._views:
                return self._views[digest]
            view = self.root / f"view-{digest}"
            entries: dict[str, Path] = {}
            for layer_zip in layer_zips:
                layer = self._unpacked(layer_zip)
                for relative in _LAYER_PATHS:
                    for package in self.project_packages:
                        if (layer / relative / package).is_dir():
                            entries[package] = layer / relative / package
            code = self._unpacked(code_zip)
            for entry in code.iterdir():
                name = entry.stem if entry.suffix == ".py" else entry.name
                if not name.startswith(("_", ".")) and (entry.suffix == ".py" or entry.is_dir()):
                    entries[entry.name] = entry
            view.mkdir(parents=True, exist_ok=True)
            for target in entries.values():
                _precompile(target)
            for name, target in entries.items():
                link = view / name
                if not link.exists():
                    link.symlink_to(target, target_is_directory=target.is_dir())
            modules = frozenset(name.removesuffix(".py") for name in entries)
            deployed = DeployedCode(view=view, modules=modules)
            self._views[digest] = deployed
            return deployed

    def _unpacked(self, archive: bytes) -> Path:
        target = self.root / f"zip-{hashlib.sha256(archive).hexdigest()[:16]}"
        if not target.exists():
            partial = target.with_suffix(".partial")
            with zipfile.ZipFile(io.BytesIO(archive)) as opened:
                opened.extractall(partial)
            partial.rename(target)
        return target


def _precompile(source: Path) -> None:
    """Write the bytecode of the project code beside it, once per unpacked zip.

    Every cold sandbox imports the function's project modules afresh (Lambda starts a new
    process); without bytecode caches, each import compiles every module's source again, and
    an interpreter run with ``PYTHONDONTWRITEBYTECODE`` never writes them. Compiling once here
    leaves only the modules' execution to each cold start. Lambda itself cannot write
    ``/var/task`` either, which is why this is the emulator's business, not the asset's.
    """
    if source.is_dir():
        compileall.compile_dir(source, quiet=2, workers=1)
    elif source.suffix == ".py":
        py_compile.compile(str(source), doraise=False, quiet=2)
