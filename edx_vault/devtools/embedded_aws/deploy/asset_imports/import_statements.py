"""What a Python file imports, and what names it binds, read with :mod:`ast` (never run).

:func:`parse` collects a module's imports with their guards (see
:mod:`edx_vault.devtools.embedded_aws.deploy.asset_imports` for what is followed and what
is optional): ``if TYPE_CHECKING:`` and ``if __name__ == "__main__":`` bodies are left out, the
branch of an ``if sys.version_info ...`` test that is false for the function's Python too; the
imports of a ``try`` catching ``ImportError`` are optional, those of its handler required only
when one of them is missing. It also says which names the module binds at top level, so
``from m import name`` can be judged.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from edx_vault.devtools.embedded_aws.deploy.asset_imports.lambda_files import Entry, Version

# What every module has, so ``from m import __doc__`` always works.
_MODULE_ATTRIBUTES: Final = frozenset(
    {"__doc__", "__name__", "__file__", "__spec__", "__loader__", "__package__", "__path__"}
    | {"__builtins__", "__cached__", "__dict__", "__annotations__"}
)
_IMPORT_ERRORS: Final = frozenset(
    {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
)


@dataclass(frozen=True)
class Import:
    """One import statement (or a literal ``import_module`` call)."""

    line: int
    module: str  # "" for ``from . import x``
    names: tuple[str, ...]  # from-imports; empty for ``import a.b``
    level: int
    optional: int | None = None  # the guarding try's id: a failure is not an error
    fallback: int | None = None  # the try whose failure makes this required


@dataclass(frozen=True)
class Parsed:
    imports: tuple[Import, ...]
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
        self.imports: list[Import] = []
        self._tries = 0

    def visit(self, node: ast.AST, optional: int | None, fallback: int | None) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.imports.append(Import(node.lineno, alias.name, (), 0, optional, fallback))
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            self.imports.append(
                Import(node.lineno, node.module or "", names, node.level, optional, fallback)
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
            self.imports.append(Import(node.lineno, argument.value, (), 0, optional, fallback))


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


def parse(source: bytes, version: Version) -> Parsed:
    """The imports and bound names of one file, or its syntax error."""
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError) as error:
        # Newer syntax than this interpreter knows is no proof of an error on Lambda.
        message = str(error) if sys.version_info[:2] >= version else None
        return Parsed((), None, message)
    collector = _ImportCollector(version)
    for statement in module.body:
        collector.visit(statement, None, None)
    return Parsed(tuple(collector.imports), _bound_names(module))


class ParsedFiles:
    """Parsed files, each parsed once per Python version however many functions import it."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[int, str, Version], Parsed] = {}

    def parsed(self, entry: Entry, file: str, version: Version) -> Parsed:
        place = entry.view.files[file]
        key = (id(place.tree), place.name, version)
        if key not in self._parsed:
            self._parsed[key] = parse(place.tree.read(place.name), version)
        return self._parsed[key]
