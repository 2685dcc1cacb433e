"""Test-wide settings: quiet, offline jsii/CDK, and no AWS credentials leaking in from the host."""

from __future__ import annotations

import os

# Set before anything imports aws_cdk: jsii reads them when its runtime starts.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("CDK_DISABLE_VERSION_CHECK", "1")
# CDK's own template validation costs seconds per synth; `make test` runs one full synth with it.
os.environ.setdefault("CDK_VALIDATION", "false")
for variable in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
    os.environ.pop(variable, None)
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
