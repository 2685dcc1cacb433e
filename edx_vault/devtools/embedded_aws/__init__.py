"""The embedded AWS: the real product on moto, with no AWS account.

``edx-vault local up`` starts a detached moto server (:mod:`edx_vault.devtools.embedded_aws.server`) that
executes Step Functions state machines and runs Lambda handlers in its own process, then deploys
the app's synthesized CloudFormation templates into it (:mod:`edx_vault.devtools.embedded_aws.deploy`).
``edx-vault local seed`` fills edX's (fake) buckets there (:mod:`edx_vault.devtools.embedded_aws.seed`).
See ``docs/embedded-aws.md`` for what is faithful and what is emulated.

This package is a development tool: it needs the ``dev`` extras (moto, and aws-cdk-lib for the
deployment). Nothing in it runs in Lambda. Modules that need moto or the CDK import them where
they are used, so the CLI's other commands never load them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

# moto's default account; the example configuration deploys into it.
ACCOUNT_ID: Final = "123456789012"
# Any non-empty keys work with moto; these are the ones moto's documentation uses.
ACCESS_KEY_ID: Final = "testing"
SECRET_ACCESS_KEY: Final = "testing"  # noqa: S105 - moto accepts anything; not a secret
DEFAULT_HOST: Final = "127.0.0.1"
# Not moto's 5000: macOS's AirPlay receiver listens there.
DEFAULT_PORT: Final = 5055
# Relative to the directory `local up` runs in; git-ignored.
DEFAULT_STATE_FILE: Final = Path(".edx-vault") / "local.json"
# The Python packages whose modules the Lambda "Handler" strings name ("plan.handler" is
# lambdas.plan.handler).
DEFAULT_HANDLER_PACKAGES: Final = ("lambdas",)


def project_root() -> Path:
    """The checkout holding ``stacks/``, ``lambdas/`` and ``cdk.json`` (the package's parent).

    The embedded AWS synthesizes the app and imports the handlers from the working tree, so it
    needs a checkout (an editable install), not a wheel.
    """
    return Path(__file__).resolve().parents[3]
