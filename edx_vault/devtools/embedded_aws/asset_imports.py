"""Would each Lambda handler import on Lambda? Static import resolution over the deployed code.

The embedded AWS runs handlers from the working tree, with this machine's Python and
site-packages, so a handler importing something its function asset and layers do not contain
(a module the runtime layer leaves out, a dev-only package, a dependency missing from
``pyproject.toml``, an extension built for another Python) works here and fails on Lambda with
``Runtime.ImportModuleError``. :func:`import_problems` finds those failures from the synthesized
assembly alone, without running anything and without the function's Python.

For every ``AWS::Lambda::Function`` of a template with a Python runtime (``python3.N``), the
search path is the one Lambda's Python runtime builds:

1. the function's code root, ``/var/task`` (its asset);
2. ``/opt/python/lib/python3.N/site-packages`` and then ``/opt/python``: the function's layers
   are extracted into ``/opt`` in order, a later layer's file replacing an earlier one's;
3. the runtime's standard library for ``3.N`` (:func:`stdlib_modules`: this interpreter's
   ``sys.stdlib_module_names`` adjusted for the modules added or removed between its version and
   ``3.N``, without the Windows-only ones), then the packages the runtime itself provides
   (:data:`RUNTIME_PACKAGES`: the runtime interface client and the AWS SDK with its
   dependencies; a layer's copy comes first and wins).

Modules are found as CPython's path finder finds them: a package directory with an
``__init__``, else a module file (an extension module's suffix for ``3.N`` and the function's
architecture, ``.py``, ``.pyc``), else a namespace package made of every directory of that
name. The handler's module (``Handler`` ``plan.handler`` -> ``plan``) must be found
(``Runtime.ImportModuleError``) and bind the handler's name (``Runtime.HandlerNotFound``); it is
parsed with :mod:`ast` and its imports are followed transitively. A followed file that does not
parse is ``Runtime.UserCodeSyntaxError`` (judged only when this interpreter is at least ``3.N``:
newer syntax is no proof of an error).

Followed (each import resolved, each imported module parsed and its own imports followed):

- every module of the function's code root or of its layers that no installed distribution
  owns (no ``*.dist-info/RECORD`` next to it lists it), and every module of
  :data:`PROJECT_PACKAGES` (``edx_vault``, ``lambdas``) wherever it is;
- ``import a.b.c`` (``a``, ``a.b`` and ``a.b.c`` each), ``from a import b`` (``b`` is a submodule
  when one exists; otherwise, for a followed module, a name the module must bind at top level,
  or ``ImportError: cannot import name``), relative imports (resolved against the importing
  module's package; beyond the top-level package is an error, as in a top-level handler module),
  ``importlib.import_module("literal")`` and ``__import__("literal")``;
- imports anywhere in a file: module level, inside functions, classes, ``with`` and loops.

Not followed, or not required:

- ``if TYPE_CHECKING:`` bodies (and the ``else`` of ``if not TYPE_CHECKING:``), ``if __name__ ==
  "__main__":`` bodies, and the branch of an ``if sys.version_info ...`` test that is false for
  ``3.N``;
- imports in the body of a ``try`` whose handlers catch ``ImportError`` (or
  ``ModuleNotFoundError``, ``Exception``, ``BaseException``, a bare ``except``): optional. The
  imports of such a handler are required only when an import of its ``try`` is missing;
- inside third-party packages (owned by a distribution: boto3, botocore, powertools, pydantic...)
  nothing is parsed: an import naming one is checked down to the module it names (the top-level
  package, ``a.b`` for ``import a.b``), not what that package imports in turn. A missing
  submodule of a package whose ``__init__`` mentions ``sys.modules`` (``six.moves``) is assumed
  to be made at run time, and the standard library's and the runtime's packages' submodules
  are not checked;
- names imported from third-party or standard modules (``from boto3 import Session``), and
  dynamic imports of computed names.

Compiled extension modules (``*.so``) anywhere in the code root and the layers' Python
directories must load in CPython 3.N on the function's architecture: their filename tag is
``cpython-3N-<arch>-linux-gnu``, ``abi3`` or none (a ``cpython-311`` or ``darwin`` tag is a
problem), and an ELF file's machine is the function's (x86_64 or aarch64).

A function whose code or one of whose layers cannot be found in the assembly (a layer ARN from
elsewhere, a template checked without its assets) gets no import verdict, since what it imports
may be there; nor does one whose code and layers hold no Python file at all (a placeholder asset,
as in tests of code sizes). Its extensions are still checked.
"""

