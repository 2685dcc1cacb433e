"""Fill the embedded AWS with what edX would provide: a data package and ``credentials.csv.gpg``.

``edx-vault local seed`` plays edX's part for a deployed vault. It reads the pipeline's public
key (the key ``edx-vault keygen`` stored: its armored private key is imported into a throwaway
GnuPG home, without its passphrase, and only the public half exported), generates the synthetic
demo package encrypted to it (:func:`edx_vault.devtools.synthetic.spec.demo_package_spec`),
uploads it to the source buckets the configuration names, and writes a ``credentials.csv.gpg``
with the ``AKIA...`` keys of an IAM user that may list and read those buckets (edX's reader),
encrypted to the same key, for ``edx-vault import-credentials``.

The demo package's orgs (MITx, HarvardX, DelftX) are renamed to the configuration's orgs, so the
sync finds them: the courses of the demo orgs are dealt out to the configured orgs in turn,
keeping every awkward course name. Sites and categories the configuration leaves out are left
out of the package too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from edx_vault.devtools.embedded_aws.clients import local_client
from edx_vault.devtools.synthetic.ciphertext_faults import tamper_ciphertext
from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.devtools.synthetic.generate import generate_package
from edx_vault.devtools.synthetic.generated import GeneratedObject, GeneratedPackage
from edx_vault.devtools.synthetic.reports import credentials_csv
from edx_vault.devtools.synthetic.spec import PackageSpec, SyntheticOrg, demo_package_spec
from edx_vault.devtools.synthetic.upload import upload_package
from edx_vault.engine.openpgp_keys import private_home
from edx_vault.package.source_keys import SourceKind
from edx_vault.settings.config import VaultConfig
from edx_vault.settings.deployment import Deployment
from edx_vault.settings.secret_store import read_pipeline_keyring

PackageSize = Literal["small", "demo"]
PACKAGE_SIZES: Final[tuple[PackageSize, ...]] = ("small", "demo")
# The demo package's first day of events (a Saturday; its weekly export is the next day).
_DEMO_FIRST_DAY: Final = dt.date(2024, 1, 6)
_SMALL_TABLES: Final = ("auth_user", "student_courseenrollment", "courseware_studentmodule")


class SeedError(Exception):
    """The package could not be seeded; the message says what to do."""


@dataclass(frozen=True)
class SeedResult:
    """What was put where.

    Attributes
    ----------
    package
        The generated package (objects, and the units a sync should publish).
    buckets
        The source buckets written to.
    credentials_file
        The ``credentials.csv.gpg`` written.
    access_key_id
        The fake access key id in it.
    recipient
        The fingerprint of the pipeline key everything is encrypted to.
    corrupted
        The ``bucket/key`` of the tampered event log, with ``--corrupt``.
    """

    package: GeneratedPackage
    buckets: tuple[str, ...]
    credentials_file: Path
    access_key_id: str
    recipient: str
    corrupted: str | None


def _first_saturday_from(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=(5 - day.weekday()) % 7)


def seed_package_spec(
    config: VaultConfig, size: PackageSize = "demo", *, failed_export: bool = False, seed: int = 0
) -> PackageSpec:
    """The demo package, with its orgs renamed to the configuration's and its scope.

    Parameters
    ----------
    config
        The deployment configuration: orgs, sites, categories, source buckets, backfill date.
    size
        ``demo``: the full demo package (every awkward name, two days of events, one export).
        ``small``: one course per org, one day of events, three tables.
    failed_export
        Ship one of edX's failed-export markers (``.failed.gpg``) in the first weekly zip.
    seed
        Seeds the generated content.
    """
    demo = demo_package_spec(seed=seed)
    targets = [org.id for org in config.edx.orgs]
    courses: dict[str, list[Any]] = {target: [] for target in targets}
    for index, demo_org in enumerate(demo.orgs):
        target = targets[index % len(targets)]
        for course in demo_org.courses:
            if course.site in config.edx.sites:
                courses[target].append(dataclasses.replace(course, org=target))
    orgs = tuple(
        SyntheticOrg(
            org_id=target.lower(),
            courses=tuple(courses[target][:1] if size == "small" else courses[target]),
            # edX's exporter spells the zip's folder as the org is configured there.
            folder_spelling=target if target != target.lower() else None,
        )
        for target in targets
        if courses[target]
    )
    first_day = max(_DEMO_FIRST_DAY, _first_saturday_from(config.edx.backfill_from))
    event_days = (first_day,) if size == "small" else (first_day, first_day + dt.timedelta(1))
    overrides: dict[str, Any] = {
        "orgs": orgs,
        "event_dates": event_days if "events" in config.edx.categories else (),
        "export_dates": (first_day + dt.timedelta(1),)
        if "database" in config.edx.categories
        else (),
        "failed_member": failed_export,
        "email_opt_in": "email-opt-in" in config.edx.categories,
        "rdx": "rdx" in config.edx.categories,
        "event_bucket": config.edx.source_buckets.events,
        "database_bucket": config.edx.source_buckets.database,
    }
    if size == "small":
        overrides.update(
            tables=_SMALL_TABLES, ora_tables=(), rows_per_table=3, event_log_bytes=2048
        )
    return dataclasses.replace(demo, **overrides)


def pipeline_public_key(secretsmanager: Any, key_secret_arn: str) -> tuple[str, str]:
    """The primary pipeline key's armored public half and fingerprint, from the key secret.

    The armored private key is imported into a throwaway GnuPG home (deleted, agent first, on
    return) and only its public half exported.

    Raises
    ------
    SeedError
        When no key is stored yet, or gpg cannot read it.
    """
    keyring = read_pipeline_keyring(secretsmanager, key_secret_arn)
    if keyring is None:
        raise SeedError(
            "no pipeline key is stored yet: run `edx-vault keygen --email ... --out "
            "pipeline.asc` first (it is the key edX encrypts to)"
        )
    primary = keyring.primary_key
    # Importing a secret key needs no passphrase: it stays protected and is never used here.
    with private_home() as home:
        gpg = home.gpg()
        imported = gpg.import_keys(primary.armored_private_key)
        if primary.fingerprint not in (imported.fingerprints or []):
            raise SeedError(f"gpg could not read the stored pipeline key {primary.fingerprint}")
        public_key = str(gpg.export_keys(primary.fingerprint))
    if "PUBLIC KEY BLOCK" not in public_key:
        raise SeedError(f"gpg could not export the public half of {primary.fingerprint}")
    return public_key, primary.fingerprint


def edx_reader_keys(iam: Any, *, user_name: str, buckets: Sequence[str]) -> tuple[str, str]:
    """Long-lived keys of an IAM user that may list and read edX's source buckets.

    edX gives each data czar keys of an IAM user in edX's own account that can list and read
    the org's files (edX's data-package docs). Here that user lives in the embedded AWS, so
    the strict authorization judges the mirror's reads of edX's buckets by its policy, as edX's
    account would. Calling again makes another key for the same user.
    """
    existing = {user["UserName"] for user in iam.list_users()["Users"]}
    if user_name not in existing:
        iam.create_user(UserName=user_name, Path="/edx/")
    iam.put_user_policy(
        UserName=user_name,
        PolicyName="read-research-data-package",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": [f"arn:aws:s3:::{bucket}" for bucket in buckets],
                    },
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": [f"arn:aws:s3:::{bucket}/*" for bucket in buckets],
                    },
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


def _corrupt_one_event_log(package: GeneratedPackage) -> GeneratedObject:
    """Flip bits in the first event log's encrypted data, as damage in transit would."""
    for obj in package.objects:
        if obj.kind == SourceKind.EVENT_LOG:
            obj.path.write_bytes(tamper_ciphertext(obj.path.read_bytes()))
            return obj
    raise SeedError("the package has no event log to corrupt (is 'events' configured?)")


