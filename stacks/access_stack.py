"""AccessStack: one IAM role per researcher grant in the configuration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, CfnWaitConditionHandle, Stack
from constructs import Construct

from edx_vault.access.grants import ResearcherGrant
from edx_vault.access.query_statements import QueryAccess
from edx_vault.access.researcher_roles import construct_name, role_output_name
from stacks.research_workgroups import ResearchWorkgroups
from stacks.researcher_role import ResearcherRole
from stacks.storage_stack import StorageStack

# The one resource of an Access stack without grants (see AccessStack).
NO_GRANTS_PLACEHOLDER = "NoResearcherGrants"


class AccessStack(Stack):
    """Researchers' roles and Athena workgroups. Grants are configuration: ``cdk deploy`` adds,
    changes and removes them.

    Kept apart from storage so that granting or revoking access never touches a resource that
    holds data. The data bucket's policy (storage stack) lets object requests through only from
    roles under the vault's IAM paths and the admin roles, so it needs no change when a grant
    does; it also keeps researcher roles out of ``raw/``, ``_work/`` and ``reports/`` whatever
    their own policies say.

    The stack exists even without grants: removing the last ``[[researchers]]`` entry and
    deploying must delete the last role, which only happens if the stack is still deployed.
    CloudFormation refuses a template without resources ("At least one Resources member must be
    defined"), so an empty stack holds one ``AWS::CloudFormation::WaitConditionHandle``, a
    resource with no properties that creates nothing, costs nothing and needs no permission.

    Attributes
    ----------
    roles
        Each researcher's role construct, by researcher name.
    workgroups
        Each grant's Athena workgroup (results under its own prefix, a bytes-scanned cutoff).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        grants: Sequence[ResearcherGrant],
        storage: StorageStack,
        stack_prefix: str,
        bytes_scanned_cutoff: int,
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, id_, **stack_props)
        # Declared before the key is referenced, as in the pipeline stack: the data key's
        # policy trusts the account rather than naming these roles, and the roles' own
        # policies name the key.
        self.add_stack_dependency(storage)
        self.roles: dict[str, ResearcherRole] = {}
        self.workgroups: ResearchWorkgroups | None = None
        results = storage.query_results
        query = QueryAccess(
            stack_prefix=stack_prefix,
            results_bucket_name=results.bucket_name,
            results_key_arn=results.key.key_arn,
            data_bucket_name=storage.data.bucket_name,
        )
        for grant in grants:
            role = ResearcherRole(
                self,
                f"Researcher{construct_name(grant.name)}",
                grant=grant,
                bucket_name=storage.data.bucket_name,
                data_key=storage.keys.data_key,
                query=query,
            )
            self.roles[grant.name] = role
            CfnOutput(
                self,
                role_output_name(grant.name),
                value=role.role.role_arn,
                description=f"Role for research grant {grant.name} (expires {grant.expires})",
            )
        if grants:
            self.workgroups = ResearchWorkgroups(
                self,
                "Workgroups",
                grants=grants,
                results_bucket_name=results.bucket_name,
                kms_key_arn=results.key.key_arn,
                bytes_scanned_cutoff=bytes_scanned_cutoff,
                stack_prefix=stack_prefix,
            )
        else:
            CfnWaitConditionHandle(self, NO_GRANTS_PLACEHOLDER)
