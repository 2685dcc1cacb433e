"""The private GnuPG home (engine.gnupg_config, engine.gnupg_home): layout, configuration, real gpg.

These run this machine's gpg (``/usr/bin/gpg``, as on a developer machine); the same set-up
against the layer's gpg in a Lambda-like root is in tests/layer/test_gpg_layer.py.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gnupg
import pytest

from edx_vault.engine.gnupg_config import (
    COMMAND_PASSPHRASE_SECONDS,
    GnupgHomeError,
    create_gnupg_home,
    find_gpg_binary,
    sibling_tool,
)
from edx_vault.engine.gnupg_home import GnupgHome, gpg_smoke_test, open_gnupg_home, reuse_or_open

PASSPHRASE = "correct horse battery staple"
PLAINTEXT = b"user_id,course_id\n42,course-v1:ExampleX+Demo+2024\n"

# libfaketime makes a process's clock run fast; Debian's package puts it here.
FAKETIME_LIBRARIES = sorted(Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1"))
needs_gpg = pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")


def fake_layer_bin(directory: Path, *tools: str) -> Path:
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    for tool in tools:
        (bin_dir / tool).write_text("#!/bin/sh\n", encoding="utf-8")
    return bin_dir


def config_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_find_gpg_binary_prefers_the_layer_by_absolute_path(tmp_path: Path) -> None:
    # Given a layer bin directory holding gpg
    bin_dir = fake_layer_bin(tmp_path, "gpg")
    # When the binary is chosen
    chosen = find_gpg_binary(bin_dir)
    # Then it is the layer's, by absolute path (Lambda puts /opt/bin last on PATH)
    assert chosen == str(bin_dir / "gpg")


def test_find_gpg_binary_falls_back_to_path_without_a_layer(tmp_path: Path) -> None:
    # Given no layer
    # When the binary is chosen
    chosen = find_gpg_binary(tmp_path / "missing")
    # Then gpg is looked up on PATH, as on a developer machine
    assert chosen == "gpg"


def test_sibling_tool_comes_from_the_same_installation(tmp_path: Path) -> None:
    # Given a layer with gpg and gpgconf but no gpg-connect-agent
    bin_dir = fake_layer_bin(tmp_path, "gpg", "gpgconf")
    gpg = str(bin_dir / "gpg")
    # When the other tools are resolved
    # Then gpgconf is the layer's, a missing one falls back to PATH, and PATH gpg keeps PATH tools
    assert sibling_tool(gpg, "gpgconf") == str(bin_dir / "gpgconf")
    assert sibling_tool(gpg, "gpg-connect-agent") == "gpg-connect-agent"
    assert sibling_tool("gpg", "gpgconf") == "gpgconf"


def test_created_home_is_private_and_configured_for_loopback(tmp_path: Path) -> None:
    # Given a parent directory standing in for /tmp
    # When a home is created for gpg on PATH
    home = create_gnupg_home(tmp_path)
    # Then it is a fresh mode-700 directory with loopback pinentry, no scdaemon, no cached
    # passphrase, no network key lookup, and no agent-program (gpg finds its own agent)
    assert home.parent == tmp_path
    assert home.name.startswith("gnupg-")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    agent_conf = config_lines(home / "gpg-agent.conf")
    assert "allow-loopback-pinentry" in agent_conf
    assert "disable-scdaemon" in agent_conf
    assert "default-cache-ttl 0" in agent_conf
    assert f"max-cache-ttl {COMMAND_PASSPHRASE_SECONDS}" in agent_conf
    gpg_conf = config_lines(home / "gpg.conf")
    assert "pinentry-mode loopback" in gpg_conf
    assert "auto-key-locate local" in gpg_conf
    assert not any(line.startswith("agent-program") for line in gpg_conf)
    assert stat.S_IMODE((home / "gpg-agent.conf").stat().st_mode) == 0o600


def test_layer_gpg_names_the_layer_agent(tmp_path: Path) -> None:
    # Given a layer whose bin holds gpg and gpg-agent
    bin_dir = fake_layer_bin(tmp_path, "gpg", "gpg-agent")
    # When a home is created for the layer's gpg
    home = create_gnupg_home(tmp_path, gpg_binary=str(bin_dir / "gpg"))
    # Then gpg.conf pins that agent, so gpg never falls back to a compiled-in /usr/bin path
    assert f"agent-program {bin_dir / 'gpg-agent'}" in config_lines(home / "gpg.conf")


def test_home_too_deep_for_a_unix_socket_is_refused(tmp_path: Path) -> None:
    # Given a parent so deep that the agent's socket path would exceed sun_path
    parent = tmp_path / ("d" * 100)
    parent.mkdir()
    # When a home is created there
    with pytest.raises(GnupgHomeError, match="too deep") as raised:
        create_gnupg_home(parent)
    # Then it says why, and leaves nothing behind
    assert "Unix socket" in str(raised.value)
    assert list(parent.iterdir()) == []


@pytest.fixture
def socket_parent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A short parent: pytest's per-test directories can get long, sockets must stay short.
    return tmp_path_factory.mktemp("gh")


def generate_protected_key(gpg: gnupg.GPG, email: str) -> Any:
    """An ed25519/cv25519 key protected by PASSPHRASE, through loopback pinentry."""
    return gpg.gen_key(
        gpg.gen_key_input(
            key_type="EDDSA",
            key_curve="ed25519",
            subkey_type="ECDH",
            subkey_curve="cv25519",
            name_email=email,
            passphrase=PASSPHRASE,
            expire_date=0,
        )
    )


@pytest.fixture(scope="module")
def keyed_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GnupgHome, str]]:
    # Key generation takes seconds (the agent protects the key with a calibrated S2K), so one
    # key serves the tests that only encrypt and decrypt.
    home = open_gnupg_home(gpg_binary="gpg", parent=tmp_path_factory.mktemp("keyed"))
    key = generate_protected_key(home.gpg(), "pipeline@example.invalid")
    assert key.fingerprint, key.stderr
    yield home, str(key.fingerprint)
    home.close()


@needs_gpg
def test_open_home_starts_an_agent_that_stops_on_close(socket_parent: Path) -> None:
    # Given a freshly opened home
    home = open_gnupg_home(gpg_binary="gpg", parent=socket_parent)
    pid = home.agent_pid()
    # When it is closed
    home.close()
    # Then its agent was running, no longer answers, and the home (with any keys) is gone
    assert pid is not None and pid > 0
    assert home.agent_pid() is None
    assert not home.path.exists()


@needs_gpg
def test_decrypts_with_the_passphrase_through_loopback(keyed_home: tuple[GnupgHome, str]) -> None:
    # Given a key protected by a passphrase, and data encrypted to it
    home, fingerprint = keyed_home
    gpg = home.gpg()
    encrypted = gpg.encrypt(PLAINTEXT, fingerprint, armor=False, always_trust=True)
    assert encrypted.ok, encrypted.stderr
    # When python-gnupg decrypts it, handing the passphrase to gpg (loopback pinentry)
    decrypted = gpg.decrypt(encrypted.data, passphrase=PASSPHRASE)
    # Then the plaintext comes back and gpg reported success
    assert decrypted.ok, decrypted.stderr
    assert decrypted.data == PLAINTEXT
    assert "DECRYPTION_OKAY" in decrypted.stderr


@needs_gpg
def test_passphrase_is_never_cached_by_the_agent(keyed_home: tuple[GnupgHome, str]) -> None:
    # Given a successful decryption, which would leave the passphrase cached by default
    home, fingerprint = keyed_home
    gpg = home.gpg()
    encrypted = gpg.encrypt(PLAINTEXT, fingerprint, armor=False, always_trust=True)
    assert gpg.decrypt(encrypted.data, passphrase=PASSPHRASE).ok
    # When the same data is decrypted with a wrong passphrase
    again = gpg.decrypt(encrypted.data, passphrase="wrong")
    # Then it fails: the agent kept nothing (default-cache-ttl 0)
    assert not again.ok
    assert again.data == b""
    assert "Bad passphrase" in again.stderr


@needs_gpg
@pytest.mark.skipif(
    not FAKETIME_LIBRARIES, reason="libfaketime is missing (scripts/install-system-deps.sh)"
)
def test_protected_key_generation_survives_the_agents_clock_ticking(socket_parent: Path) -> None:
    # Given a home configured as in production whose agent's clock runs 200 times fast, so that
    # every gpg command straddles many of the agent's one-second cache ticks
    home = GnupgHome(create_gnupg_home(socket_parent), gpg_binary="gpg")
    fast_clock = {
        **os.environ,
        "LD_PRELOAD": str(FAKETIME_LIBRARIES[0]),
        "FAKETIME": "+0 x200",
        "FAKETIME_DONT_RESET": "1",
    }
    gpg = home.gpg(env=fast_clock)
    try:
        # When protected keys are generated through loopback pinentry (the agent starts now,
        # with the fast clock)
        generated = [
            generate_protected_key(gpg, f"tick{attempt}@example.invalid") for attempt in range(3)
        ]
        # Then each completes: gpg's passphrase outlives the ticks for the whole command (with
        # max-cache-ttl 0, nine in ten failed here: "Sorry, we are in batchmode")
        assert [key.stderr for key in generated if not key.fingerprint] == []
    finally:
        home.close()


@needs_gpg
def test_warm_invocation_reuses_a_sound_home(socket_parent: Path) -> None:
    # Given the home of a previous invocation whose agent has since been stopped
    first = open_gnupg_home(gpg_binary="gpg", parent=socket_parent)
    first.stop_agent()
    # When the next invocation asks for a home
    second = reuse_or_open(first, gpg_binary="gpg", parent=socket_parent)
    # Then it gets the same one back, with an agent running again
    try:
        assert second is first
        assert second.agent_pid() is not None
    finally:
        second.close()


@needs_gpg
def test_warm_invocation_replaces_a_home_that_lost_its_privacy(socket_parent: Path) -> None:
    # Given the previous home, made group- and world-readable since
    first = open_gnupg_home(gpg_binary="gpg", parent=socket_parent)
    first.path.chmod(0o755)
    # When the next invocation asks for a home
    second = reuse_or_open(first, gpg_binary="gpg", parent=socket_parent)
    # Then it gets a new private one, and the old one's agent was stopped
    try:
        assert second.path != first.path
        assert stat.S_IMODE(second.path.stat().st_mode) == 0o700
        assert first.agent_pid() is None
    finally:
        second.close()
        shutil.rmtree(first.path, ignore_errors=True)


@needs_gpg
def test_warm_invocation_replaces_a_deleted_home(socket_parent: Path) -> None:
    # Given the previous home, deleted in between (its agent stopped with it)
    first = open_gnupg_home(gpg_binary="gpg", parent=socket_parent)
    first.close()
    # When the next invocation asks for a home
    second = reuse_or_open(first, gpg_binary="gpg", parent=socket_parent)
    # Then a new one is opened
    try:
        assert second.path != first.path
        assert second.agent_pid() is not None
    finally:
        second.close()


def test_broken_gpg_fails_at_set_up_and_leaves_nothing(tmp_path: Path) -> None:
    # Given a "layer" whose gpgconf cannot start any agent
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("gpg", "gpgconf", "gpg-connect-agent"):
        script = bin_dir / tool
        script.write_text("#!/bin/sh\necho 'gpg-agent not found' >&2\nexit 2\n", encoding="utf-8")
        script.chmod(0o755)
    parent = tmp_path / "tmp"
    parent.mkdir()
    # When a home is opened for it
    with pytest.raises(GnupgHomeError, match="gpg-agent not found"):
        open_gnupg_home(gpg_binary=str(bin_dir / "gpg"), parent=parent)
    # Then the failure names the cause at set-up, and no half-made home is left in /tmp
    assert list(parent.iterdir()) == []


@needs_gpg
def test_smoke_test_reports_the_gpg_and_agent_that_ran(socket_parent: Path) -> None:
    # Given this machine's gpg (the layer's /opt/bin/gpg on Lambda)
    # When the post-deploy smoke test runs
    report = gpg_smoke_test(gpg_binary="gpg", parent=socket_parent)
    # Then it names gpg and its version, the agent binary that started, and cleans up
    assert report["gpg_binary"] == "gpg"
    assert report["gpg_version"].startswith("gpg (GnuPG) 2.")
    assert report["libgcrypt"].startswith("libgcrypt ")
    assert Path(report["agent_binary"]).name == "gpg-agent"
    assert list(socket_parent.iterdir()) == []


def test_only_homes_that_export_nothing_get_fast_key_unlocking(tmp_path: Path) -> None:
    # Given a default home (the CLI's keygen/import-key export keys from it) and a fast one
    # (the Lambda's, which never exports)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    default = create_gnupg_home(tmp_path / "a")
    fast = create_gnupg_home(tmp_path / "b", fast_unlock=True)
    # Then only the fast one lowers gpg's S2K stretching, and both keep no passphrase cache
    default_conf = (default / "gpg-agent.conf").read_text()
    fast_conf = (fast / "gpg-agent.conf").read_text()
    assert "s2k-count" not in default_conf
    assert "s2k-count 65536" in fast_conf
    assert "default-cache-ttl 0" in default_conf and "default-cache-ttl 0" in fast_conf
