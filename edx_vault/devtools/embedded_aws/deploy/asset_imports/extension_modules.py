"""Compiled extension modules a function's Python could not load.

Every ``*.so`` in the code root and the layers' Python directories must load in CPython 3.N on
the function's architecture: its filename tag is ``cpython-3N-<arch>-linux-gnu``, ``abi3`` or
none (a ``cpython-311`` or ``darwin`` tag is a problem), and an ELF file's machine is the
function's (x86_64 or aarch64).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator, Sequence
from typing import Final

from edx_vault.devtools.embedded_aws.deploy.asset_imports.lambda_files import (
    Entry,
    Finding,
    Version,
)
from edx_vault.devtools.embedded_aws.deploy.asset_imports.module_finder import ARCHITECTURES

_ELF_MACHINES: Final = {62: "x86_64", 183: "aarch64", 3: "i386", 40: "arm"}
# An extension module's tag: name.TAG.so, TAG being CPython's or PyPy's (not a library's
# version, as in libfoo.1.2.so).
_EXTENSION_TAG: Final = re.compile(r"^[^.]+\.((?:cpython|pypy)[\w-]*|abi\d+)\.so$")


def extension_problems(
    entries: Sequence[Entry], version: Version, architecture: str
) -> Iterator[Finding]:
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
