"""One function's import graph, walked from its handler module: every import must resolve.

The handler's module (``Handler`` ``plan.handler`` -> ``plan``) must be found
(``Runtime.ImportModuleError``) and bind the handler's name (``Runtime.HandlerNotFound``). Each
followed module's imports are then resolved in turn: ``import a.b.c`` (``a``, ``a.b`` and
``a.b.c`` each), ``from a import b`` (a submodule, or a name a followed module must bind),
relative imports, literal ``import_module`` calls. A file that does not parse is
``Runtime.UserCodeSyntaxError``.
"""

from __future__ import annotations

from edx_vault.devtools.embedded_aws.deploy.asset_imports.import_statements import (
    Import,
    ParsedFiles,
)
from edx_vault.devtools.embedded_aws.deploy.asset_imports.lambda_files import (
    TASK_ROOT,
    Finding,
    Version,
)
from edx_vault.devtools.embedded_aws.deploy.asset_imports.module_finder import Finder, Module


class ImportWalk:
    """One function's import graph, from its handler module."""

    def __init__(self, files: ParsedFiles, finder: Finder, handler: str, version: Version) -> None:
        self.files = files
        self.finder = finder
        self.handler = handler
        self.version = version
        self.visited: set[str] = set()
        self.queue: list[Module] = []
        self.found: list[Finding] = []

    def problems(self) -> list[Finding]:
        handler = self.handler
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
            parsed = self.files.parsed(handler_module.entry, handler_module.file, self.version)
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

    def shown(self, module: Module) -> str:
        if module.entry is None or module.file is None:
            return module.name
        return module.entry.view.shown(module.file)

    def require(self, name: str) -> str | None:
        """Import ``name`` and its parents; the error message if one cannot be found."""
        parts = name.split(".")
        for count in range(1, len(parts) + 1):
            prefix = ".".join(parts[:count])
            module = self.finder.find(prefix)
            if module is None:
                parent = ".".join(parts[: count - 1])
                above = self.finder.found.get(parent)
                if above is not None and not above.is_package and not above.opaque:
                    return f"No module named '{prefix}'; '{parent}' is not a package"
                return f"No module named '{prefix}'"
            self.enqueue(module)
        return None

    def enqueue(self, module: Module) -> None:
        if module.followed and module.file and module.name not in self.visited:
            self.visited.add(module.name)
            self.queue.append(module)

    def follow(self, module: Module) -> None:
        assert module.entry is not None and module.file is not None
        parsed = self.files.parsed(module.entry, module.file, self.version)
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

    def resolve(self, module: Module, statement: Import) -> tuple[str, str] | None:
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
                submodule = self.finder.find(f"{target}.{name}")
            if submodule is not None:
                self.enqueue(submodule)
                continue
            if imported.followed and imported.entry and imported.file:
                parsed = self.files.parsed(imported.entry, imported.file, self.version)
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
