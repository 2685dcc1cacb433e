"""A Lambda function's files as its Python finds them: ``/var/task`` and ``/opt``, from the assets.

An asset (a directory, a zip file, or inline code) is a :class:`Tree` of files by relative POSIX
path, read only when needed. A :class:`View` is a directory of the execution environment as its
trees fill it: the code asset in ``/var/task``; the layers in ``/opt``, extracted in order, a
later layer's file replacing an earlier one's. An :class:`Entry` is one directory of
``sys.path`` in a view.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from edx_vault.devtools.embedded_aws.deploy.assets import asset_source

TASK_ROOT: Final = "/var/task"
OPT: Final = "/opt"

# A Python version, (major, minor).
Version = tuple[int, int]
# A problem found: (the file as Lambda sees it, the line or 0, the module, the error).
Finding = tuple[str, int, str, str]


class Tree:
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
    def of(cls, source: Path) -> Tree:
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


class Trees:
    """The assets' trees, each read once however many functions use it."""

    def __init__(self) -> None:
        self._trees: dict[Path, Tree] = {}

    def of(self, source: Path) -> Tree | None:
        """The tree of an asset's files, ``None`` when the path does not exist."""
        if not source.exists():
            return None
        if source not in self._trees:
            self._trees[source] = Tree.of(source)
        return self._trees[source]

    def code(
        self,
        assembly_dir: Path,
        resource: Mapping[str, Any],
        code: Any,
        sources: Mapping[str, Path],
        literal: Callable[[Any], str | None] | None,
    ) -> Tree | None:
        """A function's code (its ``Code``): inline, or its asset in the assembly."""
        inline = code.get("ZipFile") if isinstance(code, Mapping) else None
        if isinstance(inline, str):
            # Inline code: Lambda writes it to index.py (CloudFormation, AWS::Lambda::Function
            # Code).
            text = inline.encode()
            return Tree({"index.py": lambda: text})
        source = asset_source(assembly_dir, resource, code, sources, literal)
        return self.of(source) if source is not None else None


@dataclass(frozen=True)
class Place:
    """A file of a view: the tree it comes from, and its label (a layer's logical id)."""

    tree: Tree
    name: str
    label: str


class View:
    """A directory of the execution environment (``/var/task``, ``/opt``) as its trees fill it.

    Trees are extracted in order: a later tree's file replaces an earlier one's.
    """

    def __init__(self, mount: str, trees: Sequence[tuple[str, Tree]]) -> None:
        self.mount = mount
        self.files: dict[str, Place] = {}
        dirs: set[str] = set()
        for label, tree in trees:
            for name in tree.files:
                self.files[name] = Place(tree, name, label)
            dirs |= tree.dirs
        self.dirs = frozenset(dirs)

    def shown(self, name: str) -> str:
        place = self.files.get(name)
        where = f"{self.mount}/{name}"
        return f"{where} (layer {place.label})" if place and self.mount == OPT else where

    def path(self, name: str) -> str:
        """The file's path in the execution environment."""
        return f"{self.mount}/{name}"

    def read(self, name: str) -> bytes:
        """The bytes of one of the view's files."""
        place = self.files[name]
        return place.tree.read(place.name)


@dataclass(frozen=True)
class Entry:
    """One directory of ``sys.path``: a view and a directory in it."""

    view: View
    directory: str

    def join(self, *parts: str) -> str:
        return "/".join(part for part in (self.directory, *parts) if part)
