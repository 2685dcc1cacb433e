"""The condition keys the authorizer supplies: the global ones every request carries, and the
list of keys it models at all (a policy condition on any other key is refused, not guessed).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from edx_vault.access.policy_evaluator import ContextValue
from edx_vault.devtools.embedded_aws.api_requests import Signature
from edx_vault.devtools.embedded_aws.principals import Principal

# Condition keys the authorizer supplies, or knows to be absent from the requests it serves
# (lower case). A policy condition on any other key is refused rather than guessed.
MODELLED_KEYS: Final = frozenset(
    {
        "aws:currenttime",
        "aws:epochtime",
        "aws:securetransport",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principaltype",
        "aws:userid",
        "aws:username",
        "aws:multifactorauthpresent",
        "aws:requestedregion",
        "aws:viaawsservice",
        "aws:calledvia",
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:principalisawsservice",
        "aws:principalservicename",
        "aws:resourceaccount",
        "s3:prefix",
        "s3:delimiter",
        "s3:max-keys",
        "s3:versionid",
        "s3:signatureversion",
        "s3:authtype",
        "s3:tlsversion",
        "s3:x-amz-server-side-encryption",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "s3:x-amz-acl",
        "s3:x-amz-storage-class",
        "s3:x-amz-copy-source",
        "s3:x-amz-metadata-directive",
        "s3:x-amz-content-sha256",
        "kms:viaservice",
        "kms:calleraccount",
        "kms:encryptioncontext:*",
        "kms:encryptioncontextkeys",
        "kms:grantisforawsresource",
        "sts:externalid",
        "sts:rolesessionname",
        "secretsmanager:secretid",
    }
)


def global_context(
    principal: Principal, signature: Signature, *, mfa_code: bool, via_service: str | None
) -> dict[str, ContextValue]:
    """The global condition keys of a request by ``principal`` (``mfa_code``: an AssumeRole sent
    with an MFA code; ``via_service``: the service making the call on the principal's behalf)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    context: dict[str, ContextValue] = {
        "aws:CurrentTime": now.isoformat().replace("+00:00", "Z"),
        "aws:EpochTime": str(int(now.timestamp())),
        # SDKs reach AWS over TLS; the embedded AWS's loopback HTTP stands in for it.
        "aws:SecureTransport": "true",
        "aws:PrincipalArn": principal.policy_arn,
        "aws:PrincipalAccount": principal.account,
        "aws:PrincipalType": principal.type,
        "aws:userid": principal.user_id,
        "aws:RequestedRegion": signature.region,
        "aws:ViaAWSService": "true" if via_service else "false",
        "aws:PrincipalIsAWSService": "false",
    }
    if principal.type == "User":
        context["aws:username"] = principal.arn.rsplit("/", 1)[-1]
    # Present for temporary credentials only ("not present ... with long-term
    # credentials"); for AssumeRole itself, the MFA code sent with the call counts.
    if principal.temporary or mfa_code:
        context["aws:MultiFactorAuthPresent"] = "true" if principal.mfa or mfa_code else "false"
    if via_service:
        context["kms:ViaService"] = via_service
    return context
