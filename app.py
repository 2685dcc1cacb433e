#!/usr/bin/env python3
"""CDK entry point: ``npx cdk synth -c config=path/to/vault.toml``."""

from __future__ import annotations

import sys

from edx_vault.settings.config import ConfigError
from stacks.vault_app import build_vault_app


def main() -> int:
    try:
        vault = build_vault_app()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    vault.app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
