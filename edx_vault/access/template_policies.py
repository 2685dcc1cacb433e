"""The IAM policies in the app's synthesized CloudFormation templates, ready to evaluate.

Templates hold intrinsics (``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::ImportValue``...) where
deploy-time values go. :class:`TemplateResolver` replaces them with values this module controls:
a bucket's or role's own name when the template sets it, else a placeholder built from the
logical id, and ARNs spelled the way AWS spells them (a role's ARN includes its path, which the
bucket policy matches). Anything it does not know is refused, never guessed.

:func:`load_vault_policies` then collects what :mod:`edx_vault.access.policy_evaluator` needs: the data
bucket's policy, the data key's policy, and each role's trust and identity policies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edx_vault.access.policy_statements import Statement, UnsupportedPolicyError, statements_of
from edx_vault.settings import stack_outputs


class TemplateResolver:
    """Resolves intrinsics across the stacks of one cloud assembly.

    Parameters
    ----------
    templates
        Each stack's template, by stack name.
    account, region
        The deployment's account and region.
    partition
        The AWS partition.
    """

    def __init__(
        self,
        templates: Mapping[str, Mapping[str, Any]],
        *,
        account: str,
        region: str,
        partition: str = "aws",
    ) -> None:
        self.templates = templates
        self.account = account
        self.region = region
        self.partition = partition
        self._exports: dict[str, tuple[str, Any]] = {}
        for stack, template in templates.items():
            for output in template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if export is not None:
                    self._exports[str(self.resolve(stack, export))] = (stack, output["Value"])

    def resolve(self, stack: str, value: Any) -> Any:
        """``value`` with every intrinsic replaced by a plain string.

        Raises
        ------
        UnsupportedPolicyError
            For an intrinsic or reference this resolver does not know.
        """
        if isinstance(value, list):
            return [self.resolve(stack, item) for item in value]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            [(name, argument)] = value.items()
            if name == "Ref":
                return self._ref(stack, str(argument))
            if name == "Fn::GetAtt":
                logical_id, attribute = (
                    argument if isinstance(argument, list) else str(argument).split(".", 1)
                )
                return self._get_att(stack, logical_id, attribute)
            if name == "Fn::Join":
                separator, parts = argument
                return str(separator).join(str(self.resolve(stack, p)) for p in parts)
            if name == "Fn::Select":
                index, items = argument
                return self.resolve(stack, items)[int(index)]
            if name == "Fn::Split":
                separator, text = argument
                return str(self.resolve(stack, text)).split(separator)
            if name == "Fn::ImportValue":
                export = str(self.resolve(stack, argument))
                if export not in self._exports:
                    raise UnsupportedPolicyError(f"no stack exports {export!r}")
                source_stack, exported = self._exports[export]
                return self.resolve(source_stack, exported)
            if name.startswith("Fn::") or name == "Condition":
                raise UnsupportedPolicyError(f"intrinsic {name} is not supported")
        return {key: self.resolve(stack, item) for key, item in value.items()}

    def resource(self, stack: str, logical_id: str) -> Mapping[str, Any]:
        """One resource of one stack's template."""
        try:
            resource: Mapping[str, Any] = self.templates[stack]["Resources"][logical_id]
        except KeyError:
            raise UnsupportedPolicyError(f"{stack} has no resource {logical_id}") from None
        return resource

    def _ref(self, stack: str, name: str) -> str:
        pseudo = {
            "AWS::Partition": self.partition,
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack,
        }
        if name in pseudo:
            return pseudo[name]
        parameters = self.templates[stack].get("Parameters", {})
        if name in parameters:
            return str(parameters[name].get("Default", name))
        resource = self.resource(stack, name)
        properties = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::S3::Bucket":
            return str(self.resolve(stack, properties.get("BucketName", name.lower())))
        if kind == "AWS::IAM::Role":
            return str(self.resolve(stack, properties.get("RoleName", name)))
        if kind == "AWS::IAM::ManagedPolicy":
            return self._arn("iam", "", f"policy{properties.get('Path', '/')}{name}")
        if kind == "AWS::KMS::Key":
            return self._key_id(name)
        # Resources whose Ref is their ARN.
        if kind == "AWS::StepFunctions::StateMachine":
            state_machine = self.resolve(stack, properties.get("StateMachineName", name))
            return self._arn("states", self.region, f"stateMachine:{state_machine}")
        if kind == "AWS::SNS::Topic":
            return self._arn("sns", self.region, str(properties.get("TopicName", name)))
        return name

    def _get_att(self, stack: str, logical_id: str, attribute: str) -> str:
        resource = self.resource(stack, logical_id)
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        if attribute != "Arn":
            return f"{logical_id}.{attribute}"
        if kind == "AWS::S3::Bucket":
            return f"arn:{self.partition}:s3:::{self._ref(stack, logical_id)}"
        if kind == "AWS::KMS::Key":
            return self._arn("kms", self.region, f"key/{self._key_id(logical_id)}")
        if kind == "AWS::IAM::Role":
            path = str(self.resolve(stack, properties.get("Path", "/")))
            return self._arn("iam", "", f"role{path}{self._ref(stack, logical_id)}")
        if kind == "AWS::Lambda::Function":
            name = self.resolve(stack, properties.get("FunctionName", logical_id))
            return self._arn("lambda", self.region, f"function:{name}")
        service = kind.split("::")[1].lower()
        return self._arn(service, self.region, logical_id)

    def _arn(self, service: str, region: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{region}:{self.account}:{resource}"

    @staticmethod
    def _key_id(logical_id: str) -> str:
        return f"placeholder-{logical_id.lower()}"


@dataclass(frozen=True)
class RolePolicies:
    """One IAM role's policies.

    Attributes
    ----------
    arn
        The role's ARN (with its path).
    trust
        Its trust policy's statements.
    identity
        The statements of every policy attached to it (inline and customer-managed; AWS
        managed policies are not in the templates and are left out).
    tags
        Its tags.
    """

    arn: str
    trust: tuple[Statement, ...]
    identity: tuple[Statement, ...]
    tags: Mapping[str, str]


@dataclass(frozen=True)
class VaultPolicies:
    """The policies that decide who reads the data bucket.

    Attributes
    ----------
    bucket_arn
        The data bucket's ARN.
    key_arn
        The data key's ARN.
    bucket_policy
        The data bucket's policy.
    key_policy
        The data key's policy.
    roles
        Every IAM role of every stack, by ARN.
    secrets_key_arn
        The secrets key's ARN (edX's credentials and the pipeline's OpenPGP key).
    secrets_key_policy
        The secrets key's policy.
    """

    bucket_arn: str
    key_arn: str
    bucket_policy: tuple[Statement, ...]
    key_policy: tuple[Statement, ...]
    roles: Mapping[str, RolePolicies]
    secrets_key_arn: str = ""
    secrets_key_policy: tuple[Statement, ...] = ()

    def role_tagged(self, tag: str, value: str) -> RolePolicies:
        """The one role carrying ``tag=value`` (researcher roles carry their grant's name)."""
        matches = [role for role in self.roles.values() if role.tags.get(tag) == value]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} roles are tagged {tag}={value}")
        return matches[0]


