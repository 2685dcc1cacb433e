"""Processes the handlers leave running are stopped with the server, and nothing else is."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from edx_vault.devtools.embedded_aws.leftovers import (
    MARKER_VARIABLE,
    mark_this_process,
    stop_leftovers,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def test_only_processes_carrying_this_servers_marker_are_stopped() -> None:
    saved = os.environ.get(MARKER_VARIABLE)
    try:
        # Given a process started with this server's marker, and one with another marker
        token = mark_this_process()
        ours = subprocess.Popen(["sleep", "60"])  # inherits the marker
        theirs = subprocess.Popen(
            ["sleep", "60"], env={**os.environ, MARKER_VARIABLE: "another-server"}
        )
        try:
            # When the server stops what it left running
            stopped = stop_leftovers(token)
            # Then its own process is stopped, the other one is not
            assert stopped == 1
            assert ours.wait(timeout=5) != 0
            assert theirs.poll() is None
        finally:
            theirs.kill()
            theirs.wait()
            ours.kill()
            ours.wait()
    finally:
        if saved is None:
            os.environ.pop(MARKER_VARIABLE, None)
        else:
            os.environ[MARKER_VARIABLE] = saved
