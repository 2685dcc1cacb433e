"""Where gpg is, and the private GnuPG home it needs on Lambda: directory and configuration files.

On Lambda the gpg layer is at ``/opt``, ``/tmp`` is the only writable place, the user has no
usable ``HOME`` and there is no ``/run/user``, so gpg's defaults fail in several ways (no home,
agent not found, sockets in unwritable places). This module makes what gpg needs instead:

- a fresh directory under ``/tmp`` with mode 700 (it holds secret keys; gpg warns otherwise), which
  also holds the agent's sockets, since there is no ``/run/user/<uid>``;
- ``gpg-agent.conf`` that allows loopback pinentry (there is no terminal and no pinentry
  program; python-gnupg feeds the passphrase on stdin), starts no smart-card daemon, and caches no
  passphrase, so every decryption must present it again;
- ``gpg.conf`` with ``pinentry-mode loopback`` and, when gpg comes from the layer, the layer's
  own ``gpg-agent`` as ``agent-program`` (in addition to the layer's ``gpgconf.ctl``).

Starting, checking and stopping the agent of such a home is :mod:`edx_vault.engine.gnupg_home`.
Nothing here reads the environment: paths are arguments, with Lambda's as defaults.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Final

# Where Lambda extracts layers; the gpg layer ships bin/ there.
LAYER_BIN_DIR: Final = Path("/opt/bin")
# The only writable place in a Lambda sandbox.
LAMBDA_TMP: Final = Path("/tmp")  # noqa: S108 - Lambda's scratch space, used with mkdtemp
HOME_PREFIX: Final = "gnupg-"
HOME_MODE: Final = 0o700
# The longest socket the agent creates in the home; sun_path holds 107 bytes plus a NUL.
_LONGEST_SOCKET: Final = "S.gpg-agent.browser"
_MAX_SOCKET_PATH: Final = 107
# The longest a passphrase given to one gpg command stays with the agent (see GPG_AGENT_CONF).
COMMAND_PASSPHRASE_SECONDS: Final = 60
GPG_AGENT_CONF: Final = (
    "allow-loopback-pinentry",
    # Lambda has no card readers; don't let gpg try to start scdaemon (not in the layer).
    "disable-scdaemon",
    # A passphrase is never remembered: each decryption presents it, a wrong one always fails.
    "default-cache-ttl 0",
    # Within one gpg command gpg hands the agent the passphrase and relies on the agent keeping it
    # until the command is done (generating a protected key signs with it right after creating
    # it); max-cache-ttl bounds that too. At 0 it expires as soon as the agent's clock reaches the
    # next second, so such a command failed at random: "Sorry, we are in batchmode - can't get
    # input" with loopback, "signing failed: Inappropriate ioctl for device" in the CLI's keygen
    # (9 in 10 and 1 in 8 with the agent's clock sped up; tests/engine/test_gnupg_home.py). Ordinary
    # caching stays off through default-cache-ttl 0, which the same tests check.
    f"max-cache-ttl {COMMAND_PASSPHRASE_SECONDS}",
)
# Only for the Lambda's own home (``fast_unlock=True``): keys imported there are re-protected with
# the fewest S2K rounds gpg allows, so unlocking them for every file costs milliseconds instead of
# the calibrated ~100 ms. That home lives only as long as the sandbox and nothing is exported from
# it. Homes that export a key for storage (the CLI's keygen and import-key) keep gpg's calibrated
# stretching, which is what guards a human-chosen passphrase against guessing.
FAST_UNLOCK_AGENT_CONF: Final = ("s2k-count 65536",)
GPG_CONF: Final = (
    "pinentry-mode loopback",
    # Keys come from Secrets Manager, never from the network: the layer has no dirmngr, and an
    # unknown recipient must fail at once ("No public key"), not after a WKD lookup attempt.
    "auto-key-locate local",
    "no-auto-key-retrieve",
)


class GnupgHomeError(RuntimeError):
    """The GnuPG home or its agent could not be set up; the message says what failed."""


def find_gpg_binary(layer_bin_dir: Path = LAYER_BIN_DIR) -> str:
    """The gpg to run: the layer's when present, else the one on ``PATH``.

    Lambda puts ``/opt/bin`` last on ``PATH``, and a runtime image may carry a gpg of its own in
    ``/usr/bin``, so the layer's is named by absolute path rather than found on ``PATH``.

    Parameters
    ----------
    layer_bin_dir
        Where the gpg layer's binaries are.

    Returns
    -------
    str
        An absolute path to the layer's gpg, or ``"gpg"`` to use the one on ``PATH`` (a
        developer machine, the tests).
    """
    layer_gpg = layer_bin_dir / "gpg"
    return str(layer_gpg) if layer_gpg.is_file() else "gpg"


def sibling_tool(gpg_binary: str, tool: str) -> str:
    """``tool`` (``gpgconf``, ``gpg-agent``, ...) from the same installation as ``gpg_binary``.

    Mixing a layer's gpg with a system gpgconf would talk to, or kill, the wrong agent.
    """
    if os.sep in gpg_binary:
        sibling = Path(gpg_binary).parent / tool
        if sibling.is_file():
            return str(sibling)
    return tool


def create_gnupg_home(
    parent: Path = LAMBDA_TMP, *, gpg_binary: str = "gpg", fast_unlock: bool = False
) -> Path:
    """Create a private GnuPG home (mode 700) with the agent and gpg configuration.

    Parameters
    ----------
    parent
        Where to create it; Lambda's ``/tmp`` by default.
    gpg_binary
        The gpg that will use it; when it is an absolute path with a ``gpg-agent`` beside it, that
        agent is named in ``gpg.conf``.

    Returns
    -------
    Path
        The new directory, named ``gnupg-<random>``.

    Raises
    ------
    GnupgHomeError
        When the agent's socket path would be too long for a Unix socket.
    """
    home = Path(tempfile.mkdtemp(prefix=HOME_PREFIX, dir=parent))
    if len(os.fsencode(home / _LONGEST_SOCKET)) > _MAX_SOCKET_PATH:
        home.rmdir()
        raise GnupgHomeError(
            f"GnuPG home {home} is too deep: the agent's sockets would not fit in a Unix socket "
            f"path ({_MAX_SOCKET_PATH} bytes); use a shorter parent directory"
        )
    # mkdtemp already creates it 0700; say so explicitly, since gpg depends on it.
    home.chmod(HOME_MODE)
    write_gnupg_config(home, gpg_binary=gpg_binary, fast_unlock=fast_unlock)
    return home


def write_gnupg_config(home: Path, *, gpg_binary: str = "gpg", fast_unlock: bool = False) -> None:
    """Write ``gpg-agent.conf`` and ``gpg.conf`` into an existing GnuPG home.

    Parameters
    ----------
    home
        The GnuPG home.
    gpg_binary
        The gpg that will use it (see :func:`create_gnupg_home`).
    """
    gpg_lines = list(GPG_CONF)
    agent = sibling_tool(gpg_binary, "gpg-agent")
    if os.sep in agent:
        # Belt and braces beside the layer's gpgconf.ctl: gpg then never falls back to its
        # compiled-in /usr/bin/gpg-agent, even where /proc/self/exe cannot be read.
        gpg_lines.append(f"agent-program {agent}")
    agent_lines = (*GPG_AGENT_CONF, *(FAST_UNLOCK_AGENT_CONF if fast_unlock else ()))
    _write_private(home / "gpg-agent.conf", agent_lines)
    _write_private(home / "gpg.conf", gpg_lines)


def _write_private(path: Path, lines: tuple[str, ...] | list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    path.chmod(0o600)
