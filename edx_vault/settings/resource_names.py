"""The names of deployed resources that the app fixes itself (the rest CloudFormation generates).

One spelling, used by the stacks that create the resources and by the configuration that checks
them before any synth: the data bucket's name is fixed so that policies in other stacks and
researchers' scripts can name it as a plain string, and it must fit S3's rules.

This module is imported by the CDK stacks and by the configuration, so it stays free of AWS,
CDK and pydantic imports.
"""

from __future__ import annotations

from typing import Final

# S3 User Guide, "General purpose bucket naming rules": "Bucket names must be between 3 (min)
# and 63 (max) characters long."
BUCKET_NAME_MAX_LENGTH: Final = 63


def resource_prefix(stack_prefix: str) -> str:
    """The prefix of fixed resource names: the stack prefix, lower-cased (S3 and IAM names)."""
    return stack_prefix.lower()


def data_bucket_name(resource_prefix: str, account: str, region: str) -> str:
    """The data bucket's name: ``{resource prefix}-data-{account}-{region}``."""
    return f"{resource_prefix}-data-{account}-{region}"


# The pipeline's roles, by the step that runs as each: every function's role, and the state
# machine's. Their names are fixed so the storage stack's bucket and key policies can name each
# one by exact ARN without a reference to the pipeline stack (a role created later at the same
# IAM path gets nothing).
PIPELINE_ROLE_STEPS: Final = (
    "plan",
    "mirror",
    "collect",
    "decrypt",
    "split",
    "deidentify",
    "catalog",
    "report",
    "sync",
)


def pipeline_role_name(stack_prefix: str, step: str) -> str:
    """The role a pipeline step runs as: ``{prefix}-pipeline-{step}``.

    Role names are unique per account, not per region (IAM User Guide, "IAM object quotas and
    names"), like the researcher roles' ``{prefix}-{researcher}``; the stack prefix tells two
    deployments in one account apart.

    Raises
    ------
    ValueError
        For a step that is not one of :data:`PIPELINE_ROLE_STEPS`.
    """
    if step not in PIPELINE_ROLE_STEPS:
        raise ValueError(f"{step!r} is not a pipeline step ({', '.join(PIPELINE_ROLE_STEPS)})")
    return f"{resource_prefix(stack_prefix)}-pipeline-{step}"


def glue_database_name(stack_prefix: str) -> str:
    """The Glue database of the published datasets: ``{prefix}_research``.

    Glue keeps names lower-case, and Athena's SQL takes a database name unquoted only when it
    is letters, digits and underscores ("Names for tables, databases, and columns", Athena User
    Guide), so dashes in the stack prefix become underscores.
    """
    return f"{resource_prefix(stack_prefix).replace('-', '_')}_research"


def workgroup_name(stack_prefix: str, researcher: str) -> str:
    """The Athena workgroup of one researcher's grant: ``{prefix}-{researcher}``."""
    return f"{resource_prefix(stack_prefix)}-{researcher}"


def query_results_bucket_name(resource_prefix: str, account: str, region: str) -> str:
    """The bucket of Athena's query results: ``{resource prefix}-results-{account}-{region}``.

    Each researcher's workgroup writes under its own ``results/{researcher}/`` prefix.
    """
    return f"{resource_prefix}-results-{account}-{region}"
