"""Start, deploy into, find and stop the embedded AWS server process.

:func:`up` starts ``python -m edx_vault.devtools.embedded_aws.server`` detached (its own session, output
to a log file), synthesizes the app while the server starts, deploys every stack, and writes the
state file. :func:`down` stops the process the state file names (SIGTERM, then SIGKILL) and
removes the file. A process is only ever signalled after checking it is this server.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from edx_vault.devtools.embedded_aws import DEFAULT_HANDLER_PACKAGES, DEFAULT_HOST, project_root
from edx_vault.devtools.embedded_aws.admin_identity import admin_identity
from edx_vault.devtools.embedded_aws.clients import local_client
from edx_vault.devtools.embedded_aws.deploy.cdk_deploy import DeployReport, deploy_assembly
from edx_vault.devtools.embedded_aws.state import LocalState, read_state, remove_state, write_state
from edx_vault.devtools.embedded_aws.synth import synthesize_vault_app
from edx_vault.settings.config import load_config

SERVER_MODULE: Final = "edx_vault.devtools.embedded_aws.server"
_READY_PREFIX: Final = "ready "


class LocalAwsError(Exception):
    """The embedded AWS could not be started or stopped; the message says why and what to do."""


@dataclass(frozen=True)
class UpResult:
    """What :func:`up` did.

    Attributes
    ----------
    state
        The running server.
    report
        The deployment (``None`` when the server was already running).
    """

    state: LocalState
    report: DeployReport | None


def work_dir(state_file: Path) -> Path:
    """Where the log, the synthesized assembly and zipped assets go: beside the state file."""
    return state_file.parent


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _has_exited(pid: int) -> bool:
    """Whether ``pid`` is gone (or a zombie), for a child of this process or not."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: ask the kernel below
    else:
        if waited == pid:
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
        except (OSError, IndexError):
            return True
    return False