def load_vault_policies(
    templates: Mapping[str, Mapping[str, Any]],
    *,
    storage_stack: str,
    account: str,
    region: str,
    partition: str = "aws",
) -> VaultPolicies:
    """Collect the data bucket's, the data key's, the secrets key's and every role's policies,
    resolved.

    Parameters
    ----------
    templates
        Each stack's template, by stack name.
    storage_stack
        The storage stack's name; its outputs say which bucket and key are the data's.
    account, region, partition
        Where the app is deployed.
    """
    resolver = TemplateResolver(templates, account=account, region=region, partition=partition)
    storage = templates[storage_stack]
    outputs = storage.get("Outputs", {})
    bucket_id = outputs[stack_outputs.DATA_BUCKET]["Value"]["Ref"]
    key_id = outputs[stack_outputs.DATA_KEY_ARN]["Value"]["Fn::GetAtt"][0]
    bucket_arn = resolver.resolve(storage_stack, {"Fn::GetAtt": [bucket_id, "Arn"]})
    key_arn = resolver.resolve(storage_stack, {"Fn::GetAtt": [key_id, "Arn"]})

    bucket_policy: tuple[Statement, ...] = ()
    for resource in storage["Resources"].values():
        if resource["Type"] == "AWS::S3::BucketPolicy" and resource["Properties"]["Bucket"] == {
            "Ref": bucket_id
        }:
            document = resolver.resolve(storage_stack, resource["Properties"]["PolicyDocument"])
            bucket_policy = statements_of(document, source="bucket")
    key_document = resolver.resolve(
        storage_stack, storage["Resources"][key_id]["Properties"]["KeyPolicy"]
    )
    secrets_key_arn = ""
    secrets_key_policy: tuple[Statement, ...] = ()
    if stack_outputs.SECRETS_KEY_ARN in outputs:
        secrets_key_id = outputs[stack_outputs.SECRETS_KEY_ARN]["Value"]["Fn::GetAtt"][0]
        secrets_key_arn = resolver.resolve(storage_stack, {"Fn::GetAtt": [secrets_key_id, "Arn"]})
        secrets_key_policy = statements_of(
            resolver.resolve(
                storage_stack, storage["Resources"][secrets_key_id]["Properties"]["KeyPolicy"]
            ),
            source="secrets-key",
        )
    return VaultPolicies(
        bucket_arn=bucket_arn,
        key_arn=key_arn,
        bucket_policy=bucket_policy,
        key_policy=statements_of(key_document, source="key"),
        roles=_roles(resolver),
        secrets_key_arn=secrets_key_arn,
        secrets_key_policy=secrets_key_policy,
    )


