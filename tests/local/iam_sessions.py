"""Clients signed as an IAM principal of the embedded AWS, and the policy documents they carry.

Shared by the tests that make roles or users of their own on the shared deployment and call
AWS as them (the strict authorization, access logs, query and hostile-principal tests).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config

from tests.local.conftest import RunningAws


def policy_document(*statements: dict[str, Any]) -> str:
    """An IAM policy document of ``statements``, as IAM's APIs take it."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def session_client(aws: RunningAws, service: str, credentials: dict[str, str]) -> Any:
    """A ``service`` client signed with ``credentials`` (an access key, or a role session's
    with its token), one attempt per call so a refusal is seen as it is."""
    return boto3.session.Session().client(
        service,
        endpoint_url=aws.state.endpoint,
        region_name=aws.state.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
        config=Config(retries={"max_attempts": 1}),
    )
