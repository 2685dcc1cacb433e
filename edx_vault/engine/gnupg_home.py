"""A private GnuPG home in use: its agent started, checked and stopped, kept across warm invocations.

The home itself (directory and configuration files) is made by
:mod:`edx_vault.engine.gnupg_config`. Starting its agent at once, from the same installation as
gpg, makes a broken layer fail at set-up with gpgconf's message rather than half-way through a
decryption.

Across warm invocations the same home and agent can be kept (:func:`reuse_or_open`): Lambda
freezes the agent with the rest of the sandbox and it answers again after the thaw; a home that
has gone or been tampered with is replaced by a new one. :func:`gpg_smoke_test` checks, after a
deploy, that the function's gpg runs and its agent starts.

Nothing here reads the environment: paths are arguments, with Lambda's as defaults.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Final

import gnupg

from edx_vault.engine.gnupg_config import (
    HOME_MODE,
    LAMBDA_TMP,
    LAYER_BIN_DIR,
    GnupgHomeError,
    create_gnupg_home,
    find_gpg_binary,
    sibling_tool,
)

# How long stop_agent waits for the agent to go away after asking it to.
AGENT_STOP_TIMEOUT_SECONDS: Final = 5.0


class GnupgHome:
    """A private GnuPG home, its agent, and python-gnupg objects bound to both.

    Use as a context manager to stop the agent and delete the home (keys included) on exit, or
    keep one for the life of a Lambda sandbox with :func:`reuse_or_open`.

    Parameters
    ----------
    path
        The home, as made by :func:`create_gnupg_home`.
    gpg_binary
        The gpg to run; see :func:`find_gpg_binary`.
    """

    def __init__(self, path: Path, *, gpg_binary: str) -> None:
        self.path = path
        self.gpg_binary = gpg_binary
        self._gpgconf = sibling_tool(gpg_binary, "gpgconf")
        self._connect_agent = sibling_tool(gpg_binary, "gpg-connect-agent")

    def gpg(self, **options: object) -> gnupg.GPG:
        """A python-gnupg ``GPG`` using this home, with loopback pinentry.

        Parameters
        ----------
        **options
            Passed to ``gnupg.GPG`` (``encoding``, ``env``, ...).
        """
        return gnupg.GPG(
            gpgbinary=self.gpg_binary,
            gnupghome=str(self.path),
            options=["--pinentry-mode", "loopback"],
            **options,
        )

    def is_usable(self) -> bool:
        """Whether the home still exists, belongs to this user and is private (mode 700)."""
        try:
            info = self.path.lstat()
        except FileNotFoundError:
            return False
        return (
            stat.S_ISDIR(info.st_mode)
            and info.st_uid == os.getuid()
            and stat.S_IMODE(info.st_mode) == HOME_MODE
        )

    def launch_agent(self) -> int:
        """Start the agent (from the same installation as gpg) if it is not running.

        Returns
        -------
        int
            The agent's process id.

        Raises
        ------
        GnupgHomeError
            When the agent does not start, with gpgconf's message.
        """
        self._run_tool(self._gpgconf, "--launch", "gpg-agent")
        pid = self.agent_pid()
        if pid is None:
            raise GnupgHomeError(f"gpg-agent did not start for {self.path}")
        return pid

    def agent_pid(self) -> int | None:
        """The running agent's process id, asked of the agent itself; ``None`` when none runs."""
        completed = subprocess.run(  # noqa: S603 - our own tool path and fixed arguments
            [
                self._connect_agent,
                "--homedir",
                str(self.path),
                "--no-autostart",
                "getinfo pid",
                "/bye",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        for line in completed.stdout.splitlines():
            if line.startswith("D "):
                return int(line[2:].strip())
        return None

    def stop_agent(self, *, timeout: float = AGENT_STOP_TIMEOUT_SECONDS) -> None:
        """Stop the agent, if one runs, and wait until it no longer answers.

        Raises
        ------
        GnupgHomeError
            When it still answers after ``timeout`` seconds.
        """
        if not self.path.is_dir():
            return
        self._run_tool(self._gpgconf, "--kill", "gpg-agent")
        deadline = time.monotonic() + timeout
        while self.agent_pid() is not None:
            if time.monotonic() > deadline:
                raise GnupgHomeError(f"gpg-agent for {self.path} still runs after {timeout}s")
            time.sleep(0.05)

    def close(self) -> None:
        """Stop the agent and delete the home with every key in it."""
        self.stop_agent()
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> GnupgHome:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run_tool(self, tool: str, *arguments: str) -> None:
        completed = subprocess.run(  # noqa: S603 - our own tool path and fixed arguments
            [tool, "--homedir", str(self.path), *arguments],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise GnupgHomeError(
                f"{tool} {' '.join(arguments)} failed ({completed.returncode}): "
                f"{completed.stderr.strip()}"
            )


def open_gnupg_home(
    *,
    gpg_binary: str | None = None,
    parent: Path = LAMBDA_TMP,
    layer_bin_dir: Path = LAYER_BIN_DIR,
    fast_unlock: bool = False,
) -> GnupgHome:
    """Create a private home and start its agent.

    Starting the agent here, not lazily on the first gpg call, makes a broken layer fail at set-up
    with gpgconf's message rather than half-way through a decryption.

    Parameters
    ----------
    gpg_binary
        The gpg to run; :func:`find_gpg_binary` (``layer_bin_dir``) when omitted.
    parent
        Where to create the home; Lambda's ``/tmp`` by default.
    layer_bin_dir
        Where the gpg layer's binaries are.
    fast_unlock
        Re-protect imported keys with the fewest S2K rounds (see
        :data:`FAST_UNLOCK_AGENT_CONF`); only for homes nothing is exported from.

    Raises
    ------
    GnupgHomeError
        When the home cannot be created or the agent does not start.
    """
    binary = gpg_binary if gpg_binary is not None else find_gpg_binary(layer_bin_dir)
    home = GnupgHome(
        create_gnupg_home(parent, gpg_binary=binary, fast_unlock=fast_unlock), gpg_binary=binary
    )
    try:
        home.launch_agent()
    except GnupgHomeError:
        shutil.rmtree(home.path, ignore_errors=True)
        raise
    return home


def reuse_or_open(
    current: GnupgHome | None,
    *,
    gpg_binary: str | None = None,
    parent: Path = LAMBDA_TMP,
    layer_bin_dir: Path = LAYER_BIN_DIR,
    fast_unlock: bool = False,
) -> GnupgHome:
    """The home to use for this invocation: ``current`` if still sound, else a new one.

    A Lambda handler keeps the result in a module-level variable and passes it back in on the next
    (warm) invocation, so keys imported once stay imported. The agent is started again if it is
    gone; a home that was deleted, or whose ownership or mode changed, is abandoned (its agent
    stopped) and replaced.

    Parameters
    ----------
    current
        The home of the previous invocation in this sandbox, or ``None`` on a cold start.
    gpg_binary, parent, layer_bin_dir, fast_unlock
        As for :func:`open_gnupg_home`, when a new home is needed.
    """
    if current is not None:
        if current.is_usable():
            current.launch_agent()
            return current
        # The home is abandoned either way; an agent that will not stop dies with the sandbox.
        with contextlib.suppress(GnupgHomeError):
            current.stop_agent()
    return open_gnupg_home(
        gpg_binary=gpg_binary, parent=parent, layer_bin_dir=layer_bin_dir, fast_unlock=fast_unlock
    )


def gpg_smoke_test(
    *,
    gpg_binary: str | None = None,
    parent: Path = LAMBDA_TMP,
    layer_bin_dir: Path = LAYER_BIN_DIR,
) -> dict[str, str]:
    """Check, after a deploy, that the function's gpg runs and its agent starts.

    A handler returns this dict as it is; ``aws lambda invoke`` then shows which gpg and which agent
    ran. Nothing secret is involved: an empty home is created, its agent started and stopped (the
    call fails if it does not stop), the home deleted.

    Parameters
    ----------
    gpg_binary, parent, layer_bin_dir
        As for :func:`open_gnupg_home`.

    Returns
    -------
    dict
        ``gpg_binary`` (the path run), ``gpg_version`` and ``libgcrypt`` (the first lines of
        ``gpg --version``) and ``agent_binary`` (the executable of the agent that started).

    Raises
    ------
    GnupgHomeError
        When gpg does not run or its agent does not start or stop.
    """
    binary = gpg_binary if gpg_binary is not None else find_gpg_binary(layer_bin_dir)
    try:
        version = subprocess.run(  # noqa: S603 - our own tool path and fixed arguments
            [binary, "--version"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError) as error:
        raise GnupgHomeError(f"{binary} --version failed: {error}") from error
    with open_gnupg_home(gpg_binary=binary, parent=parent, layer_bin_dir=layer_bin_dir) as home:
        agent_pid = home.launch_agent()
        agent_binary = _process_executable(agent_pid)
    return {
        "gpg_binary": binary,
        "gpg_version": version[0] if version else "",
        "libgcrypt": version[1] if len(version) > 1 else "",
        "agent_binary": agent_binary,
    }


def _process_executable(pid: int) -> str:
    # Which gpg-agent actually runs: the layer's, not one found elsewhere. Empty without /proc.
    try:
        return str(Path(f"/proc/{pid}/exe").readlink())
    except OSError:
        return ""
