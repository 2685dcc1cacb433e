"""boto3 clients bound to an embedded AWS endpoint, whatever the caller's environment says."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from edx_vault.devtools.embedded_aws import ACCESS_KEY_ID, SECRET_ACCESS_KEY

# moto answers at once or not at all: fail fast rather than retry for a minute.
_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5)


def local_client(service: str, *, endpoint: str, region: str) -> Any:
    """A client for ``service`` on the embedded AWS at ``endpoint``.

    Credentials are the embedded AWS's dummy keys, passed explicitly so that no profile or
    session token from the environment is used, and nothing can reach a real account.
    """
    return boto3.session.Session().client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=_CONFIG,
    )
