"""Stop what the handlers left running when the server stops: gpg-agents and their homes.

On Lambda, a function's sandbox takes everything with it when it is recycled, so the decrypt
handler keeps a GnuPG home and its ``gpg-agent`` across warm invocations. Here the handlers run
in the server, and a ``gpg-agent`` daemonizes: it would outlive the server, and its home (which
holds the pipeline's protected private key) would stay in ``/tmp``.

The server puts a marker variable with a token of its own in its environment; every process it
or its handlers start inherits it. When the server stops, each process carrying that exact
marker is stopped by its pid (a gpg-agent through ``gpgconf --kill`` for its home, which is then
deleted when it lies in a temporary directory), and nothing else. This needs ``/proc`` (Linux);
elsewhere nothing is found and the agents outlive the server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Final

MARKER_VARIABLE: Final = "EDX_VAULT_EMBEDDED_AWS"
_PROC: Final = Path("/proc")


def mark_this_process() -> str:
    """Set a fresh marker in this process's environment (inherited by its children); return it."""
    token = f"{os.getpid()}-{uuid.uuid4().hex}"
    os.environ[MARKER_VARIABLE] = token
    return token


def marked_processes(token: str) -> list[int]:
    """Pids of the other processes whose environment carries this marker."""
    if not _PROC.is_dir():
        return []
    marker = f"{MARKER_VARIABLE}={token}".encode()
    found = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if marker in environment.split(b"\0"):
            found.append(int(entry.name))
    return found


def _gpg_agent_home(pid: int) -> Path | None:
    try:
        arguments = (_PROC / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    if not arguments or Path(arguments[0]).name != "gpg-agent" or "--homedir" not in arguments:
        return None
    index = arguments.index("--homedir") + 1
    return Path(arguments[index]) if index < len(arguments) else None


def _in_a_temporary_directory(path: Path) -> bool:
    temporary = {Path(tempfile.gettempdir()).resolve(), Path("/tmp").resolve()}  # noqa: S108
    return path.resolve().parent in temporary


def stop_leftovers(token: str) -> int:
    """Stop every process carrying the marker; delete the gpg homes they used. Return the count."""
    pids = marked_processes(token)
    gpgconf = shutil.which("gpgconf")
    for pid in pids:
        home = _gpg_agent_home(pid)
        if home is not None and gpgconf is not None:
            subprocess.run(  # noqa: S603 - gpgconf from PATH, a home our handlers made
                [gpgconf, "--homedir", str(home), "--kill", "all"],
                capture_output=True,
                check=False,
                timeout=10,
            )
        with contextlib.suppress(ProcessLookupError):  # gpgconf may have stopped it already
            os.kill(pid, signal.SIGTERM)
        if home is not None and _in_a_temporary_directory(home):
            shutil.rmtree(home, ignore_errors=True)
    return len(pids)
