"""What IAM sees in an S3 request: the operation from the method, the path and the sub-resource,
and the actions, resources and condition keys AWS authorizes it by ("Actions, resources, and
condition keys for Amazon S3").

Nothing here imports moto: it reads the request only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from typing import Final
from urllib.parse import unquote

from edx_vault.access.policy_evaluator import ContextValue
from edx_vault.devtools.embedded_aws.api_requests import (
    ApiCall,
    Check,
    UnmodelledRequestError,
    first_value,
)

# Query parameters that are arguments, not sub-resources (they do not change the operation).
_S3_ARGUMENTS: Final = frozenset(
    {
        "prefix",
        "delimiter",
        "max-keys",
        "continuation-token",
        "start-after",
        "encoding-type",
        "fetch-owner",
        "marker",
        "key-marker",
        "version-id-marker",
        "upload-id-marker",
        "max-uploads",
        "max-parts",
        "part-number-marker",
        "partNumber",
        "versionId",
        "x-id",
        "list-type",
        "response-content-type",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-cache-control",
        "response-expires",
    }
)
# (method, sub-resource) -> (operation, action) for requests on a bucket.
_S3_BUCKET_OPERATIONS: Final[Mapping[tuple[str, str], tuple[str, str]]] = {
    ("GET", ""): ("ListObjects", "s3:ListBucket"),
    ("GET", "versions"): ("ListObjectVersions", "s3:ListBucketVersions"),
    ("GET", "uploads"): ("ListMultipartUploads", "s3:ListBucketMultipartUploads"),
    ("GET", "location"): ("GetBucketLocation", "s3:GetBucketLocation"),
    ("GET", "policy"): ("GetBucketPolicy", "s3:GetBucketPolicy"),
    ("GET", "policyStatus"): ("GetBucketPolicyStatus", "s3:GetBucketPolicyStatus"),
    ("GET", "versioning"): ("GetBucketVersioning", "s3:GetBucketVersioning"),
    ("GET", "encryption"): ("GetBucketEncryption", "s3:GetEncryptionConfiguration"),
    ("GET", "tagging"): ("GetBucketTagging", "s3:GetBucketTagging"),
    ("GET", "lifecycle"): ("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
    ("GET", "logging"): ("GetBucketLogging", "s3:GetBucketLogging"),
    ("GET", "publicAccessBlock"): ("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
    ("GET", "ownershipControls"): ("GetBucketOwnershipControls", "s3:GetBucketOwnershipControls"),
    ("GET", "notification"): ("GetBucketNotificationConfiguration", "s3:GetBucketNotification"),
    ("GET", "acl"): ("GetBucketAcl", "s3:GetBucketAcl"),
    ("GET", "cors"): ("GetBucketCors", "s3:GetBucketCORS"),
    ("GET", "replication"): ("GetBucketReplication", "s3:GetReplicationConfiguration"),
    ("GET", "object-lock"): ("GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration"),
    ("HEAD", ""): ("HeadBucket", "s3:ListBucket"),
    ("PUT", ""): ("CreateBucket", "s3:CreateBucket"),
    ("PUT", "policy"): ("PutBucketPolicy", "s3:PutBucketPolicy"),
    ("PUT", "versioning"): ("PutBucketVersioning", "s3:PutBucketVersioning"),
    ("PUT", "encryption"): ("PutBucketEncryption", "s3:PutEncryptionConfiguration"),
    ("PUT", "tagging"): ("PutBucketTagging", "s3:PutBucketTagging"),
    ("PUT", "lifecycle"): ("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
    ("PUT", "logging"): ("PutBucketLogging", "s3:PutBucketLogging"),
    ("PUT", "publicAccessBlock"): ("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    ("PUT", "ownershipControls"): ("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls"),
    ("PUT", "notification"): ("PutBucketNotificationConfiguration", "s3:PutBucketNotification"),
    ("PUT", "acl"): ("PutBucketAcl", "s3:PutBucketAcl"),
    ("PUT", "cors"): ("PutBucketCors", "s3:PutBucketCORS"),
    ("PUT", "replication"): ("PutBucketReplication", "s3:PutReplicationConfiguration"),
    ("PUT", "object-lock"): ("PutObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration"),
    ("DELETE", ""): ("DeleteBucket", "s3:DeleteBucket"),
    ("DELETE", "policy"): ("DeleteBucketPolicy", "s3:DeleteBucketPolicy"),
    ("DELETE", "tagging"): ("DeleteBucketTagging", "s3:PutBucketTagging"),
    ("DELETE", "lifecycle"): ("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
    ("DELETE", "encryption"): ("DeleteBucketEncryption", "s3:PutEncryptionConfiguration"),
    ("DELETE", "publicAccessBlock"): ("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    ("DELETE", "ownershipControls"): (
        "DeleteBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
    ),
    ("DELETE", "cors"): ("DeleteBucketCors", "s3:PutBucketCORS"),
    ("DELETE", "replication"): ("DeleteBucketReplication", "s3:PutReplicationConfiguration"),
    ("POST", "delete"): ("DeleteObjects", "s3:DeleteObject"),
}
# (method, sub-resource) -> (operation, action) for requests on an object.
_S3_OBJECT_OPERATIONS: Final[Mapping[tuple[str, str], tuple[str, str]]] = {
    ("GET", ""): ("GetObject", "s3:GetObject"),
    ("HEAD", ""): ("HeadObject", "s3:GetObject"),
    ("GET", "uploadId"): ("ListParts", "s3:ListMultipartUploadParts"),
    ("GET", "tagging"): ("GetObjectTagging", "s3:GetObjectTagging"),
    ("GET", "acl"): ("GetObjectAcl", "s3:GetObjectAcl"),
    ("GET", "attributes"): ("GetObjectAttributes", "s3:GetObject"),
    ("GET", "retention"): ("GetObjectRetention", "s3:GetObjectRetention"),
    ("GET", "legal-hold"): ("GetObjectLegalHold", "s3:GetObjectLegalHold"),
    ("PUT", ""): ("PutObject", "s3:PutObject"),
    ("PUT", "uploadId"): ("UploadPart", "s3:PutObject"),
    ("PUT", "tagging"): ("PutObjectTagging", "s3:PutObjectTagging"),
    ("PUT", "acl"): ("PutObjectAcl", "s3:PutObjectAcl"),
    ("PUT", "retention"): ("PutObjectRetention", "s3:PutObjectRetention"),
    ("PUT", "legal-hold"): ("PutObjectLegalHold", "s3:PutObjectLegalHold"),
    ("POST", "uploads"): ("CreateMultipartUpload", "s3:PutObject"),
    ("POST", "uploadId"): ("CompleteMultipartUpload", "s3:PutObject"),
    ("POST", "restore"): ("RestoreObject", "s3:RestoreObject"),
    ("DELETE", ""): ("DeleteObject", "s3:DeleteObject"),
    ("DELETE", "uploadId"): ("AbortMultipartUpload", "s3:AbortMultipartUpload"),
    ("DELETE", "tagging"): ("DeleteObjectTagging", "s3:DeleteObjectTagging"),
}
# Actions that name a version when the request has a versionId (same authorization otherwise).
_VERSIONED_ACTIONS: Final = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
}
# Request headers S3 offers as condition keys ("s3:x-amz-...": the header's value).
_S3_HEADER_KEYS: Final = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-acl",
    "x-amz-storage-class",
    "x-amz-copy-source",
    "x-amz-metadata-directive",
    "x-amz-content-sha256",
)


def s3_call(
    method: str,
    path: str,
    query: Mapping[str, Sequence[str]],
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    host_bucket: str | None = None,
) -> ApiCall:
    """The S3 operation of a request, with its IAM checks.

    Parameters
    ----------
    method, path, query, headers
        The request (path not yet percent-decoded).
    body
        The body, needed only for ``DeleteObjects`` (``None`` otherwise is fine).
    host_bucket
        The bucket named by a virtual-hosted-style ``Host``, if any.

    Raises
    ------
    UnmodelledRequestError
        For a sub-resource or method this model does not know.
    """
    if host_bucket is not None:
        bucket, key = host_bucket, unquote(path.lstrip("/"))
    else:
        bucket, _, key = unquote(path.lstrip("/")).partition("/")
    subresources = sorted(name for name in query if name not in _S3_ARGUMENTS)
    # "uploadId" arrives with "partNumber" (UploadPart) or alone; both are one sub-resource here.
    if "uploadId" in query:
        subresources = [s for s in subresources if s != "uploadId"] + ["uploadId"]
    if len(subresources) > 1:
        raise UnmodelledRequestError(f"S3 request with sub-resources {subresources}")
    subresource = subresources[0] if subresources else ""
    context = _s3_context(headers, query)
    if not bucket:
        if method == "GET" and not subresource:
            return ApiCall("s3", "ListBuckets", (Check("s3:ListAllMyBuckets", "*", context),))
        raise UnmodelledRequestError(f"S3 {method} / ?{subresource}")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if not key:
        if method == "GET" and not subresource and first_value(query, "list-type") == "2":
            operation, action = "ListObjectsV2", "s3:ListBucket"
        else:
            found = _S3_BUCKET_OPERATIONS.get((method, subresource))
            if found is None:
                raise UnmodelledRequestError(f"S3 {method} bucket ?{subresource}")
            operation, action = found
        if action == "s3:ListBucket":
            context = {**context, **_listing_context(query)}
        if operation == "DeleteObjects":
            checks = tuple(
                Check("s3:DeleteObject", f"{bucket_arn}/{name}", context)
                for name in _keys_to_delete(body)
            )
            return ApiCall("s3", operation, checks, bucket=bucket)
        return ApiCall("s3", operation, (Check(action, bucket_arn, context),), bucket=bucket)
    found = _S3_OBJECT_OPERATIONS.get((method, subresource))
    if found is None:
        raise UnmodelledRequestError(f"S3 {method} object ?{subresource}")
    operation, action = found
    version = first_value(query, "versionId")
    if version is not None and action in _VERSIONED_ACTIONS:
        action = _VERSIONED_ACTIONS[action]
        context = {**context, "s3:VersionId": version}
    object_arn = f"{bucket_arn}/{key}"
    object_checks = [Check(action, object_arn, context)]
    copy_source = {name.lower(): value for name, value in headers.items()}.get("x-amz-copy-source")
    if copy_source and operation in ("PutObject", "UploadPart"):
        operation = "CopyObject" if operation == "PutObject" else "UploadPartCopy"
        source, _, source_version = unquote(copy_source).lstrip("/").partition("?versionId=")
        read = "s3:GetObjectVersion" if source_version else "s3:GetObject"
        object_checks.insert(0, Check(read, f"arn:aws:s3:::{source}", _s3_context(headers, {})))
    lowered = {name.lower(): value for name, value in headers.items()}
    bucket_key = lowered.get("x-amz-server-side-encryption-bucket-key-enabled")
    parameters = {} if bucket_key is None else {"BucketKeyEnabled": bucket_key.lower() == "true"}
    return ApiCall("s3", operation, tuple(object_checks), parameters, bucket=bucket, key=key)


def _s3_context(
    headers: Mapping[str, str], query: Mapping[str, Sequence[str]]
) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {
        "s3:signatureversion": "AWS4-HMAC-SHA256",
        "s3:authType": "REST-QUERY-STRING" if "X-Amz-Credential" in query else "REST-HEADER",
        # The embedded AWS serves plain HTTP on loopback; SDKs reach S3 over TLS 1.2 or 1.3.
        "s3:TlsVersion": "1.3",
    }
    lowered = {name.lower(): value for name, value in headers.items()}
    for header in _S3_HEADER_KEYS:
        if header in lowered:
            context[f"s3:{header}"] = lowered[header]
    return context


def _listing_context(query: Mapping[str, Sequence[str]]) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {}
    for parameter in ("prefix", "delimiter", "max-keys"):
        value = first_value(query, parameter)
        if value is not None:
            context[f"s3:{parameter}"] = value
    return context


def _keys_to_delete(body: bytes | None) -> list[str]:
    if not body:
        raise UnmodelledRequestError("S3 DeleteObjects without a body")
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - from our own loopback clients
    except ElementTree.ParseError as error:
        raise UnmodelledRequestError(f"S3 DeleteObjects body is not XML: {error}") from None
    return [element.text or "" for element in root.iter() if element.tag.endswith("Key")]
