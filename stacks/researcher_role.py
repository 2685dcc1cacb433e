"""One researcher's IAM role: trusted by their principal only, reading only their grant."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, Duration, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from edx_vault.access.grants import ResearcherGrant
from edx_vault.access.query_statements import QueryAccess, query_statements
from edx_vault.access.researcher_roles import (
    EXPIRES_TAG,
    GRANT_TAG,
    IDENTIFIABLE_TAG,
    MAX_SESSION_HOURS,
    SAML_AUDIENCE,
    PolicyChunk,
)
from edx_vault.settings.iam_paths import RESEARCHER_ROLE_PATH

# Statement ids, so `edx-vault grants check` and the tests can say which statement decided.
READ_SID = "ReadGrantedObjects"
LIST_SID = "ListGrantedFolders"
DECRYPT_SID = "DecryptGrantedObjectsThroughS3"
EXPIRED_SID = "GrantExpired"
EXPIRED_WARNING_ID = "edx-vault:grant-expired"
# Why the query policy's wildcards (AwsSolutions-IAM5) are accepted, for the acknowledgements.
QUERY_WILDCARDS_REASON = (
    "The research database's tables (table/{database}/*) are read-only definitions, and "
    "results/{researcher}/* is the grant's own prefix of the query results bucket; Athena reads "
    "the data itself with the role's own, pattern-limited S3 permissions."
)


class ResearcherRole(Construct):
    """The role a researcher assumes to read the data their approval covers.

    Every permission is conditioned on ``aws:CurrentTime`` before the grant's expiry, so access
    ends on time even if nobody redeploys. The role can read objects only (``s3:GetObject``),
    list only below its own folders, and decrypt only through S3 for this bucket. A grant that
    has already expired gets a role with one managed policy that denies everything.

    Attributes
    ----------
    role
        The IAM role, under :data:`edx_vault.settings.iam_paths.RESEARCHER_ROLE_PATH`.
    policies
        Its customer-managed policies (several when the grant is too long for one).
    query_policy
        With ``query``, the policy that lets it use its Athena workgroup, read the research
        catalog and keep results under its own prefix of the results bucket
        (:mod:`edx_vault.access.query_statements`); ``None`` without, or once expired.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        grant: ResearcherGrant,
        bucket_name: str,
        data_key: kms.IKey,
        query: QueryAccess | None = None,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        researcher = grant.config
        state = "expired" if grant.expired else f"until {grant.expires.isoformat()}"
        self.role = iam.Role(
            self,
            "Role",
            role_name=grant.role_name,
            path=RESEARCHER_ROLE_PATH,
            assumed_by=self._trusted_principal(grant),
            max_session_duration=Duration.hours(MAX_SESSION_HOURS),
            description=f"edx-vault research grant {researcher.name}: read-only, {state}",
        )
        for key, value in {
            GRANT_TAG: researcher.name,
            EXPIRES_TAG: grant.expires.isoformat(),
            IDENTIFIABLE_TAG: str(researcher.identifiable).lower(),
        }.items():
            Tags.of(self.role).add(key, value)

        self.policies: list[iam.ManagedPolicy] = []
        self.query_policy: iam.ManagedPolicy | None = None
        if grant.expired:
            self.policies.append(self._deny_everything(grant))
            return
        bucket_arn = f"arn:{stack.partition}:s3:::{bucket_name}"
        for index, chunk in enumerate(grant.policies):
            statements = self._read_statements(grant, chunk, bucket_arn)
            if index == 0:
                statements.append(self._decrypt_statement(grant, bucket_arn, data_key))
            self.policies.append(
                iam.ManagedPolicy(
                    self,
                    f"Read{index + 1}",
                    path=RESEARCHER_ROLE_PATH,
                    description=(
                        f"edx-vault research grant {researcher.name} "
                        f"({index + 1}/{len(grant.policies)})"
                    ),
                    statements=statements,
                    roles=[self.role],
                )
            )
        if query is not None:
            self.query_policy = self._query_policy(grant, query)
            self.policies.append(self.query_policy)

    def _query_policy(self, grant: ResearcherGrant, query: QueryAccess) -> iam.ManagedPolicy:
        # A policy of its own, so the read policies keep their whole size budget
        # (compile_grants leaves one of the role's managed policy slots for it).
        stack = Stack.of(self)
        statements = query_statements(
            query,
            researcher=grant.name,
            expiry_timestamp=grant.expiry_timestamp,
            partition=stack.partition,
            region=stack.region,
            account=stack.account,
        )
        return iam.ManagedPolicy(
            self,
            "Query",
            path=RESEARCHER_ROLE_PATH,
            description=f"edx-vault research grant {grant.name}: SQL in its own Athena workgroup",
            document=iam.PolicyDocument.from_json(
                {"Version": "2012-10-17", "Statement": statements}
            ),
            roles=[self.role],
        )

    @staticmethod
    def _not_after_expiry(grant: ResearcherGrant) -> dict[str, Any]:
        return {"DateLessThan": {"aws:CurrentTime": grant.expiry_timestamp}}

    def _trusted_principal(self, grant: ResearcherGrant) -> iam.IPrincipal:
        researcher = grant.config
        conditions: dict[str, Any] = self._not_after_expiry(grant)
        if grant.principal_kind == "saml":
            audience = {"SAML:aud": SAML_AUDIENCE}
            if researcher.subject is not None:
                audience["SAML:sub"] = researcher.subject
            provider = iam.SamlProvider.from_saml_provider_arn(
                self, "SamlProvider", researcher.principal
            )
            return iam.SamlPrincipal(provider, {**conditions, "StringEquals": audience})
        if grant.principal_kind == "oidc":
            assert researcher.subject is not None  # compile_grants requires it
            subject = {f"{grant.oidc_provider_path}:sub": researcher.subject}
            return iam.WebIdentityPrincipal(
                researcher.principal, {**conditions, "StringEquals": subject}
            )
        if researcher.external_id is not None:
            conditions["StringEquals"] = {"sts:ExternalId": researcher.external_id}
        if researcher.mfa:
            conditions["Bool"] = {"aws:MultiFactorAuthPresent": "true"}
        return iam.ArnPrincipal(researcher.principal).with_conditions(conditions)

    def _read_statements(
        self, grant: ResearcherGrant, chunk: PolicyChunk, bucket_arn: str
    ) -> list[iam.PolicyStatement]:
        statements: list[iam.PolicyStatement] = []
        if chunk.key_patterns:
            statements.append(
                iam.PolicyStatement(
                    sid=READ_SID,
                    actions=["s3:GetObject"],
                    resources=[f"{bucket_arn}/{pattern}" for pattern in chunk.key_patterns],
                    conditions=self._not_after_expiry(grant),
                )
            )
        if chunk.prefix_patterns:
            statements.append(
                iam.PolicyStatement(
                    sid=LIST_SID,
                    actions=["s3:ListBucket"],
                    resources=[bucket_arn],
                    conditions={
                        **self._not_after_expiry(grant),
                        "StringLike": {"s3:prefix": list(chunk.prefix_patterns)},
                    },
                )
            )
        return statements

    def _decrypt_statement(
        self, grant: ResearcherGrant, bucket_arn: str, data_key: kms.IKey
    ) -> iam.PolicyStatement:
        # With an S3 bucket key the encryption context S3 sends to KMS is the bucket's ARN,
        # not the object's, so the context pins decryption to this bucket; which objects may
        # be read is decided by s3:GetObject above.
        stack = Stack.of(self)
        return iam.PolicyStatement(
            sid=DECRYPT_SID,
            actions=["kms:Decrypt"],
            resources=[data_key.key_arn],
            conditions={
                **self._not_after_expiry(grant),
                "StringEquals": {
                    "kms:ViaService": f"s3.{stack.region}.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": bucket_arn,
                },
            },
        )

    def _deny_everything(self, grant: ResearcherGrant) -> iam.ManagedPolicy:
        message = (
            f"research grant {grant.name!r} expired on {grant.expires.isoformat()}: its role "
            f"{grant.role_name} can read nothing. Remove it from the configuration."
        )
        Annotations.of(self.role).add_warning_v2(EXPIRED_WARNING_ID, message)
        return iam.ManagedPolicy(
            self,
            "Expired",
            path=RESEARCHER_ROLE_PATH,
            description=f"edx-vault research grant {grant.name}: expired, denies everything",
            statements=[
                iam.PolicyStatement(
                    sid=EXPIRED_SID,
                    effect=iam.Effect.DENY,
                    actions=["*"],
                    resources=["*"],
                )
            ],
            roles=[self.role],
        )
