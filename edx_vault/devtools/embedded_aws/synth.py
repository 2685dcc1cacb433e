"""Synthesize the vault app for the embedded AWS, in a child process.

``python -m edx_vault.devtools.embedded_aws.synth --config FILE --outdir DIR`` builds the app with
``stacks.vault_app.build_vault_app`` (the one factory ``cdk synth`` also uses, so the templates
are the ones a real deployment gets) and writes the cloud assembly. cdk-nag and CDK's template
validation are off: they judge the templates, which the full ``make test`` synth already does,
and cost seconds here.

A child process keeps the CDK's Node.js runtime (jsii) out of the CLI process, and lets the
environment the synth needs be set before the CDK starts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from edx_vault.devtools.embedded_aws import project_root


class SynthError(Exception):
    """The app could not be synthesized; the message is the synth's own error output."""


def _environment() -> dict[str, str]:
    return {
        **os.environ,
        "CDK_VALIDATION": "false",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }


def synthesize_vault_app(config: Path, outdir: Path, *, timeout_seconds: float = 900) -> Path:
    """Synthesize the app for ``config`` into ``outdir`` and return ``outdir``.

    Raises
    ------
    SynthError
        With the synth's message (a configuration error names the key and the fix).
    """
    command = [
        sys.executable,
        "-m",
        "edx_vault.devtools.embedded_aws.synth",
        "--config",
        str(config.resolve()),
        "--outdir",
        str(outdir.resolve()),
    ]
    result = subprocess.run(  # noqa: S603 - our own module, arguments we built
        command,
        cwd=project_root(),
        env=_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout_seconds,
    )
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if not line.startswith("!!")]
        raise SynthError("\n".join(lines[-30:]).strip() or f"synth exited {result.returncode}")
    return outdir


def main(argv: Sequence[str] | None = None) -> int:
    """Synthesize; exit 1 with the configuration's message when it is invalid."""
    parser = argparse.ArgumentParser(prog="python -m edx_vault.devtools.embedded_aws.synth")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--outdir", type=Path, required=True)
    args = parser.parse_args(argv)
    root = str(project_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        from stacks.vault_app import build_vault_app
    except ImportError as error:
        print(
            f"error: cannot import the CDK app from {root} ({error}); the embedded AWS needs "
            "a checkout of edx-vault with `make setup` done",
            file=sys.stderr,
        )
        return 1
    from edx_vault.settings.config import ConfigError

    try:
        vault = build_vault_app(
            context={"config": str(args.config)}, outdir=str(args.outdir), nag=False
        )
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    vault.app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
