"""What a researcher role may do to query with SQL: its own Athena workgroup, the research
catalog, and its own prefix of the query results bucket.

Athena reads the data with the caller's own credentials ("Athena uses the permissions of the
IAM principal that runs the query to access the data in Amazon S3", Athena User Guide, "Access
to Amazon S3"), so none of these statements widens what the role may read: a query over objects
outside the grant fails with AccessDenied. They only let the role start and read queries in its
workgroup, read table definitions, and keep its results.

Pure Python, one spelling for :class:`~stacks.researcher_role.ResearcherRole` (which passes CDK
tokens for the partition, region and account) and the tests (which pass plain strings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from edx_vault.settings.resource_names import glue_database_name, workgroup_name

# Statement ids, so the access matrix and `edx-vault grants check` can say which one decided.
RUN_QUERIES_SID: Final = "RunQueriesInOwnWorkgroup"
READ_CATALOG_SID: Final = "ReadResearchCatalog"
RESULTS_OBJECTS_SID: Final = "ReadWriteOwnQueryResults"
RESULTS_LIST_SID: Final = "ListOwnQueryResults"
RESULTS_LOCATE_SID: Final = "LocateQueryResultsBucket"
RESULTS_KEY_SID: Final = "EncryptQueryResultsThroughS3"

# Everything a query's life needs, in the workgroup only: start, watch, stop, read its results
# (GetQueryResultsStream is what the JDBC/ODBC drivers call), list the workgroup's history.
ATHENA_ACTIONS: Final = (
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
    "athena:GetQueryExecution",
    "athena:BatchGetQueryExecution",
    "athena:GetQueryResults",
    "athena:GetQueryResultsStream",
    "athena:GetQueryRuntimeStatistics",
    "athena:ListQueryExecutions",
    "athena:GetWorkGroup",
)
# Reads of the catalog only; never Create/Update/Delete, which would let a researcher point a
# table at other data or change its partition projection.
GLUE_ACTIONS: Final = (
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:GetTable",
    "glue:GetTables",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
)
# What Athena does with the caller's credentials to write results: PutObject (multipart for
# large results), and GetObject to serve GetQueryResults and the researcher's own downloads.
RESULTS_OBJECT_ACTIONS: Final = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)


def results_prefix(researcher: str) -> str:
    """A researcher's prefix of the query results bucket: ``results/{researcher}/``."""
    return f"results/{researcher}/"


def workgroup_arn(partition: str, region: str, account: str, workgroup: str) -> str:
    """An Athena workgroup's ARN (``arn:aws:athena:region:account:workgroup/name``)."""
    return f"arn:{partition}:athena:{region}:{account}:workgroup/{workgroup}"


def catalog_arns(partition: str, region: str, account: str, database: str) -> tuple[str, ...]:
    """The Glue resources a read of one database's tables is authorized on.

    "Specifying AWS Glue resource ARNs" (Glue Developer Guide): the catalog is
    ``arn:aws:glue:region:account-id:catalog``, a database ``...:database/name``, a table
    ``...:table/database/table``, and a call on a table needs permission on the catalog and
    the database above it as well.
    """
    glue = f"arn:{partition}:glue:{region}:{account}"
    return (f"{glue}:catalog", f"{glue}:database/{database}", f"{glue}:table/{database}/*")


@dataclass(frozen=True)
class QueryAccess:
    """Where researchers' SQL runs and writes (the same for every grant of a deployment).

    Attributes
    ----------
    stack_prefix
        The deployment's stack prefix: names the workgroups and the Glue database.
    results_bucket_name
        The query results bucket.
    results_key_arn
        The KMS key the results are encrypted with (a CDK token in a stack).
    """

    stack_prefix: str
    results_bucket_name: str
    results_key_arn: str
    # The data bucket, whose location Athena may ask with the caller's credentials before it
    # reads the tables (AWS's Athena policy examples grant s3:GetBucketLocation on the source
    # buckets too); "" to leave it out.
    data_bucket_name: str = ""


def query_statements(
    access: QueryAccess,
    *,
    researcher: str,
    expiry_timestamp: str,
    partition: str,
    region: str,
    account: str,
) -> list[dict[str, Any]]:
    """The identity policy statements that let one researcher query with SQL until the expiry.

    Parameters
    ----------
    access
        The deployment's workgroups, catalog and results bucket.
    researcher
        The grant's name.
    expiry_timestamp
        When access ends, as ``aws:CurrentTime`` compares it (every statement stops then).
    partition, region, account
        Where the resources are.

    Returns
    -------
    list of dict
        IAM policy statements (JSON), each with a ``Sid``.
    """
    until = {"DateLessThan": {"aws:CurrentTime": expiry_timestamp}}
    bucket_arn = f"arn:{partition}:s3:::{access.results_bucket_name}"
    prefix = results_prefix(researcher)
    workgroup = workgroup_name(access.stack_prefix, researcher)
    database = glue_database_name(access.stack_prefix)
    return [
        {
            "Sid": RUN_QUERIES_SID,
            "Effect": "Allow",
            "Action": list(ATHENA_ACTIONS),
            "Resource": workgroup_arn(partition, region, account, workgroup),
            "Condition": until,
        },
        {
            "Sid": READ_CATALOG_SID,
            "Effect": "Allow",
            "Action": list(GLUE_ACTIONS),
            "Resource": list(catalog_arns(partition, region, account, database)),
            "Condition": until,
        },
        {
            "Sid": RESULTS_OBJECTS_SID,
            "Effect": "Allow",
            "Action": list(RESULTS_OBJECT_ACTIONS),
            "Resource": f"{bucket_arn}/{prefix}*",
            "Condition": until,
        },
        {
            # "Not like" would be true without a prefix: a listing must name one below its own.
            "Sid": RESULTS_LIST_SID,
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {**until, "StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}},
        },
        {
            # Athena and the SDKs ask where the bucket is before writing to it; the answer is
            # a region name, no data.
            "Sid": RESULTS_LOCATE_SID,
            "Effect": "Allow",
            "Action": "s3:GetBucketLocation",
            "Resource": (
                [bucket_arn, f"arn:{partition}:s3:::{access.data_bucket_name}"]
                if access.data_bucket_name
                else bucket_arn
            ),
            "Condition": until,
        },
        {
            # S3 calls KMS with the caller's credentials: GenerateDataKey to write an object,
            # Decrypt to read one. With an S3 bucket key the encryption context is the bucket's
            # ARN ("Reducing the cost of SSE-KMS with Amazon S3 Bucket Keys", S3 User Guide),
            # which pins the key's use to this bucket, through S3.
            "Sid": RESULTS_KEY_SID,
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": access.results_key_arn,
            "Condition": {
                **until,
                "StringEquals": {
                    "kms:ViaService": f"s3.{region}.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": bucket_arn,
                },
            },
        },
    ]