def load_role_policies(
    templates: Mapping[str, Mapping[str, Any]],
    *,
    account: str,
    region: str,
    partition: str = "aws",
) -> dict[str, RolePolicies]:
    """Every IAM role of every stack, by ARN, with its policies resolved: for judging requests
    to resources other than the data bucket (Athena workgroups, the Glue catalog, the query
    results bucket), whose policies the caller resolves itself."""
    return _roles(TemplateResolver(templates, account=account, region=region, partition=partition))


def _roles(resolver: TemplateResolver) -> dict[str, RolePolicies]:
    attached: dict[tuple[str, str], list[Statement]] = {}
    for stack, template in resolver.templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            kind = resource["Type"]
            if kind not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                continue
            properties = resource["Properties"]
            name = "inline" if kind == "AWS::IAM::Policy" else "managed"
            document = resolver.resolve(stack, properties["PolicyDocument"])
            statements = statements_of(document, source=f"{name}:{logical_id}")
            for role in properties.get("Roles", []):
                attached.setdefault((stack, role["Ref"]), []).extend(statements)
    roles: dict[str, RolePolicies] = {}
    for stack, template in resolver.templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            properties = resource["Properties"]
            identity = list(attached.get((stack, logical_id), []))
            for inline in properties.get("Policies", []):
                document = resolver.resolve(stack, inline["PolicyDocument"])
                identity += statements_of(document, source=f"inline:{inline['PolicyName']}")
            arn = resolver.resolve(stack, {"Fn::GetAtt": [logical_id, "Arn"]})
            trust = resolver.resolve(stack, properties["AssumeRolePolicyDocument"])
            roles[arn] = RolePolicies(
                arn=arn,
                trust=statements_of(trust, source="trust"),
                identity=tuple(identity),
                tags={tag["Key"]: tag["Value"] for tag in properties.get("Tags", [])},
            )
    return roles


def read_assembly_templates(outdir: Path | str) -> dict[str, dict[str, Any]]:
    """Every stack template of a cloud assembly directory, by stack name."""
    directory = Path(outdir)
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    templates: dict[str, dict[str, Any]] = {}
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        properties = artifact["properties"]
        name = properties.get("stackName", artifact_id)
        template_file = directory / properties["templateFile"]
        templates[name] = json.loads(template_file.read_text(encoding="utf-8"))
    return templates
