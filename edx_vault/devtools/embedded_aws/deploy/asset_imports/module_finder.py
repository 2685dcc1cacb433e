"""Finding modules on a Lambda function's search path, as CPython's path finder does.

The search path is the one Lambda's Python runtime builds: ``/var/task``, then the layers'
``python/lib/python3.N/site-packages`` and ``python`` in ``/opt``, then the runtime's standard
library (:func:`stdlib_modules`) and the packages the runtime provides (:data:`RUNTIME_PACKAGES`).
A package directory with an ``__init__`` wins, else a module file (an extension module's suffix
for ``3.N`` and the architecture, ``.py``, ``.pyc``), else a namespace package made of every
directory of that name. A module is *followed* (parsed, its imports resolved in turn) when it is
the project's (:data:`PROJECT_PACKAGES`) or no installed distribution owns it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from edx_vault.devtools.embedded_aws.deploy.asset_imports.lambda_files import Entry, Version

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


@dataclass(frozen=True)
class Module:
    """A module found on the search path.

    ``entry``/``file`` are where its code is (none for a namespace package, the standard
    library and the runtime's packages); ``package`` the directories of a package's
    ``__path__``; ``opaque`` means its submodules are not checked.
    """

    name: str
    entry: Entry | None = None
    file: str | None = None
    package: tuple[tuple[Entry, str], ...] = ()
    is_package: bool = False
    opaque: bool = False
    followed: bool = False


@dataclass
class Finder:
    """Finds modules on one function's search path (cached)."""

    entries: tuple[Entry, ...]
    version: Version
    architecture: str
    stdlib: frozenset[str]
    found: dict[str, Module | None] = field(default_factory=dict)
    owned: dict[int, frozenset[str]] = field(default_factory=dict)

    @property
    def suffixes(self) -> tuple[str, ...]:
        """Module file suffixes in the path finder's order: extensions, source, bytecode."""
        major, minor = self.version
        triplet = ARCHITECTURES[self.architecture][0]
        return (f".cpython-{major}{minor}-{triplet}.so", ".abi3.so", ".so", ".py", ".pyc")

    def find(self, name: str) -> Module | None:
        if name in self.found:
            return self.found[name]
        parent_name, _, last = name.rpartition(".")
        module: Module | None
        if parent_name:
            parent = self.find(parent_name)
            if parent is None:
                module = None
            elif parent.opaque:
                module = Module(name, opaque=True)
            else:
                module = None
                if parent.is_package:
                    module = self._search(name, last, parent.package, parent.followed)
                if (
                    module is None
                    and parent.entry is not None
                    and parent.file is not None
                    and b"sys.modules" in parent.entry.view.read(parent.file)
                ):
                    # A module put in sys.modules at run time (six.moves, of the module six).
                    module = Module(name, is_package=True, opaque=True)
        else:
            directories = tuple((entry, entry.directory) for entry in self.entries)
            module = self._search(name, last, directories, None)
            if module is None and (name in self.stdlib or name in RUNTIME_PACKAGES):
                module = Module(name, is_package=True, opaque=True)
        self.found[name] = module
        return module

    def _search(
        self,
        name: str,
        last: str,
        directories: Sequence[tuple[Entry, str]],
        followed: bool | None,
    ) -> Module | None:
        portions: list[tuple[Entry, str]] = []
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
            return Module(name, package=tuple(portions), is_package=True, followed=follow)
        return None

    def _module(
        self,
        name: str,
        entry: Entry,
        file: str,
        package: tuple[tuple[Entry, str], ...],
        followed: bool | None,
    ) -> Module:
        if followed is None:  # a top-level module: whose is it?
            followed = name in PROJECT_PACKAGES or name not in self._owned(entry)
        source = file.endswith(".py")
        return Module(
            name,
            entry,
            file,
            package,
            is_package=bool(package),
            # An extension or bytecode cannot be read here: its submodules are still looked for.
            followed=followed and source,
        )

    def _owned(self, entry: Entry) -> frozenset[str]:
        """Top-level names that installed distributions own in an entry (their RECORD files)."""
        key = id(entry)
        if key not in self.owned:
            names: set[str] = set()
            prefix = entry.join()
            prefix = prefix + "/" if prefix else ""
            for path in entry.view.files:
                rest = path[len(prefix) :] if path.startswith(prefix) else None
                if rest is None or not re.fullmatch(r"[^/]+\.dist-info/RECORD", rest):
                    continue
                for row in entry.view.read(path).decode("utf-8", "replace").splitlines():
                    first = row.split(",", 1)[0].split("/", 1)
                    top = first[0]
                    if top.endswith((".dist-info", ".data")) or top.startswith(".."):
                        continue
                    names.add(top.split(".", 1)[0] if len(first) == 1 else top)
            self.owned[key] = frozenset(names)
        return self.owned[key]
