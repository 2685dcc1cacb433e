"""Names AWS would refuse: S3 bucket names, IAM role and policy names and paths."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from edx_vault.devtools.embedded_aws.deploy.rules.template_values import (
    BUCKET_TYPE,
    MANAGED_POLICY_TYPE,
    POLICY_TYPE,
    ROLE_TYPE,
    TemplateContext,
)
from edx_vault.devtools.embedded_aws.deploy.rules.violation import Violation

# S3 User Guide, "General purpose bucket naming rules":
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_NAME_MIN: Final = 3
BUCKET_NAME_MAX: Final = 63
_BUCKET_CHARACTERS: Final = re.compile(r"^[a-z0-9.-]+$")
_BUCKET_RESERVED_PREFIXES: Final = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES: Final = ("-s3alias", "--ol-s3", ".mrap", "--x-s3")

# IAM User Guide, "IAM and AWS STS quotas, name requirements, and character limits"
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html): role names at
# most 64 characters, policy names 128, paths 512; names are alphanumeric plus + = , . @ _ -;
# paths begin and end with '/'. The API references spell the same as patterns: CreateRole
# RoleName [\w+=,.@-]+ (1-64), CreatePolicy and PutRolePolicy PolicyName [\w+=,.@-]+ (1-128),
# Path (\u002F)|(\u002F[\u0021-\u007E]+\u002F) (1-512).
ROLE_NAME_MAX: Final = 64
POLICY_NAME_MAX: Final = 128
PATH_MAX: Final = 512
_IAM_NAME: Final = re.compile(r"^[\w+=,.@-]+$", re.ASCII)
_IAM_PATH: Final = re.compile(r"^(/|/[\x21-\x7e]+/)$")

# Every IAM name and path the rules check: resource type -> (property, what it names, its
# maximum length); "Policies[].PolicyName" is the PolicyName of each item of Policies.
_IAM_NAMES: Final[Mapping[str, tuple[tuple[str, str, int], ...]]] = {
    ROLE_TYPE: (
        ("RoleName", "role", ROLE_NAME_MAX),
        ("Path", "path", PATH_MAX),
        ("Policies[].PolicyName", "inline policy", POLICY_NAME_MAX),
    ),
    MANAGED_POLICY_TYPE: (
        ("ManagedPolicyName", "managed policy", POLICY_NAME_MAX),
        ("Path", "path", PATH_MAX),
    ),
    POLICY_TYPE: (("PolicyName", "inline policy", POLICY_NAME_MAX),),
}


def bucket_name_problems(name: str) -> list[str]:
    """What S3's naming rules say about ``name`` (empty when it is a valid name)."""
    problems: list[str] = []
    if not BUCKET_NAME_MIN <= len(name) <= BUCKET_NAME_MAX:
        problems.append(
            f"S3: bucket names must be between 3 (min) and 63 (max) characters long "
            f"(this one has {len(name)})"
        )
    if not _BUCKET_CHARACTERS.fullmatch(name):
        problems.append(
            "S3: bucket names can consist only of lowercase letters, numbers, periods (.), "
            "and hyphens (-)"
        )
    if name and not (name[0].isalnum() and name[-1].isalnum()):
        problems.append("S3: bucket names must begin and end with a letter or number")
    if ".." in name:
        problems.append("S3: bucket names must not contain two adjacent periods")
    try:
        ipaddress.IPv4Address(name)
        problems.append("S3: bucket names must not be formatted as an IP address")
    except ValueError:
        pass
    for prefix in _BUCKET_RESERVED_PREFIXES:
        if name.startswith(prefix):
            problems.append(f"S3: bucket names must not start with the prefix {prefix}")
    for suffix in _BUCKET_RESERVED_SUFFIXES:
        if name.endswith(suffix):
            problems.append(f"S3: bucket names must not end with the suffix {suffix}")
    return problems


def bucket_violations(context: TemplateContext) -> Iterator[Violation]:
    for logical_id, kind, properties in context.resources(BUCKET_TYPE):
        if "BucketName" not in properties:
            continue  # CloudFormation generates a valid name
        name = context.literal(properties["BucketName"])
        if name is None:
            continue
        for problem in bucket_name_problems(name):
            yield Violation(logical_id, kind, "BucketName", repr(name), problem)


def _iam_name_problems(name: str, *, what: str, maximum: int) -> list[str]:
    problems: list[str] = []
    if not 1 <= len(name) <= maximum:
        problems.append(
            f"IAM: {what} names are 1 to {maximum} characters (this one has {len(name)})"
        )
    if not _IAM_NAME.fullmatch(name):
        problems.append(
            f"IAM: {what} names must be alphanumeric, including the following common "
            "characters: plus (+), equal (=), comma (,), period (.), at (@), underscore (_), "
            "and hyphen (-)"
        )
    return problems


def _iam_path_problems(path: str) -> list[str]:
    problems: list[str] = []
    if not 1 <= len(path) <= PATH_MAX:
        problems.append(f"IAM: paths are 1 to {PATH_MAX} characters (this one has {len(path)})")
    if not _IAM_PATH.fullmatch(path):
        problems.append(
            "IAM: path names must begin and end with a forward slash (/), with printable "
            "ASCII characters between"
        )
    return problems


def _named(properties: Mapping[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    """(property path, value) of a property, or of ``A[].B`` in each item of the list ``A``."""
    outer, _, inner = where.partition("[].")
    if not inner:
        if outer in properties:
            yield outer, properties[outer]
        return
    for index, item in enumerate(properties.get(outer) or []):
        if isinstance(item, Mapping) and inner in item:
            yield f"{outer}[{index}].{inner}", item[inner]


def iam_violations(context: TemplateContext) -> Iterator[Violation]:
    for resource_type, names in _IAM_NAMES.items():
        for logical_id, kind, properties in context.resources(resource_type):
            for where, what, maximum in names:
                for path, raw in _named(properties, where):
                    value = context.literal(raw)
                    if value is None:
                        continue
                    problems = (
                        _iam_path_problems(value)
                        if what == "path"
                        else _iam_name_problems(value, what=what, maximum=maximum)
                    )
                    for problem in problems:
                        yield Violation(logical_id, kind, path, repr(value), problem)
