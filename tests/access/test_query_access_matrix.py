"""Researchers' SQL, judged on synthesized policies: each role may use only its own Athena
workgroup, read (never write) the research catalog, and touch only its own query results.

Each cell names the expected outcome exactly, and for some the statement that decides it; the
stack and the probes are :mod:`tests.access.query_policies`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from stacks.researcher_role import EXPIRED_SID
from tests.access.query_policies import (
    ANN_EXPIRY,
    DATABASE,
    Probe,
    QueryPolicies,
    athena,
    build_query_policies,
    glue,
    results,
    results_key,
    workgroup,
)


@pytest.fixture(scope="module")
def policies() -> QueryPolicies:
    return build_query_policies()


@dataclass(frozen=True)
class Cell:
    researcher: str
    what: str
    probe: Probe
    outcome: str
    # For an allow or explicit deny, the Sid of a statement that must be among the deciding ones.
    by: str | None = None


ANN = "ann-course"
CELLS = [
    # --- its own workgroup, and nobody else's ------------------------------------------------
    Cell(
        ANN,
        "start a query in its workgroup",
        athena("athena:StartQueryExecution", ANN),
        "allow",
        "RunQueriesInOwnWorkgroup",
    ),
    Cell(ANN, "read its query's results", athena("athena:GetQueryResults", ANN), "allow"),
    Cell(ANN, "stop its query", athena("athena:StopQueryExecution", ANN), "allow"),
    Cell(ANN, "see its workgroup's settings", athena("athena:GetWorkGroup", ANN), "allow"),
    Cell(ANN, "list its workgroup's queries", athena("athena:ListQueryExecutions", ANN), "allow"),
    Cell(
        ANN,
        "start a query in ben's workgroup",
        athena("athena:StartQueryExecution", "ben-identified"),
        "implicit-deny",
    ),
    Cell(
        ANN,
        "read a query of ben's workgroup",
        athena("athena:GetQueryResults", "ben-identified"),
        "implicit-deny",
    ),
    Cell(
        ANN,
        "start a query in the primary workgroup",
        workgroup("athena:StartQueryExecution", "primary"),
        "implicit-deny",
    ),
    Cell(
        ANN, "lift its workgroup's cutoff", athena("athena:UpdateWorkGroup", ANN), "implicit-deny"
    ),
    Cell(
        ANN,
        "make a workgroup of its own",
        athena("athena:CreateWorkGroup", "ann-free"),
        "implicit-deny",
    ),
    Cell(ANN, "delete its workgroup", athena("athena:DeleteWorkGroup", ANN), "implicit-deny"),
    Cell(
        ANN,
        "start a query on its last day's eve",
        athena("athena:StartQueryExecution", ANN, at=ANN_EXPIRY - dt.timedelta(seconds=1)),
        "allow",
    ),
    Cell(
        ANN,
        "start a query after its expiry",
        athena("athena:StartQueryExecution", ANN, at=ANN_EXPIRY),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "start a query in his workgroup",
        athena("athena:StartQueryExecution", "ben-identified"),
        "allow",
    ),
    Cell(
        "ben-identified",
        "start a query in ann's workgroup",
        athena("athena:StartQueryExecution", ANN),
        "implicit-deny",
    ),
    Cell(
        "dan-expired",
        "start a query in his workgroup",
        athena("athena:StartQueryExecution", "dan-expired"),
        "explicit-deny",
        EXPIRED_SID,
    ),
    Cell(
        "dan-expired",
        "read the catalog",
        glue("glue:GetTable", f"table/{DATABASE}/events"),
        "explicit-deny",
        EXPIRED_SID,
    ),
    # --- the research catalog: read, never write ---------------------------------------------
    Cell(
        ANN,
        "read a table's definition",
        glue("glue:GetTable", f"table/{DATABASE}/student_courseenrollment"),
        "allow",
        "ReadResearchCatalog",
    ),
    Cell(ANN, "list the research tables", glue("glue:GetTables", f"database/{DATABASE}"), "allow"),
    Cell(
        ANN, "read the research database", glue("glue:GetDatabase", f"database/{DATABASE}"), "allow"
    ),
    Cell(ANN, "list databases", glue("glue:GetDatabases", "catalog"), "allow"),
    Cell(ANN, "read partitions", glue("glue:GetPartitions", f"table/{DATABASE}/events"), "allow"),
    Cell(
        ANN,
        "read a table of another database",
        glue("glue:GetTable", "table/default/secrets"),
        "implicit-deny",
    ),
    Cell(
        ANN, "read another database", glue("glue:GetDatabase", "database/default"), "implicit-deny"
    ),
    Cell(
        ANN, "change a table", glue("glue:UpdateTable", f"table/{DATABASE}/events"), "implicit-deny"
    ),
    Cell(ANN, "create a table", glue("glue:CreateTable", f"database/{DATABASE}"), "implicit-deny"),
    Cell(
        ANN, "delete a table", glue("glue:DeleteTable", f"table/{DATABASE}/events"), "implicit-deny"
    ),
    Cell(
        ANN,
        "add a partition",
        glue("glue:CreatePartition", f"table/{DATABASE}/events"),
        "implicit-deny",
    ),
    Cell(
        ANN,
        "read the catalog after its expiry",
        glue("glue:GetTable", f"table/{DATABASE}/events", at=ANN_EXPIRY),
        "implicit-deny",
    ),
    # --- its own query results, and nobody else's --------------------------------------------
    Cell(
        ANN,
        "write a result under its prefix",
        results("s3:PutObject", f"results/{ANN}/q-1.csv"),
        "allow",
        "ReadWriteOwnQueryResults",
    ),
    Cell(
        ANN,
        "read a result under its prefix",
        results("s3:GetObject", f"results/{ANN}/q-1.csv"),
        "allow",
    ),
    Cell(
        ANN,
        "abort its multipart result",
        results("s3:AbortMultipartUpload", f"results/{ANN}/q-1.csv"),
        "allow",
    ),
    Cell(
        ANN,
        "read ben's result",
        results("s3:GetObject", "results/ben-identified/q-2.csv"),
        "implicit-deny",
    ),
    Cell(
        ANN,
        "write into ben's results",
        results("s3:PutObject", "results/ben-identified/q-2.csv"),
        "implicit-deny",
    ),
    Cell(
        ANN,
        "read a result of a name extending its own",
        results("s3:GetObject", f"results/{ANN}-2/q.csv"),
        "implicit-deny",
    ),
    Cell(ANN, "read outside results/", results("s3:GetObject", "other/q.csv"), "implicit-deny"),
    Cell(
        ANN,
        "delete its result",
        results("s3:DeleteObject", f"results/{ANN}/q-1.csv"),
        "implicit-deny",
    ),
    Cell(
        ANN,
        "read its result over plain HTTP",
        results("s3:GetObject", f"results/{ANN}/q-1.csv", **{"aws:SecureTransport": "false"}),
        "explicit-deny",
    ),
    Cell(
        ANN,
        "read its result after its expiry",
        results("s3:GetObject", f"results/{ANN}/q-1.csv", at=ANN_EXPIRY),
        "implicit-deny",
    ),
    Cell(
        ANN,
        "list its prefix",
        results("s3:ListBucket", None, **{"s3:prefix": f"results/{ANN}/"}),
        "allow",
        "ListOwnQueryResults",
    ),
    Cell(
        ANN,
        "list below its prefix",
        results("s3:ListBucket", None, **{"s3:prefix": f"results/{ANN}/2026/"}),
        "allow",
    ),
    Cell(
        ANN,
        "list results/",
        results("s3:ListBucket", None, **{"s3:prefix": "results/"}),
        "implicit-deny",
    ),
    Cell(
        ANN,
        "list ben's prefix",
        results("s3:ListBucket", None, **{"s3:prefix": "results/ben-identified/"}),
        "implicit-deny",
    ),
    Cell(ANN, "list without a prefix", results("s3:ListBucket", None), "implicit-deny"),
    Cell(ANN, "locate the results bucket", results("s3:GetBucketLocation", None), "allow"),
    Cell(
        ANN,
        "change the results bucket's policy",
        results("s3:PutBucketPolicy", None),
        "implicit-deny",
    ),
    # --- the results key: through S3, for the results bucket only -----------------------------
    Cell(
        ANN,
        "encrypt a result through S3",
        results_key("kms:GenerateDataKey"),
        "allow",
        "EncryptQueryResultsThroughS3",
    ),
    Cell(ANN, "decrypt a result through S3", results_key("kms:Decrypt"), "allow"),
    Cell(
        ANN,
        "decrypt directly with the results key",
        results_key("kms:Decrypt", **{"kms:ViaService": None}),
        "implicit-deny",
    ),
    Cell(
        ANN,
        "decrypt through S3 for another bucket",
        results_key(
            "kms:Decrypt", **{"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::elsewhere"}
        ),
        "implicit-deny",
    ),
    Cell(ANN, "change the results key", results_key("kms:PutKeyPolicy"), "implicit-deny"),
]


@pytest.mark.parametrize("cell", CELLS, ids=[f"{c.researcher}: {c.what}" for c in CELLS])
def test_every_cell_of_the_query_access_matrix(policies: QueryPolicies, cell: Cell) -> None:
    # Given the researcher's synthesized role with its query policy
    role = policies.roles[cell.researcher]
    # When the request is evaluated against it and the resource's own policy
    decision = cell.probe(policies, role)
    # Then the outcome is exactly the expected one, decided by the expected statement
    assert decision.outcome == cell.outcome, [s.label for s in decision.deciding]
    if cell.by is not None:
        assert cell.by in {s.sid for s in decision.deciding}