from __future__ import annotations

import ast
import os
import re
import struct
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from edx_vault.devtools.embedded_aws.deploy_rules import (
    FUNCTION_TYPE,
    LAYER_TYPE,
    asset_source,
    asset_sources,
)

TASK_ROOT: Final = "/var/task"
OPT: Final = "/opt"
# The project's own packages: always followed, even if a layer installs them with pip.
PROJECT_PACKAGES: Final = frozenset({"edx_vault", "lambdas"})
# What the Python runtime provides besides the standard library: "The Lambda Python runtimes
# include the AWS SDK for Python (Boto3) and its dependencies" (Lambda Developer Guide, Python,
# "Runtime-included SDK"), and the runtime interface client that runs the handler (awslambdaric,
# /var/runtime/bootstrap.py). Anything else the runtime image happens to hold is not documented
# and may go away, so it does not count.
RUNTIME_PACKAGES: Final = frozenset(
    {
        "awslambdaric",
        "bootstrap",
        "boto3",
        "botocore",
        "s3transfer",
        "jmespath",
        "dateutil",
        "six",
        "urllib3",
    }
)
# Lambda's architectures -> the triplet in CPython's extension suffix, and the ELF e_machine.
ARCHITECTURES: Final = {"x86_64": ("x86_64-linux-gnu", 62), "arm64": ("aarch64-linux-gnu", 183)}
_ELF_MACHINES: Final = {62: "x86_64", 183: "aarch64", 3: "i386", 40: "arm"}
# The standard library's changes between versions: (module, first version with it, first
# version without it). Sources: What's New In Python 3.12, "Removed" (asynchat, asyncore,
# distutils, imp, smtpd); 3.13, "PEP 594: dead batteries" and lib2to3; 3.14, new modules
# (annotationlib, compression); 3.11, tomllib; 3.12's private _pydatetime and _pylong.
_STDLIB_CHANGES: Final[tuple[tuple[str, tuple[int, int] | None, tuple[int, int] | None], ...]] = (
    ("tomllib", (3, 11), None),
    ("_pydatetime", (3, 12), None),
    ("_pylong", (3, 12), None),
    ("annotationlib", (3, 14), None),
    ("compression", (3, 14), None),
    *((name, None, (3, 12)) for name in ("asynchat", "asyncore", "distutils", "imp", "smtpd")),
    *(
        (name, None, (3, 13))
        for name in (
            "aifc",
            "audioop",
            "cgi",
            "cgitb",
            "chunk",
            "crypt",
            "_crypt",
            "imghdr",
            "lib2to3",
            "mailcap",
            "msilib",
            "nis",
            "nntplib",
            "ossaudiodev",
            "pipes",
            "sndhdr",
            "spwd",
            "sunau",
            "telnetlib",
            "uu",
            "xdrlib",
        )
    ),
)
# In sys.stdlib_module_names on every platform, importable on none of Lambda's.
_NOT_ON_LINUX: Final = frozenset(
    {"msvcrt", "nt", "winreg", "winsound", "msilib", "_winapi", "_msi", "_overlapped", "_wmi"}
    | {"_scproxy"}
)
_PYTHON_RUNTIME: Final = re.compile(r"^python(\d+)\.(\d+)$")
# An extension module's tag: name.TAG.so, TAG being CPython's or PyPy's (not a library's
# version, as in libfoo.1.2.so).
_EXTENSION_TAG: Final = re.compile(r"^[^.]+\.((?:cpython|pypy)[\w-]*|abi\d+)\.so$")
# What every module has, so ``from m import __doc__`` always works.
_MODULE_ATTRIBUTES: Final = frozenset(
    {"__doc__", "__name__", "__file__", "__spec__", "__loader__", "__package__", "__path__"}
    | {"__builtins__", "__cached__", "__dict__", "__annotations__"}
)
_IMPORT_ERRORS: Final = frozenset(
    {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
)

Version = tuple[int, int]


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


def stdlib_modules(version: Version) -> frozenset[str]:
    """The standard library's top-level modules in CPython ``version`` on Linux.

    This interpreter's ``sys.stdlib_module_names``, with the modules added after ``version``
    removed and those removed between ``version`` and this interpreter put back.
    """
    names = set(sys.stdlib_module_names)
    for name, added, removed in _STDLIB_CHANGES:
        present = (added is None or version >= added) and (removed is None or version < removed)
        if present:
            names.add(name)
        else:
            names.discard(name)
    return frozenset(names - _NOT_ON_LINUX)


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
        The cloud assembly holding its assets (found as :mod:`deploy_rules` finds them: the
        resource's ``aws:asset:path`` metadata, else the ``*.assets.json`` file asset whose
        object key the ``S3Key`` names).
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
        code = _code_tree(checker, assembly_dir, resource, properties.get("Code"), sources, literal)
        if code is None:
            continue
        layers: list[tuple[str, _Tree]] = []
        complete = True
        raw_layers = properties.get("Layers") or []
        for layer in raw_layers if isinstance(raw_layers, list) else []:
            layer_id = layer.get("Ref") if isinstance(layer, Mapping) else None
            layer_resource = resources.get(layer_id) if isinstance(layer_id, str) else None
            tree = None
            if isinstance(layer_resource, Mapping) and layer_resource.get("Type") == LAYER_TYPE:
                content = (layer_resource.get("Properties") or {}).get("Content")
                source = asset_source(assembly_dir, layer_resource, content, sources, literal)
                tree = checker.tree(source) if source is not None else None
            if tree is None:
                complete = False
            else:
                layers.append((str(layer_id), tree))
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
    code_tree = checker.tree(code)
    layer_trees = [checker.tree(layer) for layer in layers]
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


# --------------------------------------------------------------------------------------------
# The files: assets as trees, /var/task and /opt as views
# --------------------------------------------------------------------------------------------


def _plain(value: Any, literal: Callable[[Any], str | None] | None) -> str | None:
    if literal is not None:
        return literal(value)
    return value if isinstance(value, str) else None


class _Tree:
    """The files of one asset (a directory, a zip file, or inline code) by relative POSIX path."""

    def __init__(
        self,
        files: Mapping[str, Callable[[], bytes]],
        dirs: Iterable[str] = (),
    ) -> None:
        self._readers = dict(files)
        self.files = frozenset(self._readers)
        every = set(dirs)
        for name in self.files:
            parent = name.rpartition("/")[0]
            while parent and parent not in every:
                every.add(parent)
                parent = parent.rpartition("/")[0]
        self.dirs = frozenset(every)

    def read(self, name: str) -> bytes:
        return self._readers[name]()

    @classmethod
    def of(cls, source: Path) -> _Tree:
        if source.is_dir():
            files: dict[str, Callable[[], bytes]] = {}
            dirs: list[str] = []
            reals: dict[Path, str] = {}
            # A link to a directory is followed, as Lambda's extracted copy resolves it; a link
            # back to one of its own parents is not walked again.
            for top, subdirs, names in os.walk(source, followlinks=True):
                real = os.path.realpath(top)
                if real in {reals.get(parent) for parent in Path(top).parents}:
                    subdirs[:] = []
                    continue
                reals[Path(top)] = real
                relative = Path(top).relative_to(source).as_posix()
                prefix = "" if relative == "." else relative + "/"
                dirs += [prefix + name for name in subdirs]
                for name in names:
                    files[prefix + name] = Path(top, name).read_bytes
            return cls(files, dirs)
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as archive:
                infos = archive.infolist()

            def member(name: str) -> Callable[[], bytes]:
                def read() -> bytes:
                    with zipfile.ZipFile(source) as archive:
                        return archive.read(name)

                return read

            return cls(
                {info.filename: member(info.filename) for info in infos if not info.is_dir()},
                [info.filename.rstrip("/") for info in infos if info.is_dir()],
            )
        # A single file asset that is not a zip: Lambda would not accept it as code.
        return cls({})


def _code_tree(
    checker: _Checker,
    assembly_dir: Path,
    resource: Mapping[str, Any],
    code: Any,
    sources: Mapping[str, Path],
    literal: Callable[[Any], str | None] | None,
) -> _Tree | None:
    inline = code.get("ZipFile") if isinstance(code, Mapping) else None
    if isinstance(inline, str):
        # Inline code: Lambda writes it to index.py (CloudFormation, AWS::Lambda::Function Code).
        text = inline.encode()
        return _Tree({"index.py": lambda: text})
    source = asset_source(assembly_dir, resource, code, sources, literal)
    return checker.tree(source) if source is not None else None


@dataclass(frozen=True)
class _Place:
    """A file of a view: the tree it comes from, and its label (a layer's logical id)."""

    tree: _Tree
    name: str
    label: str


class _View:
    """A directory of the execution environment (``/var/task``, ``/opt``) as its trees fill it.

    Trees are extracted in order: a later tree's file replaces an earlier one's.
    """

    def __init__(self, mount: str, trees: Sequence[tuple[str, _Tree]]) -> None:
        self.mount = mount
        self.files: dict[str, _Place] = {}
        dirs: set[str] = set()
        for label, tree in trees:
            for name in tree.files:
                self.files[name] = _Place(tree, name, label)
            dirs |= tree.dirs
        self.dirs = frozenset(dirs)

    def shown(self, name: str) -> str:
        place = self.files.get(name)
        where = f"{self.mount}/{name}"
        return f"{where} (layer {place.label})" if place and self.mount == OPT else where

    def path(self, name: str) -> str:
        """The file's path in the execution environment."""
        return f"{self.mount}/{name}"


@dataclass(frozen=True)
class _Entry:
    """One directory of ``sys.path``: a view and a directory in it."""

    view: _View
    directory: str

    def join(self, *parts: str) -> str:
        return "/".join(part for part in (self.directory, *parts) if part)


# --------------------------------------------------------------------------------------------
# Parsing: what a file imports and what names it binds
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Import:
    """One import statement (or a literal ``import_module`` call)."""

    line: int
    module: str  # "" for ``from . import x``
    names: tuple[str, ...]  # from-imports; empty for ``import a.b``
    level: int
    optional: int | None = None  # the guarding try's id: a failure is not an error
    fallback: int | None = None  # the try whose failure makes this required


@dataclass(frozen=True)
class _Parsed:
    imports: tuple[_Import, ...]
    bound: frozenset[str] | None  # None: any name (a star import, a module __getattr__)
    syntax_error: str | None = None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_main_guard(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    constants = [s.value for s in sides if isinstance(s, ast.Constant)]
    return isinstance(test.ops[0], ast.Eq) and names == ["__name__"] and constants == ["__main__"]


def _version_test(test: ast.expr, version: Version) -> bool | None:
    """The value of ``sys.version_info <op> (tuple)`` on ``version``; ``None`` if unknown."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left = test.left
    sliced = isinstance(left, ast.Subscript)
    if isinstance(left, ast.Subscript):
        bounds = left.slice
        if not (
            isinstance(bounds, ast.Slice)
            and bounds.lower is None
            and bounds.step is None
            and isinstance(bounds.upper, ast.Constant)
            and bounds.upper.value == len(version)
        ):
            return None
        left = left.value
    if not (isinstance(left, ast.Attribute) and left.attr == "version_info"):
        return None
    try:
        other = ast.literal_eval(test.comparators[0])
    except ValueError:
        return None
    if not (isinstance(other, tuple) and all(isinstance(part, int) for part in other)):
        return None
    if len(other) > 3:
        return None
    operation = _COMPARISONS.get(type(test.ops[0]))
    if operation is None:
        return None
    # sys.version_info is (major, minor, micro, releaselevel, serial); the micro is unknown.
    candidates: list[tuple[Any, ...]] = (
        [version] if sliced else [(*version, micro, "final", 0) for micro in (0, 99)]
    )
    verdicts = {operation(candidate, other) for candidate in candidates}
    return verdicts.pop() if len(verdicts) == 1 else None


_COMPARISONS: Final[dict[type[ast.cmpop], Callable[[Any, Any], bool]]] = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    for kind in kinds:
        name = kind.attr if isinstance(kind, ast.Attribute) else getattr(kind, "id", None)
        if name in _IMPORT_ERRORS:
            return True
    return False


class _ImportCollector:
    """Walks a module, collecting imports with their guards (see the module docstring)."""

    def __init__(self, version: Version) -> None:
        self.version = version
        self.imports: list[_Import] = []
        self._tries = 0

    def visit(self, node: ast.AST, optional: int | None, fallback: int | None) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.imports.append(_Import(node.lineno, alias.name, (), 0, optional, fallback))
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            self.imports.append(
                _Import(node.lineno, node.module or "", names, node.level, optional, fallback)
            )
        elif isinstance(node, ast.If):
            self._visit_if(node, optional, fallback)
            return
        elif isinstance(node, ast.Try | ast.TryStar):
            self._visit_try(node, optional, fallback)
            return
        elif isinstance(node, ast.Call):
            self._visit_call(node, optional, fallback)
        for child in ast.iter_child_nodes(node):
            self.visit(child, optional, fallback)

    def _visit_all(
        self, nodes: Iterable[ast.AST], optional: int | None, fallback: int | None
    ) -> None:
        for node in nodes:
            self.visit(node, optional, fallback)

    def _visit_if(self, node: ast.If, optional: int | None, fallback: int | None) -> None:
        test = node.test
        negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
        inner = test.operand if isinstance(test, ast.UnaryOp) and negated else test
        verdict: bool | None = None
        if _is_type_checking(inner) or _is_main_guard(inner):
            verdict = False
        else:
            verdict = _version_test(inner, self.version)
        if verdict is not None and negated:
            verdict = not verdict
        if verdict is None:
            self.visit(node.test, optional, fallback)
        if verdict is not False:
            self._visit_all(node.body, optional, fallback)
        if verdict is not True:
            self._visit_all(node.orelse, optional, fallback)

    def _visit_try(
        self, node: ast.Try | ast.TryStar, optional: int | None, fallback: int | None
    ) -> None:
        if any(_catches_import_error(handler) for handler in node.handlers):
            self._tries += 1
            guard = self._tries
            self._visit_all(node.body, guard, fallback)
            self._visit_all(node.handlers, optional, guard)
        else:
            self._visit_all(node.body, optional, fallback)
            self._visit_all(node.handlers, optional, fallback)
        self._visit_all(node.orelse, optional, fallback)
        self._visit_all(node.finalbody, optional, fallback)

    def _visit_call(self, node: ast.Call, optional: int | None, fallback: int | None) -> None:
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else None
        if isinstance(function, ast.Name):
            name = function.id
        if name not in ("import_module", "__import__") or len(node.args) != 1 or node.keywords:
            return
        argument = node.args[0]
        if (
            isinstance(argument, ast.Constant)
            and isinstance(argument.value, str)
            and argument.value
            and not argument.value.startswith(".")
        ):
            self.imports.append(_Import(node.lineno, argument.value, (), 0, optional, fallback))


def _bound_names(module: ast.Module) -> frozenset[str] | None:
    """Names a module binds at top level; ``None`` if it may bind any (``*``, ``__getattr__``)."""
    bound: set[str] = set()

    def targets(node: ast.AST) -> None:
        for name in ast.walk(node):
            if isinstance(name, ast.Name):
                bound.add(name.id)

    def statements(body: Iterable[ast.stmt]) -> bool:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bound.add(node.name)
                if node.name == "__getattr__":
                    return False
            elif isinstance(node, ast.Import):
                bound.update(a.asname or a.name.partition(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if any(alias.name == "*" for alias in node.names):
                    return False
                bound.update(alias.asname or alias.name for alias in node.names)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    targets(target)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor):
                targets(node.target)
            elif isinstance(node, ast.With | ast.AsyncWith):
                for item in node.items:
                    if item.optional_vars is not None:
                        targets(item.optional_vars)
            elif isinstance(node, ast.Global):
                return False  # rare at module level; do not guess
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.NamedExpr):
                    targets(child.target)
            nested: list[list[ast.stmt]] = []
            if isinstance(node, ast.If | ast.For | ast.AsyncFor | ast.While):
                nested = [node.body, node.orelse]
            elif isinstance(node, ast.With | ast.AsyncWith):
                nested = [node.body]
            elif isinstance(node, ast.Try | ast.TryStar):
                nested = [node.body, node.orelse, node.finalbody]
                nested += [handler.body for handler in node.handlers]
                bound.update(handler.name for handler in node.handlers if handler.name)
            elif isinstance(node, ast.Match):
                return False
            for block in nested:
                if not statements(block):
                    return False
        return True

    return frozenset(bound | _MODULE_ATTRIBUTES) if statements(module.body) else None


# --------------------------------------------------------------------------------------------
# Finding modules as CPython's path finder does
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Module:
    """A module found on the search path.

    ``entry``/``file`` are where its code is (none for a namespace package, the standard
    library and the runtime's packages); ``package`` the directories of a package's
    ``__path__``; ``opaque`` means its submodules are not checked.
    """

    name: str
    entry: _Entry | None = None
    file: str | None = None
    package: tuple[tuple[_Entry, str], ...] = ()
    is_package: bool = False
    opaque: bool = False
    followed: bool = False


@dataclass(frozen=True)
class _Function:
    logical_id: str
    handler: str
    version: Version
    architecture: str
    code: _Tree
    layers: tuple[tuple[str, _Tree], ...]
    complete: bool


@dataclass
class _Finder:
    """Finds modules on one function's search path (cached)."""

    entries: tuple[_Entry, ...]
    version: Version
    architecture: str
    stdlib: frozenset[str]
    found: dict[str, _Module | None] = field(default_factory=dict)
    owned: dict[int, frozenset[str]] = field(default_factory=dict)

    @property
    def suffixes(self) -> tuple[str, ...]:
        """Module file suffixes in the path finder's order: extensions, source, bytecode."""
        major, minor = self.version
        triplet = ARCHITECTURES[self.architecture][0]
        return (f".cpython-{major}{minor}-{triplet}.so", ".abi3.so", ".so", ".py", ".pyc")

    def find(self, name: str, read: Callable[[_Entry, str], bytes]) -> _Module | None:
        if name in self.found:
            return self.found[name]
        parent_name, _, last = name.rpartition(".")
        module: _Module | None
        if parent_name:
            parent = self.find(parent_name, read)
            if parent is None:
                module = None
            elif parent.opaque:
                module = _Module(name, opaque=True)
            else:
                module = None
                if parent.is_package:
                    module = self._search(name, last, parent.package, parent.followed)
                if (
                    module is None
                    and parent.entry is not None
                    and parent.file is not None
                    and b"sys.modules" in read(parent.entry, parent.file)
                ):
                    # A module put in sys.modules at run time (six.moves, of the module six).
                    module = _Module(name, is_package=True, opaque=True)
        else:
            directories = tuple((entry, entry.directory) for entry in self.entries)
            module = self._search(name, last, directories, None)
            if module is None and (name in self.stdlib or name in RUNTIME_PACKAGES):
                module = _Module(name, is_package=True, opaque=True)
        self.found[name] = module
        return module

    def _search(
        self,
        name: str,
        last: str,
        directories: Sequence[tuple[_Entry, str]],
        followed: bool | None,
    ) -> _Module | None:
        portions: list[tuple[_Entry, str]] = []
        for entry, directory in directories:
            view = entry.view
            base = f"{directory}/{last}" if directory else last
            if base in view.dirs:
                for suffix in self.suffixes:
                    init = f"{base}/__init__{suffix}"
                    if init in view.files:
                        return self._module(name, entry, init, ((entry, base),), followed)
            for suffix in self.suffixes:
                if base + suffix in view.files:
                    return self._module(name, entry, base + suffix, (), followed)
            if base in view.dirs:
                portions.append((entry, base))
        if portions:
            top = name.partition(".")[0]
            follow = followed
            if follow is None:
                follow = top in PROJECT_PACKAGES or any(
                    top not in self._owned(entry) for entry, _ in portions
                )
            return _Module(name, package=tuple(portions), is_package=True, followed=follow)
        return None

    def _module(
        self,
        name: str,
        entry: _Entry,
        file: str,
        package: tuple[tuple[_Entry, str], ...],
        followed: bool | None,
    ) -> _Module:
        if followed is None:  # a top-level module: whose is it?
            followed = name in PROJECT_PACKAGES or name not in self._owned(entry)
        source = file.endswith(".py")
        return _Module(
            name,
            entry,
            file,
            package,
            is_package=bool(package),
            # An extension or bytecode cannot be read here: its submodules are still looked for.
            followed=followed and source,
        )

    def _owned(self, entry: _Entry) -> frozenset[str]:
        """Top-level names that installed distributions own in an entry (their RECORD files)."""
        key = id(entry)
        if key not in self.owned:
            names: set[str] = set()
            prefix = entry.join()
            prefix = prefix + "/" if prefix else ""
            for path, place in entry.view.files.items():
                rest = path[len(prefix) :] if path.startswith(prefix) else None
                if rest is None or not re.fullmatch(r"[^/]+\.dist-info/RECORD", rest):
                    continue
                for row in place.tree.read(place.name).decode("utf-8", "replace").splitlines():
                    first = row.split(",", 1)[0].split("/", 1)
                    top = first[0]
                    if top.endswith((".dist-info", ".data")) or top.startswith(".."):
                        continue
                    names.add(top.split(".", 1)[0] if len(first) == 1 else top)
            self.owned[key] = frozenset(names)
        return self.owned[key]


# --------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------


class _Checker:
    """Checks functions, sharing parsed files and asset trees between them."""

    def __init__(self) -> None:
        self._trees: dict[Path, _Tree] = {}
        self._parsed: dict[tuple[int, str, Version], _Parsed] = {}
        self._results: dict[tuple[Any, ...], list[tuple[str, int, str, str]]] = {}

    def tree(self, source: Path) -> _Tree | None:
        if not source.exists():
            return None
        if source not in self._trees:
            self._trees[source] = _Tree.of(source)
        return self._trees[source]

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

    def _problems(self, function: _Function) -> Iterator[tuple[str, int, str, str]]:
        major, minor = function.version
        task = _View(TASK_ROOT, [("code", function.code)])
        opt = _View(OPT, function.layers)
        entries = (
            _Entry(task, ""),
            _Entry(opt, f"python/lib/python{major}.{minor}/site-packages"),
            _Entry(opt, "python"),
        )
        yield from _extension_problems(entries, function.version, function.architecture)
        if not function.complete:
            return
        python_files = (".py", ".pyc", ".so")
        if not any(name.endswith(python_files) for view in (task, opt) for name in view.files):
            return
        finder = _Finder(
            entries, function.version, function.architecture, stdlib_modules(function.version)
        )
        yield from _Walk(self, finder, function).problems()

    def parsed(self, entry: _Entry, file: str, version: Version) -> _Parsed:
        place = entry.view.files[file]
        key = (id(place.tree), place.name, version)
        if key not in self._parsed:
            self._parsed[key] = _parse(place.tree.read(place.name), version)
        return self._parsed[key]


def _parse(source: bytes, version: Version) -> _Parsed:
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError) as error:
        # Newer syntax than this interpreter knows is no proof of an error on Lambda.
        message = str(error) if sys.version_info[:2] >= version else None
        return _Parsed((), None, message)
    collector = _ImportCollector(version)
    for statement in module.body:
        collector.visit(statement, None, None)
    return _Parsed(tuple(collector.imports), _bound_names(module))


def _read(entry: _Entry, file: str) -> bytes:
    place = entry.view.files[file]
    return place.tree.read(place.name)


class _Walk:
    """One function's import graph, from its handler module."""

    def __init__(self, checker: _Checker, finder: _Finder, function: _Function) -> None:
        self.checker = checker
        self.finder = finder
        self.function = function
        self.visited: set[str] = set()
        self.queue: list[_Module] = []
        self.found: list[tuple[str, int, str, str]] = []

    def problems(self) -> list[tuple[str, int, str, str]]:
        handler = self.function.handler
        module_name, _, attribute = handler.rpartition(".")
        module_name = module_name.replace("/", ".")
        where = TASK_ROOT
        if not module_name or not attribute:
            return [(where, 0, handler, f"Runtime.MalformedHandlerName: Bad handler '{handler}'")]
        missing = self.require(module_name)
        if missing:
            return [
                (
                    where,
                    0,
                    module_name,
                    f"Runtime.ImportModuleError: Unable to import module '{module_name}': "
                    f"{missing}",
                )
            ]
        handler_module = self.finder.found[module_name]
        while self.queue:
            self.follow(self.queue.pop(0))
        if handler_module and handler_module.followed and handler_module.entry:
            assert handler_module.file is not None
            parsed = self.checker.parsed(
                handler_module.entry, handler_module.file, self.function.version
            )
            if parsed.bound is not None and attribute not in parsed.bound:
                self.found.append(
                    (
                        self.shown(handler_module),
                        0,
                        module_name,
                        f"Runtime.HandlerNotFound: Handler '{attribute}' missing on module "
                        f"'{module_name}'",
                    )
                )
        return self.found

    def shown(self, module: _Module) -> str:
        if module.entry is None or module.file is None:
            return module.name
        return module.entry.view.shown(module.file)

    def require(self, name: str) -> str | None:
        """Import ``name`` and its parents; the error message if one cannot be found."""
        parts = name.split(".")
        for count in range(1, len(parts) + 1):
            prefix = ".".join(parts[:count])
            module = self.finder.find(prefix, _read)
            if module is None:
                parent = ".".join(parts[: count - 1])
                above = self.finder.found.get(parent)
                if above is not None and not above.is_package and not above.opaque:
                    return f"No module named '{prefix}'; '{parent}' is not a package"
                return f"No module named '{prefix}'"
            self.enqueue(module)
        return None

    def enqueue(self, module: _Module) -> None:
        if module.followed and module.file and module.name not in self.visited:
            self.visited.add(module.name)
            self.queue.append(module)

    def follow(self, module: _Module) -> None:
        assert module.entry is not None and module.file is not None
        parsed = self.checker.parsed(module.entry, module.file, self.function.version)
        shown = self.shown(module)
        if parsed.syntax_error:
            self.found.append(
                (shown, 0, module.name, f"Runtime.UserCodeSyntaxError: {parsed.syntax_error}")
            )
            return
        failed_tries: set[int] = set()
        for statement in parsed.imports:
            if statement.fallback is not None and statement.fallback not in failed_tries:
                continue  # the try's imports all resolve, so its handler never runs
            error = self.resolve(module, statement)
            if error is None:
                continue
            if statement.optional is not None:
                failed_tries.add(statement.optional)
                continue
            missing, message = error
            self.found.append((shown, statement.line, missing, message))

    def resolve(self, module: _Module, statement: _Import) -> tuple[str, str] | None:
        """Resolve one import of ``module``: ``None``, or (missing module, error)."""
        target = statement.module
        if statement.level:
            package = module.name if module.is_package else module.name.rpartition(".")[0]
            if not package:
                return (
                    "." * statement.level + target,
                    "ImportError: attempted relative import with no known parent package",
                )
            bits = package.rsplit(".", statement.level - 1)
            if len(bits) < statement.level:
                return (
                    "." * statement.level + target,
                    "ImportError: attempted relative import beyond top-level package",
                )
            target = f"{bits[0]}.{target}" if target else bits[0]
        missing = self.require(target)
        if missing:
            return target, f"ModuleNotFoundError: {missing}"
        imported = self.finder.found[target]
        assert imported is not None
        for name in statement.names:
            if name == "*":
                continue
            submodule = None
            if imported.is_package and not imported.opaque:
                submodule = self.finder.find(f"{target}.{name}", _read)
            if submodule is not None:
                self.enqueue(submodule)
                continue
            if imported.followed and imported.entry and imported.file:
                parsed = self.checker.parsed(imported.entry, imported.file, self.function.version)
                # A package importing from itself (`from . import x` in its __init__) binds x
                # with that very statement: only a submodule can satisfy it.
                bound = frozenset() if imported.name == module.name else parsed.bound
                if bound is not None and name not in bound:
                    return (
                        f"{target}.{name}",
                        f"ImportError: cannot import name '{name}' from '{target}' "
                        f"({imported.entry.view.path(imported.file)})",
                    )
        return None


def _extension_problems(
    entries: Sequence[_Entry], version: Version, architecture: str
) -> Iterator[tuple[str, int, str, str]]:
    """Extension modules of the search path's directories that CPython ``version`` on
    ``architecture`` cannot load."""
    major, minor = version
    triplet, machine = ARCHITECTURES[architecture]
    accepted = {f"cpython-{major}{minor}-{triplet}", "abi3"}
    seen: set[tuple[int, str]] = set()
    for entry in entries:
        prefix = entry.join()
        prefix = prefix + "/" if prefix else ""
        for path, place in entry.view.files.items():
            if not path.endswith(".so") or not path.startswith(prefix):
                continue
            if (id(entry.view), path) in seen:
                continue
            seen.add((id(entry.view), path))
            file_name = path.rpartition("/")[2]
            tag = _EXTENSION_TAG.match(file_name)
            shown = entry.view.shown(path)
            if tag and tag.group(1) not in accepted:
                yield (
                    shown,
                    0,
                    file_name,
                    f"extension module tagged {tag.group(1)}: CPython {major}.{minor} on "
                    f"{architecture} loads only {' or '.join(sorted(accepted))} or untagged "
                    "ones, so its module cannot be imported",
                )
                continue
            header = place.tree.read(place.name)[:20]
            if header[:4] != b"\x7fELF" or len(header) < 20:
                yield (shown, 0, file_name, "not an ELF shared object: Lambda runs Linux")
                continue
            order = "<" if header[5] == 1 else ">"
            (found,) = struct.unpack(f"{order}H", header[18:20])
            if found != machine:
                built = _ELF_MACHINES.get(found, f"machine {found}")
                yield (
                    shown,
                    0,
                    file_name,
                    f"extension module built for {built}: the function runs on {architecture}",
                )
