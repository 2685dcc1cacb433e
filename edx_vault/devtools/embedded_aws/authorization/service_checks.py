"""What AWS authorizes a call of a JSON or query protocol service by: its action, the resources
it names (as ARNs, resolved in moto's backends) and the service's condition keys.

S3 requests come with their checks (:mod:`edx_vault.devtools.embedded_aws.s3_requests`); the
other services are one table, :data:`_RESOURCES`, from the service to the function naming a
call's resources and context. A service not in it is checked against ``*``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from edx_vault.access.policy_evaluator import ContextValue
from edx_vault.devtools.embedded_aws.api_requests import (
    ApiCall,
    Check,
    UnmodelledRequestError,
    iam_action,
)
from edx_vault.devtools.embedded_aws.authorization.moto_resources import (
    ciphertext_key_id,
    key_arn_or_none,
    secret,
)

Parameters = Mapping[str, object]
# The resources a call names (no checks at all when empty) and its service's condition keys.
Named = tuple[list[str], dict[str, ContextValue]]


def _kms(operation: str, parameters: Parameters, region: str, account: str) -> Named:
    """The key a KMS call uses, as its ARN; none for a key that does not exist (KMS answers
    NotFoundException, which moto gives), ``*`` for calls on no key (ListKeys, CreateKey)."""
    context: dict[str, ContextValue] = {"kms:CallerAccount": account}
    encryption_context = parameters.get("EncryptionContext")
    if isinstance(encryption_context, dict):
        for name, value in encryption_context.items():
            context[f"kms:EncryptionContext:{name}"] = str(value)
        context["kms:EncryptionContextKeys"] = [str(k) for k in encryption_context]
    key_id = parameters.get("KeyId") or parameters.get("TargetKeyId")
    if key_id is None and operation == "Decrypt":
        blob = parameters.get("CiphertextBlob")
        key_id = ciphertext_key_id(str(blob)) if blob else None
    if key_id is None:
        return ["*"], context
    key_arn = key_arn_or_none(account, str(key_id), region)
    return ([key_arn] if key_arn else []), context


def _secrets(operation: str, parameters: Parameters, region: str, account: str) -> Named:
    """The secret a call names, as its ARN (AWS's, with the random suffix, when it exists)."""
    resources = _secret_arns(operation, parameters, region, account)
    if "SecretId" in parameters:
        return resources, {"secretsmanager:SecretId": resources[0]}
    return resources, {}


def _secret_arns(operation: str, parameters: Parameters, region: str, account: str) -> list[str]:
    secret_id = parameters.get("SecretId")
    if operation == "CreateSecret" and "Name" in parameters:
        # The ARN ends in a random suffix AWS picks; naming it without one makes a policy
        # written for "...:secret:NAME-*" not match: refused, never more lenient.
        return [f"arn:aws:secretsmanager:{region}:{account}:secret:{parameters['Name']}"]
    if secret_id is None:
        if operation in ("ListSecrets", "GetRandomPassword", "BatchGetSecretValue"):
            return ["*"]
        raise UnmodelledRequestError(f"secretsmanager:{operation} without a SecretId")
    found = secret(account, region, str(secret_id))
    if found is None:  # AWS names a missing secret's id as asked
        return [f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}"]
    return [str(found.arn)]


def _tables(operation: str, parameters: Parameters, region: str, account: str) -> Named:
    """The tables (or index) a DynamoDB call reads or writes, batches and transactions too."""
    prefix = f"arn:aws:dynamodb:{region}:{account}:table/"
    if "TableName" in parameters:
        table = f"{prefix}{parameters['TableName']}"
        index = parameters.get("IndexName")
        return [f"{table}/index/{index}" if index else table], {}
    request_items = parameters.get("RequestItems")
    if isinstance(request_items, dict):
        return [f"{prefix}{name}" for name in request_items], {}
    transact = parameters.get("TransactItems")
    if isinstance(transact, list):
        return [
            f"{prefix}{body['TableName']}"
            for item in transact
            for body in item.values()
            if isinstance(body, dict) and "TableName" in body
        ], {}
    return ["*"], {}


def _state_machines(operation: str, parameters: Parameters, region: str, account: str) -> Named:
    """The state machine, execution or Map Run a Step Functions call names."""
    names = ("stateMachineArn", "executionArn", "mapRunArn")
    return [str(parameters[name]) for name in names if name in parameters][:1] or ["*"], {}


def _topics(operation: str, parameters: Parameters, region: str, account: str) -> Named:
    return [str(parameters.get("TopicArn") or parameters.get("TargetArn") or "*")], {}


def _roles(operation: str, parameters: Parameters, region: str, account: str) -> Named:
    """The role AssumeRole assumes (GetCallerIdentity needs no permission: no check)."""
    if operation == "GetCallerIdentity":
        return [], {}
    if operation != "AssumeRole":
        raise UnmodelledRequestError(f"sts:{operation}")
    context: dict[str, ContextValue] = {
        key: str(parameters[name])
        for name, key in (
            ("ExternalId", "sts:ExternalId"),
            ("RoleSessionName", "sts:RoleSessionName"),
        )
        if name in parameters
    }
    return [str(parameters.get("RoleArn", ""))], context


def _query_execution_workgroup(account: str, region: str, execution_id: str) -> str | None:
    """The workgroup a query execution ran in, from moto's Athena backend; ``None`` when moto
    knows no such execution."""
    from moto.athena.models import athena_backends

    execution = athena_backends[account][region].executions.get(execution_id)
    if execution is None:
        return None
    return str(execution.workgroup.name) if execution.workgroup is not None else _PRIMARY_WORKGROUP


# Athena's workgroup when a call names none ("primary", Athena User Guide, "Using workgroups").
_PRIMARY_WORKGROUP: Final = "primary"
# Athena operations by the parameter naming their workgroup: by name, or by a query execution
# (or several) whose workgroup authorizes the call. IAM authorizes each on the workgroup ARN
# ("Actions, resources, and condition keys for Amazon Athena", Service Authorization Reference).
_WORKGROUP_BY_NAME: Final = {
    "StartQueryExecution": "WorkGroup",
    "ListQueryExecutions": "WorkGroup",
    "GetWorkGroup": "WorkGroup",
    "UpdateWorkGroup": "WorkGroup",
    "DeleteWorkGroup": "WorkGroup",
    "CreateWorkGroup": "Name",
}
_WORKGROUP_BY_EXECUTION: Final = frozenset(
    {
        "GetQueryExecution",
        "GetQueryResults",
        "GetQueryResultsStream",
        "GetQueryRuntimeStatistics",
        "StopQueryExecution",
        "BatchGetQueryExecution",
    }
)


def _workgroups(operation: str, parameters: Parameters, region: str, account: str) -> Named:
    """The workgroup(s) an Athena call runs in, as ARNs; ``*`` for ListWorkGroups.

    Raises
    ------
    UnmodelledRequestError
        For another operation, or a query execution moto does not know (refused rather than
        judged on a guessed workgroup).
    """
    prefix = f"arn:aws:athena:{region}:{account}:workgroup/"
    if operation in _WORKGROUP_BY_NAME:
        name = parameters.get(_WORKGROUP_BY_NAME[operation]) or _PRIMARY_WORKGROUP
        return [f"{prefix}{name}"], {}
    if operation in _WORKGROUP_BY_EXECUTION:
        ids = parameters.get("QueryExecutionIds")
        wanted = [str(i) for i in ids] if isinstance(ids, list) else []
        wanted = wanted or [str(parameters.get("QueryExecutionId", ""))]
        names = [_query_execution_workgroup(account, region, i) for i in wanted]
        if None in names:
            raise UnmodelledRequestError(f"athena:{operation} of an unknown query execution")
        return [f"{prefix}{name}" for name in dict.fromkeys(names)], {}
    if operation == "ListWorkGroups":
        return ["*"], {}
    raise UnmodelledRequestError(f"athena:{operation}")


# Glue Data Catalog operations by what they name: the catalog only, a database (by the
# parameter holding its name), or a table of a database. A call on a database or table is
# authorized on the catalog and every level above it too ("Specifying AWS Glue resource ARNs",
# Glue Developer Guide).
_CATALOG_OPERATIONS: Final = frozenset({"GetDatabases"})
_DATABASE_OPERATIONS: Final = {
    "GetDatabase": "Name",
    "CreateDatabase": "DatabaseInput.Name",
    "UpdateDatabase": "Name",
    "DeleteDatabase": "Name",
    "GetTables": "DatabaseName",
}
_TABLE_OPERATIONS: Final = {
    "GetTable": "Name",
    "CreateTable": "TableInput.Name",
    "UpdateTable": "TableInput.Name",
    "DeleteTable": "Name",
    "GetPartition": "TableName",
    "GetPartitions": "TableName",
    "BatchGetPartition": "TableName",
    "CreatePartition": "TableName",
    "BatchCreatePartition": "TableName",
}


def _parameter(parameters: Parameters, path: str) -> str:
    value: object = parameters
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if not isinstance(value, str) or not value:
        raise UnmodelledRequestError(f"glue call without {path}")
    return value


def _catalog(operation: str, parameters: Parameters, region: str, account: str) -> Named:
    """The catalog, database and table ARNs a Glue Data Catalog call is authorized on.

    Raises
    ------
    UnmodelledRequestError
        For another Glue operation, or one without the name it needs.
    """
    catalog_account = str(parameters.get("CatalogId") or account)
    glue = f"arn:aws:glue:{region}:{catalog_account}"
    resources = [f"{glue}:catalog"]
    if operation in _CATALOG_OPERATIONS:
        return resources, {}
    if operation in _DATABASE_OPERATIONS:
        database = _parameter(parameters, _DATABASE_OPERATIONS[operation])
        return [*resources, f"{glue}:database/{database}"], {}
    if operation in _TABLE_OPERATIONS:
        database = _parameter(parameters, "DatabaseName")
        table = _parameter(parameters, _TABLE_OPERATIONS[operation])
        return [
            *resources,
            f"{glue}:database/{database}",
            f"{glue}:table/{database}/{table}",
        ], {}
    raise UnmodelledRequestError(f"glue:{operation}")


def _functions(operation: str, parameters: Parameters, region: str, account: str) -> Named:
    name = str(parameters["FunctionName"])
    return [
        name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
    ], {}


# Signing name -> what a call of that service names.
_RESOURCES: Final[Mapping[str, Callable[[str, Parameters, str, str], Named]]] = {
    "kms": _kms,
    "secretsmanager": _secrets,
    "dynamodb": _tables,
    "states": _state_machines,
    "sns": _topics,
    "sts": _roles,
    "lambda": _functions,
    "athena": _workgroups,
    "glue": _catalog,
}
# Services whose one modelled operation is authorized by an action not named after it.
_ACTIONS: Final = {"lambda": "lambda:InvokeFunction"}


def service_call(
    service: str, region: str, operation: str, parameters: Parameters, account: str
) -> ApiCall:
    """The call with its checks: one per resource named, each with the service's context.

    Raises
    ------
    UnmodelledRequestError
        For an operation of a service with resource policies that this model does not know.
    """
    action = _ACTIONS.get(service) or iam_action(service, operation)
    named = _RESOURCES.get(service)
    resources, context = (
        named(operation, parameters, region, account) if named is not None else (["*"], {})
    )
    checks = tuple(Check(action, resource, context) for resource in resources)
    return ApiCall(service, operation, checks, parameters)
