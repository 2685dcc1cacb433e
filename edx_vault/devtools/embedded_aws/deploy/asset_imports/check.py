"""The import check's entry: every problem that would stop a Python function from loading.

:func:`import_problems` checks every Python function of a template, from the assembly's assets;
:func:`function_problems` checks one function given its code and layers. What is followed and
what is not is in :mod:`edx_vault.devtools.embedded_aws.deploy.asset_imports`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from edx_vault.devtools.embedded_aws.deploy.asset_imports.extension_modules import (
    extension_problems,
)
from edx_vault.devtools.embedded_aws.deploy.asset_imports.import_graph import ImportWalk
from edx_vault.devtools.embedded_aws.deploy.asset_imports.import_statements import ParsedFiles
from edx_vault.devtools.embedded_aws.deploy.asset_imports.lambda_files import (
    OPT,
    TASK_ROOT,
    Entry,
    Finding,
    Tree,
    Trees,
    Version,
    View,
)
from edx_vault.devtools.embedded_aws.deploy.asset_imports.module_finder import (
    ARCHITECTURES,
    Finder,
    stdlib_modules,
)
from edx_vault.devtools.embedded_aws.deploy.assets import (
    FUNCTION_TYPE,
    asset_sources,
    layer_sources,
)

_PYTHON_RUNTIME: Final = re.compile(r"^python(\d+)\.(\d+)$")


@dataclass(frozen=True)
class ImportProblem:
    """Something that would make a function fail to load on Lambda.

    Attributes
    ----------
    function
        The function's logical id.
    handler
        Its ``Handler``.
    file
        The file at fault as Lambda sees it (``/var/task/plan.py``,
        ``/opt/python/edx_vault/x.py``), with the layer it comes from in parentheses.
    line
        The line of the import (0 when the problem is about the file itself).
    module
        The module that cannot be imported (or, for an extension, its file name).
    error
        The error Lambda would give, in Python's words where Python words it.
    """

    function: str
    handler: str
    file: str
    line: int
    module: str
    error: str

    @property
    def where(self) -> str:
        """``file:line``, or the file alone for a problem of the whole file."""
        return f"{self.file}:{self.line}" if self.line else self.file

    def describe(self) -> str:
        """One line: ``Function: file:line: error``."""
        return f"{self.function} ({self.handler}): {self.where}: {self.error}"

    def __str__(self) -> str:
        return self.describe()


def import_problems(
    template: Mapping[str, Any],
    assembly_dir: Path,
    *,
    literal: Callable[[Any], str | None] | None = None,
) -> list[ImportProblem]:
    """Every problem that would stop a Python function of the template from loading on Lambda.

    Parameters
    ----------
    template
        The parsed template.
    assembly_dir
        The cloud assembly holding its assets (found by
        :func:`~edx_vault.devtools.embedded_aws.deploy.assets.asset_source`: the resource's
        ``aws:asset:path`` metadata, else the ``*.assets.json`` file asset whose object key the
        ``S3Key`` names).
    literal
        Resolves a template value to a string (``S3Key``); by default only plain strings.

    Returns
    -------
    list[ImportProblem]
        In template order, then in the order the imports are met.
    """
    resources: Mapping[str, Any] = template.get("Resources") or {}
    sources = asset_sources(assembly_dir)
    checker = _Checker()
    found: list[ImportProblem] = []
    for logical_id, resource in resources.items():
        if not isinstance(resource, Mapping) or resource.get("Type") != FUNCTION_TYPE:
            continue
        properties = resource.get("Properties") or {}
        runtime = _plain(properties.get("Runtime"), literal)
        handler = _plain(properties.get("Handler"), literal)
        match = _PYTHON_RUNTIME.match(runtime or "")
        if match is None or handler is None:
            continue
        version = (int(match.group(1)), int(match.group(2)))
        architectures = properties.get("Architectures")
        architecture = (
            _plain(architectures[0], literal)
            if isinstance(architectures, list) and architectures
            else "x86_64"
        )
        if architecture not in ARCHITECTURES:
            continue
        code = checker.trees.code(assembly_dir, resource, properties.get("Code"), sources, literal)
        if code is None:
            continue
        layers: list[tuple[str, Tree]] = []
        complete = True
        raw_layers = properties.get("Layers")
        for layer_id, source in layer_sources(
            assembly_dir, resources, raw_layers, sources, literal
        ):
            tree = checker.trees.of(source) if source is not None else None
            if tree is None:
                complete = False
            else:
                layers.append((layer_id, tree))
        found += checker.check(
            _Function(logical_id, handler, version, architecture, code, tuple(layers), complete)
        )
    return found


def function_problems(
    code: Path,
    layers: Sequence[Path] = (),
    *,
    handler: str,
    runtime: str = "python3.12",
    architecture: str = "x86_64",
    function: str = "Function",
) -> list[ImportProblem]:
    """The problems of one function given its code and layers as directories or zip files.

    ``layers`` are named ``Layer0``, ``Layer1``... in the problems.
    """
    match = _PYTHON_RUNTIME.match(runtime)
    if match is None:
        raise ValueError(f"not a Python runtime: {runtime!r}")
    checker = _Checker()
    code_tree = checker.trees.of(code)
    layer_trees = [checker.trees.of(layer) for layer in layers]
    if code_tree is None or None in layer_trees:
        raise FileNotFoundError(f"no such code or layer: {[code, *layers]}")
    return checker.check(
        _Function(
            function,
            handler,
            (int(match.group(1)), int(match.group(2))),
            architecture,
            code_tree,
            tuple((f"Layer{index}", tree) for index, tree in enumerate(layer_trees) if tree),
            complete=True,
        )
    )


def _plain(value: Any, literal: Callable[[Any], str | None] | None) -> str | None:
    if literal is not None:
        return literal(value)
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class _Function:
    logical_id: str
    handler: str
    version: Version
    architecture: str
    code: Tree
    layers: tuple[tuple[str, Tree], ...]
    complete: bool


class _Checker:
    """Checks functions, sharing parsed files and asset trees between them."""

    def __init__(self) -> None:
        self.trees = Trees()
        self._files = ParsedFiles()
        self._results: dict[tuple[Any, ...], list[Finding]] = {}

    def check(self, function: _Function) -> list[ImportProblem]:
        key = (
            id(function.code),
            tuple(id(tree) for _, tree in function.layers),
            tuple(label for label, _ in function.layers),
            function.handler,
            function.version,
            function.architecture,
            function.complete,
        )
        if key not in self._results:
            self._results[key] = list(self._problems(function))
        return [
            ImportProblem(function.logical_id, function.handler, *found)
            for found in self._results[key]
        ]

    def _problems(self, function: _Function) -> Iterator[Finding]:
        major, minor = function.version
        task = View(TASK_ROOT, [("code", function.code)])
        opt = View(OPT, function.layers)
        entries = (
            Entry(task, ""),
            Entry(opt, f"python/lib/python{major}.{minor}/site-packages"),
            Entry(opt, "python"),
        )
        yield from extension_problems(entries, function.version, function.architecture)
        if not function.complete:
            return
        python_files = (".py", ".pyc", ".so")
        if not any(name.endswith(python_files) for view in (task, opt) for name in view.files):
            return
        finder = Finder(
            entries, function.version, function.architecture, stdlib_modules(function.version)
        )
        yield from ImportWalk(self._files, finder, function.handler, function.version).problems()
