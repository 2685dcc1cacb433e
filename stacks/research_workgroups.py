"""One Athena workgroup per researcher grant, its configuration enforced."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack, Tags
from aws_cdk import aws_athena as athena
from constructs import Construct

from edx_vault.access.grants import ResearcherGrant
from edx_vault.access.query_statements import results_prefix, workgroup_arn
from edx_vault.access.researcher_roles import GRANT_TAG, construct_name
from edx_vault.settings.resource_names import workgroup_name


class ResearchWorkgroups(Construct):
    """Each grant's Athena workgroup: where its queries run, what they may scan, where results go.

    ``EnforceWorkGroupConfiguration`` makes the workgroup's settings override the client's
    ("Override client-side settings", Athena User Guide): a researcher cannot send results
    elsewhere, unencrypted, or lift the per-query cutoff. Results go to
    ``s3://{results bucket}/results/{researcher}/``, SSE-KMS under the results key, and the
    bucket must belong to this account (``ExpectedBucketOwner``), so a bucket of that name in
    another account is never written to. A query that scans more than
    ``bytes_scanned_cutoff`` bytes is cancelled.

    An expired grant's workgroup stays, ``DISABLED``: a disabled workgroup runs no query
    ("Enabling and disabling workgroups", Athena User Guide) even for an admin, and keeping it
    keeps its query history for an audit of what was run before the expiry, as the expired
    grant's role stays (denying everything) rather than vanishing.

    Attributes
    ----------
    workgroups
        Each grant's workgroup, by researcher name.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        grants: Sequence[ResearcherGrant],
        results_bucket_name: str,
        kms_key_arn: str,
        bytes_scanned_cutoff: int,
        stack_prefix: str,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.workgroups: dict[str, athena.CfnWorkGroup] = {}
        for grant in grants:
            name = workgroup_name(stack_prefix, grant.name)
            state = "expired" if grant.expired else f"until {grant.expires.isoformat()}"
            workgroup = athena.CfnWorkGroup(
                self,
                construct_name(grant.name),
                name=name,
                description=f"edx-vault research grant {grant.name}: SQL, {state}",
                state="DISABLED" if grant.expired else "ENABLED",
                # Revoking a grant deletes its workgroup even when it holds saved queries;
                # without this, CloudFormation's delete fails on a non-empty workgroup.
                recursive_delete_option=True,
                work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                    enforce_work_group_configuration=True,
                    bytes_scanned_cutoff_per_query=bytes_scanned_cutoff,
                    publish_cloud_watch_metrics_enabled=True,
                    requester_pays_enabled=False,
                    engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                        selected_engine_version="AUTO"
                    ),
                    result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                        output_location=(
                            f"s3://{results_bucket_name}/{results_prefix(grant.name)}"
                        ),
                        expected_bucket_owner=stack.account,
                        encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                            encryption_option="SSE_KMS", kms_key=kms_key_arn
                        ),
                    ),
                ),
            )
            Tags.of(workgroup).add(GRANT_TAG, grant.name)
            self.workgroups[grant.name] = workgroup

    def arn(self, researcher: str) -> str:
        """A researcher's workgroup's ARN."""
        stack = Stack.of(self)
        name = self.workgroups[researcher].name
        return workgroup_arn(stack.partition, stack.region, stack.account, name)
