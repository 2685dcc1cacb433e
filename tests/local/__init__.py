"""Tests of the embedded AWS (`edx-vault local`): server, deployment, in-process Lambda, seed."""