def is_our_server(pid: int) -> bool:
    """Whether ``pid`` is alive and runs this server module (never signal anything else)."""
    if _has_exited(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return SERVER_MODULE.encode() in cmdline.read_bytes()
        except OSError:
            return False
    # No /proc (macOS): trust the state file's pid, which only `up` writes.
    return True


def running_state(state_file: Path) -> LocalState | None:
    """The state of the server the state file names, or ``None`` if it is not running."""
    state = read_state(state_file)
    if state is None or not is_our_server(state.pid):
        return None
    return state


def start_server(
    *,
    host: str,
    port: int,
    account: str,
    log_file: Path,
    handler_packages: Sequence[str] = DEFAULT_HANDLER_PACKAGES,
    extra_arguments: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """Start the server detached from this process's session; return without waiting."""
    command = [sys.executable, "-m", SERVER_MODULE, "--host", host, "--port", str(port)]
    command += ["--account", account]
    for package in handler_packages:
        command += ["--handler-package", package]
    command += list(extra_arguments)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log: IO[bytes] = log_file.open("ab")
    try:
        return subprocess.Popen(  # noqa: S603 - our own module, arguments we built
            command,
            cwd=project_root(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C in the shell that ran `local up` does not reach it.
            start_new_session=True,
        )
    finally:
        log.close()


def wait_until_ready(
    process: subprocess.Popen[bytes], log_file: Path, *, timeout_seconds: float = 60.0
) -> None:
    """Wait for the server's ``ready`` line.

    Raises
    ------
    LocalAwsError
        If it exits first (with the end of its log) or does not become ready in time.
    """
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        text = log_file.read_text(encoding="utf-8", errors="replace")
        if any(line.startswith(_READY_PREFIX) for line in text.splitlines()):
            return
        if process.poll() is not None:
            tail = "\n".join(text.splitlines()[-15:])
            raise LocalAwsError(f"the embedded AWS exited ({process.returncode}):\n{tail}")
        time.sleep(0.1)
    raise LocalAwsError(f"the embedded AWS did not start within {timeout_seconds:.0f} s")


def stop_server(pid: int, *, timeout_seconds: float = 10.0) -> bool:
    """SIGTERM the server, wait, SIGKILL if it is still there. False if it was not running."""
    if not is_our_server(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if _has_exited(pid):
            return True
        time.sleep(0.05)
    if not _has_exited(pid):
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while not _has_exited(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    return True


def up(
    *,
    config: Path,
    port: int,
    state_file: Path,
    host: str = DEFAULT_HOST,
    assembly: Path | None = None,
    handler_packages: Sequence[str] = DEFAULT_HANDLER_PACKAGES,
    faults: Path | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> UpResult:
    """Start the embedded AWS and deploy the app into it (or find it already running).

    Parameters
    ----------
    config
        The vault configuration: its region and account, and what is synthesized.
    port, host
        Where the server listens.
    state_file
        Where the state is written; the log and the assembly go in the same directory.
    assembly
        A cloud assembly already synthesized, deployed instead of synthesizing the vault app
        (tests deploy their own app this way).
    handler_packages
        Where the Lambda handlers' modules are (for functions deployed without code).
    faults
        A TOML file of fault rules the server applies from the start.
    progress
        Called with one line per step.

    Raises
    ------
    LocalAwsError
        When the port is taken, the server does not start, or synth or deploy fails (the
        server is then stopped again).
    """
    existing = running_state(state_file)
    if existing is not None:
        return UpResult(state=existing, report=None)
    remove_state(state_file)  # a stale file from a server that is gone
    settings = load_config(config)
    if _port_in_use(host, port):
        raise LocalAwsError(
            f"port {port} on {host} is in use; choose another with --port, or stop what uses it"
        )
    directory = work_dir(state_file)
    directory.mkdir(parents=True, exist_ok=True)
    log_file = directory / "local.log"
    log_file.write_bytes(b"")
    process = start_server(
        host=host,
        port=port,
        account=settings.deployment.account,
        log_file=log_file,
        handler_packages=handler_packages,
        extra_arguments=() if faults is None else ("--faults", str(faults.resolve())),
    )
    try:
        if assembly is None:
            assembly = directory / "cdk.out"
            shutil.rmtree(assembly, ignore_errors=True)
            progress(f"synthesizing the app for {config}")
            started = time.monotonic()
            synthesize_vault_app(config, assembly)
            progress(f"synthesized in {time.monotonic() - started:.1f} s")
        wait_until_ready(process, log_file)
        endpoint = f"http://{host}:{port}"
        progress(f"embedded AWS listening on {endpoint} (pid {process.pid}, log {log_file})")
        scratch = directory / "assets"
        shutil.rmtree(scratch, ignore_errors=True)
        report = deploy_assembly(assembly, endpoint=endpoint, scratch=scratch, progress=progress)
        identity = admin_identity(
            local_client("iam", endpoint=endpoint, region=settings.deployment.region),
            local_client("sts", endpoint=endpoint, region=settings.deployment.region),
            account=settings.deployment.account,
            admin_role_arns=settings.deployment.admin_role_arns,
        )
        progress(f"the CLI's environment signs as {identity.principal}")
    except BaseException:
        stop_server(process.pid)
        raise
    state = LocalState(
        pid=process.pid,
        port=port,
        endpoint=endpoint,
        region=settings.deployment.region,
        config=str(config.resolve()),
        log_file=str(log_file.resolve()),
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        stacks=tuple(report.stacks),
        principal=identity.principal,
        credentials=identity.credentials,
    )
    write_state(state_file, state)
    return UpResult(state=state, report=report)


def down(state_file: Path, *, timeout_seconds: float = 10.0) -> LocalState | None:
    """Stop the server the state file names and remove the file; the state it had, if any."""
    state = read_state(state_file)
    if state is not None:
        stop_server(state.pid, timeout_seconds=timeout_seconds)
    remove_state(state_file)
    return state
