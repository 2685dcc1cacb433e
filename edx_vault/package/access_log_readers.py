"""Who read the data bucket: each access log record's requester resolved to a vault principal,
and the reads summed per principal.

Pure Python, shared by the Report step's weekly audit (Lambda side) and ``edx-vault audit``.

A requester is resolved from the ARN S3 logs for it. A role session shows only the role's
*name* (``arn:aws:sts::{account}:assumed-role/{role}/{session}``), never its path, so the vault's
roles are recognised by name:

* **researcher**: a role named in :attr:`KnownPrincipals.researcher_roles` (the access stack
  names each ``{resource prefix}-{researcher}``);
* **pipeline**: a role named in :attr:`KnownPrincipals.pipeline_roles` (the pipeline stack names
  each ``{resource prefix}-pipeline-{step}``);
* **admin**: a session of, or the very user named by, one of the configuration's
  ``admin_role_arns``;
* **s3**: S3's own lifecycle actions (operations ``S3.*``: they have no requester of their own);
* **unexpected**: everything else: the account's root user, IAM users, other roles of this
  account (including a role with a researcher's name spelling that the configuration no longer
  lists), principals of other accounts, unauthenticated requests.

Only a *successful* data request (an object read, write, copy, delete or a listing; not a bucket
configuration request such as ``GetBucketPolicy`` that CloudFormation makes on deploy) makes an
unexpected requester an **unexpected reader**: the bucket policy refuses every principal outside
the vault's paths, so a refused attempt is shown (``refused``) but is not evidence that anyone
read learner data.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from edx_vault.package.access_log_records import AccessLogRecord

ReaderKind = Literal["researcher", "pipeline", "admin", "s3", "unexpected"]

# Object reads that return data: a whole object (200) or a range (206).
OBJECT_READ: Final = "REST.GET.OBJECT"
READ_STATUSES: Final = frozenset({200, 206})
# Operations on objects' content or names (S3's REST.{METHOD}.{RESOURCE} spelling): reads,
# copies out of the bucket, writes, deletes, listings, multipart uploads.
_DATA_RESOURCES: Final = frozenset(
    {
        "OBJECT",
        "OBJECT_GET",
        "BUCKET",
        "BUCKETVERSIONS",
        "UPLOAD",
        "UPLOADS",
        "PART",
        "MULTI_OBJECT_DELETE",
        "OBJECT_TAGGING",
        "OBJECT_ATTRIBUTES",
    }
)


@dataclass(frozen=True)
class KnownPrincipals:
    """The principals the vault expects in its data bucket's access logs.

    Attributes
    ----------
    account
        The vault's account: a role session of another account is never the vault's.
    researcher_roles
        Researcher role name -> researcher name.
    pipeline_roles
        Names of the pipeline's roles.
    admin_principal_arns
        The configuration's ``admin_role_arns`` (role or user ARNs).
    """

    account: str
    researcher_roles: Mapping[str, str] = field(default_factory=dict)
    pipeline_roles: frozenset[str] = frozenset()
    admin_principal_arns: tuple[str, ...] = ()

    def to_json(self) -> str:
        """The principals as the pipeline stack hands them to the Report function."""
        return json.dumps(
            {
                "account": self.account,
                "researcher_roles": dict(sorted(self.researcher_roles.items())),
                "pipeline_roles": sorted(self.pipeline_roles),
                "admin_principal_arns": list(self.admin_principal_arns),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> KnownPrincipals:
        """The principals :meth:`to_json` wrote."""
        document = json.loads(text)
        return cls(
            account=str(document["account"]),
            researcher_roles={str(k): str(v) for k, v in document["researcher_roles"].items()},
            pipeline_roles=frozenset(document.get("pipeline_roles", [])),
            admin_principal_arns=tuple(document.get("admin_principal_arns", [])),
        )


@dataclass(frozen=True)
class Reader:
    """A requester, resolved.

    Attributes
    ----------
    kind
        ``researcher``, ``pipeline``, ``admin``, ``s3`` or ``unexpected``.
    name
        The researcher's name, the role's name, or the requester as logged (``-`` when none).
    """

    kind: ReaderKind
    name: str


def assumed_role(requester: str) -> tuple[str, str, str] | None:
    """``(account, role name, session)`` of a role session's ARN; ``None`` for anything else."""
    parts = requester.split(":", 5)
    if len(parts) != 6 or parts[2] != "sts" or not parts[5].startswith("assumed-role/"):
        return None
    _, role, *session = parts[5].split("/")
    return parts[4], role, "/".join(session)


