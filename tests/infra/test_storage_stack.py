"""StorageStack's security invariants, each proven on the real stack and on a careless one."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks
from constructs import IConstruct

from edx_vault.access.researcher_roles import role_name_for
from edx_vault.package import bucket_layout, grant_patterns
from edx_vault.settings import stack_outputs
from edx_vault.settings.config import load_config
from edx_vault.settings.resource_names import PIPELINE_ROLE_STEPS, pipeline_role_name
from stacks.storage_stack import StorageStack
from stacks.vault_app import build_vault_app, cdk_json_context
from tests.infra import storage_invariants as check

# From config/example.toml: the account, the region, the admin role and the researchers.
ROLES = "arn:aws:iam::123456789012:role"
PIPELINE_ROLES = f"{ROLES}/edx-vault/pipeline/*"
RESEARCHER_ROLES = f"{ROLES}/edx-vault/researcher/*"
ADMIN = f"{ROLES}/DataCzar"
EXAMPLE = load_config(Path(__file__).resolve().parents[2] / "config" / "example.toml")
EXACT_PIPELINE_ROLES = {
    f"{ROLES}/edx-vault/pipeline/{pipeline_role_name('EdxVault', step)}"
    for step in PIPELINE_ROLE_STEPS
}
EXACT_RESEARCHER_ROLES = {
    f"{ROLES}/edx-vault/researcher/{role_name_for('EdxVault', researcher.name)}"
    for researcher in EXAMPLE.researchers
}
VAULT_PRINCIPALS = {*EXACT_PIPELINE_ROLES, *EXACT_RESEARCHER_ROLES, ADMIN}
# CloudFormation's execution role of the default bootstrap (qualifier hnb659fds).
DEPLOYER = f"{ROLES}/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1"
MANAGERS = {ADMIN, DEPLOYER}
ROOT = "arn:aws:iam::123456789012:root"
KEY_MANAGERS = {*MANAGERS, ROOT}


def logical_id(construct: IConstruct) -> str:
    resource = construct.node.default_child
    assert isinstance(resource, cdk.CfnElement)
    return cdk.Stack.of(construct).get_logical_id(resource)


@dataclass(frozen=True)
class Ids:
    """Logical ids of the resources the invariants are about."""

    data_bucket: str
    logs_bucket: str
    results_bucket: str
    data_key: str
    secrets_key: str
    secrets: tuple[str, ...]
    table: str


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, Ids]:
    built = build_vault_app(
        outdir=str(tmp_path_factory.mktemp("cdk.out")), nag=False, bundle_assets=False
    )
    storage = built.storage
    ids = Ids(
        data_bucket=logical_id(storage.data.bucket),
        logs_bucket=logical_id(storage.data.access_logs_bucket),
        results_bucket=logical_id(storage.query_results.bucket),
        data_key=logical_id(storage.keys.data_key),
        secrets_key=logical_id(storage.keys.secrets_key),
        secrets=tuple(
            logical_id(secret)
            for secret in (
                storage.secrets.edx_credentials,
                storage.secrets.pipeline_key,
                storage.secrets.pipeline_passphrase,
                storage.secrets.pseudonym_key,
            )
        ),
        table=logical_id(storage.manifest.table),
    )
    return Template.from_stack(storage), ids


@pytest.fixture(scope="module")
def careless() -> tuple[Template, Ids]:
    """The same kinds of resources with CDK's defaults: what someone would write in a hurry."""
    stack = cdk.Stack(cdk.App(), "Careless")
    key = kms.Key(stack, "Key", removal_policy=cdk.RemovalPolicy.DESTROY)
    logs = s3.Bucket(stack, "Logs")
    bucket = s3.Bucket(
        stack,
        "Data",
        encryption=s3.BucketEncryption.KMS,
        encryption_key=kms.Key(stack, "OtherKey"),
        block_public_access=s3.BlockPublicAccess(block_public_acls=True),
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    bucket.add_to_resource_policy(
        cdk.aws_iam.PolicyStatement(
            actions=["s3:GetObject"],
            principals=[cdk.aws_iam.AccountRootPrincipal()],
            resources=[bucket.arn_for_objects("*")],
        )
    )
    # Locking out everyone but the pipeline, bucket configuration included: CloudFormation
    # could no longer update the bucket policy.
    bucket.add_to_resource_policy(
        cdk.aws_iam.PolicyStatement(
            effect=cdk.aws_iam.Effect.DENY,
            actions=["s3:*"],
            principals=[cdk.aws_iam.AnyPrincipal()],
            resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
            conditions={"ArnNotLike": {"aws:PrincipalArn": PIPELINE_ROLES}},
        )
    )
    secret = secretsmanager.Secret(stack, "Secret")
    table = dynamodb.Table(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    ids = Ids(
        data_bucket=logical_id(bucket),
        logs_bucket=logical_id(logs),
        results_bucket=logical_id(logs),
        data_key=logical_id(key),
        secrets_key=logical_id(key),
        secrets=(logical_id(secret),),
        table=logical_id(table),
    )
    return Template.from_stack(stack), ids


Invariant = Callable[[Template, Ids], None]

INVARIANTS: dict[str, Invariant] = {
    "data bucket is SSE-KMS with the data key and a bucket key": lambda t, i: (
        check.bucket_encrypted_with_key(t, i.data_bucket, i.data_key)
    ),
    "data bucket blocks public access": lambda t, i: check.bucket_blocks_public_access(
        t, i.data_bucket
    ),
    "logs bucket blocks public access": lambda t, i: check.bucket_blocks_public_access(
        t, i.logs_bucket
    ),
    "data bucket requires TLS 1.2": lambda t, i: check.bucket_requires_tls(t, i.data_bucket),
    "logs bucket requires TLS 1.2": lambda t, i: check.bucket_requires_tls(t, i.logs_bucket),
    "data bucket is versioned": lambda t, i: check.bucket_versioned(t, i.data_bucket),
    "data bucket denies puts with another encryption or key": lambda t, i: (
        check.bucket_denies_puts_without_key(t, i.data_bucket, i.data_key)
    ),
    "data bucket expires noncurrent versions": lambda t, i: (
        check.bucket_expires_noncurrent_versions(t, i.data_bucket)
    ),
    "data bucket logs to a separate bucket": lambda t, i: check.bucket_logs_to(
        t, i.data_bucket, i.logs_bucket
    ),
    "data key rotates": lambda t, i: check.key_rotates(t, i.data_key),
    "secrets key rotates": lambda t, i: check.key_rotates(t, i.secrets_key),
    "data bucket survives stack deletion": lambda t, i: check.resource_retained(
        t, i.data_bucket, "AWS::S3::Bucket"
    ),
    "data key survives stack deletion": lambda t, i: check.resource_retained(
        t, i.data_key, "AWS::KMS::Key"
    ),
    "manifest survives stack deletion": lambda t, i: check.resource_retained(
        t, i.table, "AWS::DynamoDB::Table"
    ),
    "secrets are empty and under the secrets key": lambda t, i: (
        [check.secret_empty_and_encrypted_with(t, secret, i.secrets_key) for secret in i.secrets]
        and None
    ),
    "manifest is KMS-encrypted, recoverable, deletion-protected": lambda t, i: (
        check.table_encrypted_and_recoverable(t, i.table, i.data_key)
    ),
    "data bucket objects only for vault roles and admins": lambda t, i: (
        check.bucket_objects_only_for(t, i.data_bucket, VAULT_PRINCIPALS)
    ),
    "data bucket configuration only by admins and CloudFormation": lambda t, i: (
        check.bucket_configuration_only_for(t, i.data_bucket, MANAGERS)
    ),
    "logs bucket configuration only by admins and CloudFormation": lambda t, i: (
        check.bucket_configuration_only_for(t, i.logs_bucket, MANAGERS)
    ),
    "results bucket configuration only by admins and CloudFormation": lambda t, i: (
        check.bucket_configuration_only_for(t, i.results_bucket, MANAGERS)
    ),
    "data key administered only by admins, CloudFormation and root": lambda t, i: (
        check.key_administered_only_by(t, i.data_key, KEY_MANAGERS)
    ),
    "secrets key administered only by admins, CloudFormation and root": lambda t, i: (
        check.key_administered_only_by(t, i.secrets_key, KEY_MANAGERS)
    ),
    "data key used only by vault roles, through S3 and DynamoDB": lambda t, i: (
        check.key_used_only_by(
            t,
            i.data_key,
            {*VAULT_PRINCIPALS, ROOT},
            {"s3.us-east-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com"},
        )
    ),
    "secrets key used only by pipeline and admins, through Secrets Manager": lambda t, i: (
        check.key_used_only_by(
            t,
            i.secrets_key,
            {*EXACT_PIPELINE_ROLES, ADMIN, ROOT},
            {"secretsmanager.us-east-1.amazonaws.com"},
        )
    ),
    "researchers are kept out of raw/, _work/ and reports/": lambda t, i: (
        check.bucket_keeps_researchers_out_of(
            t, i.data_bucket, RESEARCHER_ROLES, bucket_layout.PIPELINE_ONLY_PREFIXES
        )
    ),
    "researchers may only read and list": lambda t, i: check.bucket_lets_researchers_only_read(
        t, i.data_bucket, RESEARCHER_ROLES
    ),
    "researchers list only under published prefixes": lambda t, i: (
        check.bucket_lists_for_researchers_only_published(
            t,
            i.data_bucket,
            RESEARCHER_ROLES,
            grant_patterns.RESEARCHER_PREFIXES,
        )
    ),
    "researchers may only decrypt, and only through S3": lambda t, i: (
        check.key_lets_researchers_only_decrypt_through_s3(
            t, i.data_key, RESEARCHER_ROLES, "us-east-1"
        )
    ),
}


@pytest.mark.parametrize("invariant", INVARIANTS)
def test_storage_stack_keeps_invariant(vault: tuple[Template, Ids], invariant: str) -> None:
    # Given the synthesized storage stack / When the invariant is checked / Then it holds
    template, ids = vault
    INVARIANTS[invariant](template, ids)


@pytest.mark.parametrize("invariant", INVARIANTS)
def test_careless_stack_breaks_invariant(careless: tuple[Template, Ids], invariant: str) -> None:
    # Given resources built with CDK's defaults / Then the same check catches the regression
    template, ids = careless
    with pytest.raises(AssertionError):
        INVARIANTS[invariant](template, ids)


def test_data_and_secrets_use_separate_keys(vault: tuple[Template, Ids]) -> None:
    _, ids = vault
    assert ids.data_key != ids.secrets_key


def test_outputs_name_every_resource_the_cli_reads(vault: tuple[Template, Ids]) -> None:
    # Given the stack's outputs / Then each name the CLI looks up is exported exactly once
    template, ids = vault
    outputs = template.find_outputs("*")
    assert set(stack_outputs.STORAGE_OUTPUTS) <= set(outputs)
    assert outputs[stack_outputs.DATA_BUCKET]["Value"] == {"Ref": ids.data_bucket}
    assert outputs[stack_outputs.DATA_KEY_ARN]["Value"] == {"Fn::GetAtt": [ids.data_key, "Arn"]}
    assert outputs[stack_outputs.MANIFEST_TABLE]["Value"] == {"Ref": ids.table}


def test_pseudonym_key_is_a_fourth_empty_secret_the_cli_finds(
    vault: tuple[Template, Ids],
) -> None:
    # Given the stack's secrets and outputs
    template, ids = vault
    outputs = template.find_outputs("*")
    secrets = template.find_resources("AWS::SecretsManager::Secret")
    # Then the pseudonym key is its own secret (the fourth), named under the vault's prefix...
    assert len(secrets) == len(set(ids.secrets)) == 4
    pseudonym_key = ids.secrets[3]
    assert secrets[pseudonym_key]["Properties"]["Name"] == "edxvault/pseudonym-key"
    # ...empty as deployed (the "secrets are empty" invariant covers it: CloudFormation neither
    # generates nor holds a value), and exported by ARN under the name the CLI looks up
    assert outputs[stack_outputs.PSEUDONYM_KEY_SECRET_ARN]["Value"] == {"Ref": pseudonym_key}
    assert "GenerateSecretString" not in secrets[pseudonym_key]["Properties"]


def test_no_secret_value_reaches_the_template(vault: tuple[Template, Ids]) -> None:
    # Given the whole template as text / Then nothing looks like a credential or a key block
    template, _ = vault
    text = json.dumps(template.to_json())
    for marker in ("SecretString", "BEGIN PGP", "AKIA", "GenerateSecretString"):
        assert marker not in text


def test_manifest_key_schema_matches_the_shared_constants(vault: tuple[Template, Ids]) -> None:
    template, _ = vault
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )


def test_stack_is_placed_in_the_configured_account_and_region(
    vault: tuple[Template, Ids],
) -> None:
    template, _ = vault
    assert "Resources" in template.to_json()
    built = build_vault_app(outdir=None, nag=False, bundle_assets=False)
    assert built.storage.account == "123456789012"
    assert built.storage.region == "us-east-1"
    assert built.storage.stack_name == "EdxVault-Storage"
    assert built.storage.termination_protection is True


def _validation_report(outdir: Path) -> dict[str, object]:
    report: dict[str, object] = json.loads((outdir / "validation-report.json").read_text())
    return report


def test_cdk_nag_finds_nothing_unacknowledged(tmp_path: Path) -> None:
    # Given the app with AwsSolutions and NIST 800-53 rev 5 / When it synthesizes
    built = build_vault_app(outdir=str(tmp_path), nag=True, bundle_assets=False)
    built.app.synth()
    # Then no pack reports anything (a failing pack would also have raised)
    assert _validation_report(tmp_path)["pluginReports"] == []


def test_cdk_nag_is_on_in_the_app_and_catches_a_careless_bucket(tmp_path: Path) -> None:
    # Given the same app plus one bucket built with CDK's defaults
    built = build_vault_app(outdir=str(tmp_path), nag=True, bundle_assets=False)
    s3.Bucket(built.storage, "Careless")
    # When it synthesizes / Then the synth fails and names the bucket's findings
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        built.app.synth()
    report = json.dumps(_validation_report(tmp_path))
    assert "AwsSolutions-S1" in report
    assert "AwsSolutions-S10" in report
    assert "EdxVault-Storage/Careless/Resource" in report


def test_every_acknowledgement_is_needed(tmp_path: Path) -> None:
    # Given the storage stack without our acknowledgements
    app = cdk.App(context=cdk_json_context(), outdir=str(tmp_path))
    StorageStack(
        app,
        "Bare",
        resource_prefix="bare",
        stack_prefix="Bare",
        orgs=["mitx"],
        first_date=dt.date(2024, 1, 1),
        results_expire_days=30,
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app))
    # When it synthesizes / Then exactly the acknowledged rules fire: none is stale
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = _validation_report(tmp_path)
    fired = {
        violation["ruleName"]
        for plugin in report["pluginReports"]  # type: ignore[attr-defined]
        for violation in plugin["violations"]
    }
    assert fired == {
        "AwsSolutions-SMG4",
        "NIST.800.53.R5-S3DefaultEncryptionKMS",
        "NIST.800.53.R5-S3BucketReplicationEnabled",
        "NIST.800.53.R5-SecretsManagerRotationEnabled",
        "NIST.800.53.R5-DynamoDBInBackupPlan",
        "NIST.800.53.R5-S3BucketVersioningEnabled",  # the query results bucket
    }


def test_a_killed_splits_spills_expire_and_nothing_else_published_does(
    vault: tuple[Template, Ids],
) -> None:
    # Given the data bucket's lifecycle rules
    template, ids = vault
    bucket = template.to_json()["Resources"][ids.data_bucket]["Properties"]
    rules = bucket["LifecycleConfiguration"]["Rules"]
    expiring = [rule for rule in rules if "ExpirationInDays" in rule]
    # Then the only current objects that expire are a split's spilled buffers, under their own
    # prefix of _work/ (a split deletes them itself; these are what a killed one leaves)
    assert [(rule["Prefix"], rule["ExpirationInDays"]) for rule in expiring] == [
        (bucket_layout.COURSE_SPLIT_SPILL_PREFIX, 2)
    ]
    assert bucket_layout.COURSE_SPLIT_SPILL_PREFIX.startswith(bucket_layout.WORK_PREFIX)
    # And incomplete multipart uploads (a split's course files, too) are aborted bucket-wide
    assert any("AbortIncompleteMultipartUpload" in rule and "Prefix" not in rule for rule in rules)