def seed(
    *,
    config: VaultConfig,
    endpoint: str,
    region: str,
    credentials_out: Path,
    size: PackageSize = "demo",
    corrupt: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> SeedResult:
    """Generate the package for the stored pipeline key, upload it, write the credentials file.

    Parameters
    ----------
    config
        The deployment configuration.
    endpoint, region
        The embedded AWS.
    credentials_out
        Where to write ``credentials.csv.gpg``.
    size
        ``demo`` or ``small`` (see :func:`seed_package_spec`).
    corrupt
        For the failing-run demo: tamper with one event log's ciphertext (as damage in transit
        would) and ship one of edX's failed-export markers; the sync reports both as failed
        and publishes everything else.
    progress
        Called with one line per step.

    Raises
    ------
    SeedError
        When the storage stack is not deployed or no pipeline key is stored.
    """
    deployment = Deployment.discover(
        local_client("cloudformation", endpoint=endpoint, region=region),
        config.deployment.stack_prefix,
    )
    secretsmanager = local_client("secretsmanager", endpoint=endpoint, region=region)
    public_key, fingerprint = pipeline_public_key(
        secretsmanager, deployment.storage.pipeline_key_secret_arn
    )
    progress(f"encrypting to the pipeline key {fingerprint}")
    spec = seed_package_spec(config, size, failed_export=corrupt)
    s3 = local_client("s3", endpoint=endpoint, region=region)
    with tempfile.TemporaryDirectory(prefix="edxv-package-") as scratch:
        package = generate_package(spec, [public_key], Path(scratch))
        corrupted = _corrupt_one_event_log(package) if corrupt else None
        upload_package(package, s3, create_buckets=True)
    progress(
        f"uploaded {len(package.objects)} objects ({len(package.units)} files inside) to "
        f"{', '.join(sorted({obj.bucket for obj in package.objects}))}"
    )
    user_name = f"edx-{config.edx.orgs[0].id.lower()}-data-czar"
    access_key_id, secret_access_key = edx_reader_keys(
        local_client("iam", endpoint=endpoint, region=region),
        user_name=user_name,
        buckets=sorted(set(config.edx.source_buckets.model_dump().values())),
    )
    plaintext = credentials_csv(
        access_key_id=access_key_id, secret_access_key=secret_access_key, user_name=user_name
    )
    credentials_out.parent.mkdir(parents=True, exist_ok=True)
    credentials_out.write_bytes(encrypt_to_recipients(plaintext, [public_key]))
    return SeedResult(
        package=package,
        buckets=tuple(sorted({obj.bucket for obj in package.objects})),
        credentials_file=credentials_out,
        access_key_id=access_key_id,
        recipient=fingerprint,
        corrupted=f"{corrupted.bucket}/{corrupted.key}" if corrupted else None,
    )