def classify(record: AccessLogRecord, principals: KnownPrincipals) -> Reader:
    """Who made the request, as the vault knows them."""
    operation = record.operation or ""
    requester = record.requester
    # Clients cannot send an S3.* operation: these are S3's own (lifecycle expirations).
    if operation.startswith("S3."):
        return Reader("s3", "S3")
    if requester is None:
        return Reader("unexpected", "-")
    session = assumed_role(requester)
    if session is None:
        if requester in principals.admin_principal_arns:
            return Reader("admin", requester)
        return Reader("unexpected", requester)
    account, role, _ = session
    if account != principals.account:
        return Reader("unexpected", requester)
    if role in principals.researcher_roles:
        return Reader("researcher", principals.researcher_roles[role])
    if role in principals.pipeline_roles:
        return Reader("pipeline", role)
    for arn in principals.admin_principal_arns:
        admin = arn.split(":", 5)
        is_role = len(admin) == 6 and admin[4] == account and admin[5].startswith("role/")
        if is_role and admin[5].rsplit("/", 1)[-1] == role:
            return Reader("admin", role)
    return Reader("unexpected", requester)


def is_data_operation(operation: str | None) -> bool:
    """Whether an operation touches objects or their names (not bucket configuration)."""
    if not operation:
        return False
    parts = operation.split(".")
    if parts[0] == "BATCH":
        return True
    return len(parts) == 3 and parts[0] == "REST" and parts[2] in _DATA_RESOURCES


def is_object_read(record: AccessLogRecord) -> bool:
    """A ``GetObject`` that returned data (200, or 206 for a range)."""
    return record.operation == OBJECT_READ and record.http_status in READ_STATUSES


@dataclass
class ReaderActivity:
    """What one principal did in the logs read.

    Attributes
    ----------
    kind, name
        Who (:class:`Reader`).
    requesters
        Every requester ARN seen for it (sessions differ).
    requests
        Every request logged.
    refused
        Requests answered 403.
    objects_read
        Distinct object keys read (200 or 206).
    bytes_read
        Response bytes of those reads.
    first_read, last_read
        The first and last read's time.
    identifying_keys
        Keys read that hold identifying data (sorted on output).
    data_requests
        Successful data operations (reads, writes, listings), by operation.
    """

    kind: ReaderKind
    name: str
    requesters: set[str] = field(default_factory=set)
    requests: int = 0
    refused: int = 0
    objects_read: set[str] = field(default_factory=set)
    bytes_read: int = 0
    reads: int = 0
    first_read: dt.datetime | None = None
    last_read: dt.datetime | None = None
    identifying_keys: set[str] = field(default_factory=set)
    data_requests: dict[str, int] = field(default_factory=dict)

    @property
    def unexpected_reader(self) -> bool:
        """An unexpected principal whose data request succeeded."""
        return self.kind == "unexpected" and bool(self.data_requests)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, keys and requesters sorted."""
        return {
            "kind": self.kind,
            "name": self.name,
            "requesters": sorted(self.requesters),
            "requests": self.requests,
            "refused": self.refused,
            "reads": self.reads,
            "objects_read": len(self.objects_read),
            "bytes_read": self.bytes_read,
            "first_read": None if self.first_read is None else self.first_read.isoformat(),
            "last_read": None if self.last_read is None else self.last_read.isoformat(),
            "identifying_objects_read": sorted(self.identifying_keys),
            "data_requests": dict(sorted(self.data_requests.items())),
            "unexpected_reader": self.unexpected_reader,
        }


def summarize(
    records: Iterable[AccessLogRecord],
    principals: KnownPrincipals,
    *,
    identifying: Callable[[str], bool] | None = None,
) -> dict[tuple[ReaderKind, str], ReaderActivity]:
    """Each principal's activity in the records, keyed by ``(kind, name)``.

    Parameters
    ----------
    records
        Records of the data bucket's log, in any order.
    principals
        Who the vault expects.
    identifying
        Whether a key holds identifying data (``None``: not assessed).
    """
    activity: dict[tuple[ReaderKind, str], ReaderActivity] = {}
    for record in records:
        reader = classify(record, principals)
        entry = activity.setdefault(
            (reader.kind, reader.name), ReaderActivity(reader.kind, reader.name)
        )
        entry.requests += 1
        if record.requester is not None:
            entry.requesters.add(record.requester)
        if record.http_status == 403:
            entry.refused += 1
        if record.succeeded and is_data_operation(record.operation):
            operation = record.operation or ""
            entry.data_requests[operation] = entry.data_requests.get(operation, 0) + 1
        if not is_object_read(record) or record.key is None:
            continue
        entry.reads += 1
        entry.objects_read.add(record.key)
        entry.bytes_read += record.bytes_sent
        if entry.first_read is None or record.time < entry.first_read:
            entry.first_read = record.time
        if entry.last_read is None or record.time > entry.last_read:
            entry.last_read = record.time
        if identifying is not None and identifying(record.key):
            entry.identifying_keys.add(record.key)
    return activity


def unexpected_readers(activity: Mapping[tuple[ReaderKind, str], ReaderActivity]) -> list[str]:
    """The unexpected readers' names (requesters as logged), sorted."""
    return sorted(entry.name for entry in activity.values() if entry.unexpected_reader)
