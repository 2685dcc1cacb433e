"""A researcher role's SQL on the strict embedded AWS: its own workgroup yes, another's no.

The role holds exactly the query policy a researcher grant gets
(:func:`edx_vault.access.query_statements.query_statements`), under the researcher role path;
the fixture app's running server judges each Athena and Glue call with the project's evaluator.
The workgroups, database and table are made by the account's root user, as the deploy would.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from edx_vault.access.query_statements import QueryAccess, query_statements
from edx_vault.settings.iam_paths import RESEARCHER_ROLE_PATH
from edx_vault.settings.resource_names import glue_database_name, workgroup_name
from tests.local.conftest import RunningAws
from tests.local.iam_sessions import policy_document

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
PREFIX = "QueryTest"


def _error(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    return str(error.get("Code")), str(error.get("Message", ""))


@pytest.fixture(scope="module")
def researcher(fixture_aws: RunningAws) -> Callable[[str], Any]:
    """Two researchers' workgroups, the research table, and a session of ann's role."""
    region = fixture_aws.state.region
    athena = fixture_aws.root_client("athena")
    glue = fixture_aws.root_client("glue")
    iam = fixture_aws.root_client("iam")
    results = f"querytest-results-{uuid.uuid4().hex[:8]}"
    for name in ("ann", "ben"):
        athena.create_work_group(
            Name=workgroup_name(PREFIX, name),
            Configuration={
                "ResultConfiguration": {"OutputLocation": f"s3://{results}/results/{name}/"},
                "EnforceWorkGroupConfiguration": True,
            },
        )
    database = glue_database_name(PREFIX)
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(DatabaseName=database, TableInput={"Name": "events"})
    # ann's principal: a user her role trusts, as a researcher's IAM principal is
    user = f"querytest-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    statements = query_statements(
        QueryAccess(PREFIX, results, f"arn:aws:kms:{region}:{ACCOUNT}:key/unused"),
        researcher="ann",
        expiry_timestamp="2099-01-01T00:00:00Z",
        partition="aws",
        region=region,
        account=ACCOUNT,
    )
    role = iam.create_role(
        RoleName=f"querytest-ann-{uuid.uuid4().hex[:6]}",
        Path=RESEARCHER_ROLE_PATH,
        AssumeRolePolicyDocument=policy_document(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{user}"},
                "Action": "sts:AssumeRole",
            }
        ),
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role.rsplit("/", 1)[1],
        PolicyName="Query",
        PolicyDocument=policy_document(*statements),
    )

    def signed(service: str, **credentials: str) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=fixture_aws.state.endpoint,
            region_name=region,
            config=Config(retries={"max_attempts": 1}),
            **credentials,
        )

    session = signed(
        "sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    ).assume_role(RoleArn=role, RoleSessionName="ann")["Credentials"]

    def client(service: str) -> Any:
        return signed(
            service,
            aws_access_key_id=session["AccessKeyId"],
            aws_secret_access_key=session["SecretAccessKey"],
            aws_session_token=session["SessionToken"],
        )

    return client


def test_a_researcher_queries_in_her_own_workgroup_only(
    researcher: Callable[[str], Any],
) -> None:
    # Given ann's role session
    athena = researcher("athena")
    own, other = workgroup_name(PREFIX, "ann"), workgroup_name(PREFIX, "ben")
    # When she starts a query in her workgroup, reads it back, and starts one in ben's
    started = athena.start_query_execution(QueryString="SELECT 1", WorkGroup=own)
    execution = athena.get_query_execution(QueryExecutionId=started["QueryExecutionId"])
    code, message = _error(
        lambda: athena.start_query_execution(QueryString="SELECT 1", WorkGroup=other)
    )
    # Then her own runs and is hers to read; ben's is refused as AWS refuses, naming it
    assert execution["QueryExecution"]["WorkGroup"] == own
    assert code == "AccessDeniedException"  # JSON protocol services name it so
    assert "athena:StartQueryExecution" in message and f"workgroup/{other}" in message


def test_a_researcher_reads_the_catalog_but_cannot_change_it(
    researcher: Callable[[str], Any],
) -> None:
    # Given ann's role session
    glue = researcher("glue")
    database = glue_database_name(PREFIX)
    # When she reads the research table's definition, then tries to change it
    table = glue.get_table(DatabaseName=database, Name="events")
    code, message = _error(
        lambda: glue.update_table(DatabaseName=database, TableInput={"Name": "events"})
    )
    # Then the read is served and the change refused
    assert table["Table"]["Name"] == "events"
    assert code == "AccessDeniedException"  # JSON protocol services name it so
    assert "glue:UpdateTable" in message
