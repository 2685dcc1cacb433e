"""Assemble the gpg Lambda layer from the GnuPG installed on a Debian or Ubuntu machine.

Lambda's Python runtimes (Amazon Linux 2023, glibc 2.34) ship no gpg, and python-gnupg needs the
binary. This module copies gpg, gpg-agent, gpgconf and gpg-connect-agent into ``bin/`` and every
shared library they load, except glibc's own, into ``lib/``. Lambda extracts a layer under
``/opt``, so:

- ``bin/gpgconf.ctl`` says ``rootdir=/opt``: gpg then starts ``/opt/bin/gpg-agent`` instead of
  the compiled-in ``/usr/bin/gpg-agent`` (the classic "gpg-agent not found" failure).
- Every ELF gets a DT_RPATH (``patchelf --force-rpath``) pointing at the layer's ``lib/``.
  DT_RPATH is searched *before* ``LD_LIBRARY_PATH``, which on Lambda lists ``/lib64`` and
  ``/usr/lib64`` ahead of ``/opt/lib``; DT_RUNPATH would come after it, and a same-named system
  library (an older libgcrypt, say) would shadow ours.
- The result is refused if any ELF needs a glibc symbol version newer than Lambda's 2.34 or
  glibc's private ABI, so a build machine with a newer glibc cannot publish a layer that only
  fails at run time.

It uses only the standard library, plus ``ldd`` (glibc), ``readelf`` (binutils) and ``patchelf``,
so the same file runs on a developer machine (through the CDK local bundler) and inside the
Debian container of the Docker fallback: ``python3 bundle.py OUTPUT_DIR``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# What python-gnupg and the runtime set-up run: gpg itself, the agent it starts, gpgconf to
# launch and kill the agent, gpg-connect-agent to ask a running agent whether it is alive.
TOOLS = ("gpg", "gpg-agent", "gpgconf", "gpg-connect-agent")
# Where Lambda extracts layers; gpgconf.ctl's rootdir and the RPATHs are relative to it.
LAYER_ROOT = "/opt"
GPGCONF_CTL = "gpgconf.ctl"
# Binaries find the libraries from bin/, the libraries find each other from lib/.
BINARY_RPATH = "$ORIGIN/../lib"
LIBRARY_RPATH = "$ORIGIN"
# Amazon Linux 2023, which Lambda's python3.12 and later runtimes run on, has glibc 2.34.
LAMBDA_GLIBC = (2, 34)
# glibc's own shared objects: the runtime provides these and they must match its ld.so, so they
# are never bundled. Their sonames have not changed in decades.
GLIBC_SONAMES = frozenset(
    {
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
        "libBrokenLocale.so.1",
        "libanl.so.1",
        "libc.so.6",
        "libc_malloc_debug.so.0",
        "libdl.so.2",
        "libm.so.6",
        "libmvec.so.1",
        "libnsl.so.1",
        "libnss_dns.so.2",
        "libnss_files.so.2",
        "libpthread.so.0",
        "libresolv.so.2",
        "librt.so.1",
        "libthread_db.so.1",
        "libutil.so.1",
    }
)
ELF_MAGIC = b"\x7fELF"
# "  libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or "  /lib64/ld-linux... (0x...)"
_LDD_RESOLVED = re.compile(r"^\s*(?P<soname>\S+)\s+=>\s+(?P<path>/\S+)\s+\(0x[0-9a-f]+\)$")
_LDD_NOT_FOUND = re.compile(r"^\s*(?P<soname>\S+)\s+=>\s+not found$")
# readelf --version-info lists what an ELF needs: "  0x0010:   Name: GLIBC_2.14  Flags: ..."
_VERSION_NEED = re.compile(r"Name:\s+(?P<name>GLIBC_[0-9A-Z_.]+)")


class LayerBuildError(RuntimeError):
    """The machine cannot produce a gpg layer that works on Lambda; the message says why."""


@dataclass(frozen=True)
class GpgLayer:
    """What :func:`assemble_gpg_layer` wrote.

    Attributes
    ----------
    root
        The layer's top directory (what Lambda extracts to ``/opt``).
    binaries
        Tool name to its path under ``root/bin``.
    libraries
        Soname to its path under ``root/lib``.
    glibc_needed
        The highest glibc symbol version any ELF in the layer needs, as ``(major, minor)``.
    """

    root: Path
    binaries: Mapping[str, Path]
    libraries: Mapping[str, Path]
    glibc_needed: tuple[int, int]

    def elf_files(self) -> list[Path]:
        """Every ELF the layer ships: binaries first, then libraries."""
        return [*self.binaries.values(), *self.libraries.values()]


def locate_tools(search_path: str | None = None) -> dict[str, Path]:
    """Find the GnuPG tools the layer ships.

    Parameters
    ----------
    search_path
        A ``PATH``-style list of directories; the process's ``PATH`` when omitted.

    Raises
    ------
    LayerBuildError
        When a tool is not installed, naming the Debian packages that provide it.
    """
    found: dict[str, Path] = {}
    missing: list[str] = []
    for tool in TOOLS:
        location = shutil.which(tool, path=search_path)
        if location is None:
            missing.append(tool)
        else:
            found[tool] = Path(location).resolve()
    if missing:
        raise LayerBuildError(
            f"not installed: {', '.join(missing)} "
            "(apt-get install gpg gpg-agent gpgconf, or run scripts/install-system-deps.sh)"
        )
    return found


def shared_libraries(elf: Path) -> dict[str, Path]:
    """The non-glibc shared libraries ``elf`` loads, directly or through other libraries.

    ``ldd`` is the dynamic loader itself reporting the full resolution it would perform, so it
    sees exactly what will load at run time, transitively, with no ELF parsing of our own. It
    runs the loader on the file, which is fine for the distribution's own binaries.

    Parameters
    ----------
    elf
        A dynamically linked executable or shared library.

    Returns
    -------
    dict[str, Path]
        Soname to the real file (symlinks resolved) on this machine.

    Raises
    ------
    LayerBuildError
        When a dependency cannot be found on this machine.
    """
    listing = _run(["ldd", str(elf)])
    libraries: dict[str, Path] = {}
    for line in listing.splitlines():
        if match := _LDD_NOT_FOUND.match(line):
            raise LayerBuildError(f"{elf} needs {match['soname']}, which is not installed")
        match = _LDD_RESOLVED.match(line)
        if match and match["soname"] not in GLIBC_SONAMES:
            libraries[match["soname"]] = Path(match["path"]).resolve()
    return libraries


def glibc_versions_needed(elf: Path) -> set[str]:
    """The glibc symbol versions ``elf`` requires (``GLIBC_2.14``, ``GLIBC_PRIVATE``, ...).

    These are the ELF's version-needed entries (``.gnu.version_r``): what the loader checks
    against the system's libc before anything runs.
    """
    return set(_VERSION_NEED.findall(_run(["readelf", "--version-info", "--wide", str(elf)])))


def parse_glibc_version(name: str) -> tuple[int, int] | None:
    """``GLIBC_2.34`` -> ``(2, 34)``; ``None`` for names that are not a release (GLIBC_PRIVATE)."""
    match = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", name)
    return (int(match[1]), int(match[2])) if match else None


def check_glibc_compatibility(
    elves: Iterable[Path], *, limit: tuple[int, int] = LAMBDA_GLIBC
) -> tuple[int, int]:
    """Refuse ELFs that would not load on a system with glibc ``limit``.

    Returns
    -------
    tuple[int, int]
        The highest glibc version any of them needs.

    Raises
    ------
    LayerBuildError
        Listing every ELF that needs a newer glibc or ``GLIBC_PRIVATE``.
    """
    highest = (0, 0)
    problems: list[str] = []
    for elf in elves:
        for name in sorted(glibc_versions_needed(elf)):
            version = parse_glibc_version(name)
            if version is None:
                problems.append(f"{elf.name} needs {name}")
                continue
            highest = max(highest, version)
            if version > limit:
                problems.append(f"{elf.name} needs {name}")
    if problems:
        raise LayerBuildError(
            f"built against a newer glibc than Lambda's {limit[0]}.{limit[1]}: "
            + "; ".join(problems)
            + ". Build on Debian 12 (or with the Docker fallback)."
        )
    return highest


def assemble_gpg_layer(output_dir: Path, *, search_path: str | None = None) -> GpgLayer:
    """Write the gpg layer (``bin/`` and ``lib/``) into ``output_dir``.

    Parameters
    ----------
    output_dir
        An empty or missing directory; becomes the layer's ``/opt``.
    search_path
        Where to look for the GnuPG tools (``PATH`` syntax); the process's ``PATH`` when omitted.

    Raises
    ------
    LayerBuildError
        When a tool or library is missing, the binaries need a newer glibc than Lambda has, or the
        assembled gpgconf does not honour ``gpgconf.ctl``.
    """
    for helper in ("ldd", "readelf", "patchelf"):
        if shutil.which(helper) is None:
            raise LayerBuildError(
                f"{helper} is not installed (apt-get install libc-bin binutils patchelf, "
                "or run scripts/install-system-deps.sh)"
            )
    sources = locate_tools(search_path)
    bin_dir = output_dir / "bin"
    lib_dir = output_dir / "lib"
    bin_dir.mkdir(parents=True, exist_ok=True)
    lib_dir.mkdir(parents=True, exist_ok=True)

    wanted_libraries: dict[str, Path] = {}
    binaries: dict[str, Path] = {}
    for tool, source in sorted(sources.items()):
        wanted_libraries.update(shared_libraries(source))
        binaries[tool] = _install(source, bin_dir / tool, mode=0o755)
    libraries = {
        soname: _install(source, lib_dir / soname, mode=0o644)
        for soname, source in sorted(wanted_libraries.items())
    }
    for binary in binaries.values():
        _run(["patchelf", "--force-rpath", "--set-rpath", BINARY_RPATH, str(binary)])
    for library in libraries.values():
        _run(["patchelf", "--force-rpath", "--set-rpath", LIBRARY_RPATH, str(library)])
    (bin_dir / GPGCONF_CTL).write_text(f"rootdir={LAYER_ROOT}\n", encoding="utf-8")

    layer = GpgLayer(
        root=output_dir,
        binaries=binaries,
        libraries=libraries,
        glibc_needed=check_glibc_compatibility([*binaries.values(), *libraries.values()]),
    )
    _check_rootdir_honoured(binaries["gpgconf"])
    return layer


def _install(source: Path, target: Path, *, mode: int) -> Path:
    # copyfile, not copy2: the layer's files carry no host timestamps, ownership or modes.
    shutil.copyfile(source, target)
    target.chmod(mode)
    return target


def _check_rootdir_honoured(gpgconf: Path) -> None:
    # GnuPG before 2.2.28 ignores gpgconf.ctl on Linux; its gpg would look for the agent in
    # /usr/bin and fail on Lambda. The layer's own gpgconf reads the gpgconf.ctl beside it, so it
    # must report /opt/bin wherever the layer is on this machine.
    bindir = _run([str(gpgconf), "--list-dirs", "bindir"]).strip()
    if bindir != f"{LAYER_ROOT}/bin":
        raise LayerBuildError(
            f"{gpgconf.name} ignores {GPGCONF_CTL} (reports bindir {bindir!r}); "
            "GnuPG 2.2.28 or newer is needed"
        )


def _run(command: Sequence[str]) -> str:
    try:
        completed = subprocess.run(  # noqa: S603 - fixed tool names, paths we chose
            list(command), check=True, capture_output=True, text=True
        )
    except subprocess.CalledProcessError as error:
        raise LayerBuildError(
            f"{' '.join(command)} failed ({error.returncode}): {error.stderr.strip()}"
        ) from error
    except OSError as error:
        raise LayerBuildError(f"cannot run {command[0]}: {error}") from error
    return completed.stdout


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python3 bundle.py OUTPUT_DIR`` (used by the Docker fallback)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("output_dir", type=Path, help="where to write bin/ and lib/")
    arguments = parser.parse_args(argv)
    try:
        layer = assemble_gpg_layer(arguments.output_dir)
    except LayerBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"gpg layer: {len(layer.binaries)} binaries, {len(layer.libraries)} libraries, "
        f"needs glibc {layer.glibc_needed[0]}.{layer.glibc_needed[1]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
