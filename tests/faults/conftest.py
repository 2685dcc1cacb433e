"""One embedded AWS for the fault matrix and the crashes, and what each case needs from it.

The vault is deployed once (the example configuration), the pipeline key made, edX's reader
created and its credentials imported. Each case then plays edX with a tiny package of its own
(one event log and one weekly zip, dated a Sunday no other case uses), arms its faults, runs
``edx-vault sync --wait`` (the real state machine, the real handlers), clears the faults, and
checks what the run left: every file of the case published exactly once with the right bytes
under the data key, no partial object, no open multipart upload, no manifest row left
``in_progress``, and a verdict that does not call a run with unpublished files a success.

The server's functions make **one attempt per AWS call** (``AWS_MAX_ATTEMPTS=1`` in the
server's environment, which the in-process Lambda runtime passes on to the handlers): with
botocore's own retries on, a fault of one or two calls would be absorbed inside the SDK and
never reach the product's code, and a persistent one would cost each call several seconds of
SDK back-off. So every injected fault is the product's to heal (Step Functions' Retry, the
manifest's claims, the next run), and the matrix stays fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import io
import itertools
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import boto3
import pytest

from edx_vault.cli import main
from edx_vault.devtools.embedded_aws.faults.control import fired, set_faults
from edx_vault.devtools.embedded_aws.in_process_lambda.control import recycle_sandboxes
from edx_vault.devtools.embedded_aws.seed import edx_reader_keys, seed_package_spec
from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.devtools.synthetic.generate import generate_package
from edx_vault.devtools.synthetic.generated import GeneratedObject, GeneratedPackage, GeneratedUnit
from edx_vault.devtools.synthetic.reports import credentials_csv
from edx_vault.devtools.synthetic.upload import upload_package
from edx_vault.engine.decryption import parse_source
from edx_vault.package.bucket_layout import DEIDENTIFIED_PREFIX, EVENTS_BY_COURSE_PREFIX
from edx_vault.package.output_keys import output_key, raw_key
from edx_vault.package.source_keys import event_log_key
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import Status
from edx_vault.pipeline.new_data import NEW_DATA_STATE_KEY
from edx_vault.settings import stack_outputs
from edx_vault.settings.config import VaultConfig, load_config
from tests.faults.split_checks import (
    course_file_leftovers,
    event_logs,
    is_course_file_of,
    split_problems,
)
from tests.local.conftest import EXAMPLE_CONFIG, RunningAws, start, stop

STORAGE: Final = stack_outputs.stack_name("EdxVault", stack_outputs.STORAGE_STACK_SUFFIX)
PIPELINE: Final = stack_outputs.stack_name("EdxVault", stack_outputs.PIPELINE_STACK_SUFFIX)
# What the server's process (and so every function it runs) gets in its environment.
SERVER_ENVIRONMENT: Final = {"AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "1"}
# Case n's files are dated this Sunday plus n weeks: after backfill_from, before today.
FIRST_CASE_SUNDAY: Final = dt.date(2024, 3, 3)
# The weekly zip's tables (with the forums, course structure and course export: 4 members).
CASE_TABLES: Final = ("auth_user",)
# An event log big enough for the mirror's multipart copy (over 16 MiB of ciphertext: 2 parts)
# and the publisher's multipart upload (over 8 MiB of plaintext: 3 parts). Its gzip stores
# without compressing (level 0): the split by course parses what the gzip holds, and at level
# 1 these 16 MiB would hold about 100 MiB of events, seconds of parsing in every large case.
LARGE_EVENT_LOG_BYTES: Final = 16 * 1024 * 1024 + 512 * 1024
# Prefixes of the pipeline's own files: checked by the report, not published data.
SCRATCH_PREFIXES: Final = ("_work/", "reports/")
ARM_POLL_SECONDS: Final = 0.005


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class CasePackage:
    """What one case put in edX's buckets, and what the vault must make of it."""

    objects: tuple[GeneratedObject, ...]
    units: tuple[GeneratedUnit, ...]
    ciphertext_sha256: Mapping[str, str]  # raw key -> sha256 of edX's object

    @property
    def published_units(self) -> tuple[GeneratedUnit, ...]:
        return tuple(unit for unit in self.units if unit.output_key is not None)


@dataclass
class SyncOutcome:
    """How one ``sync --wait`` ended, and what the faults did meanwhile."""

    exit_code: int
    document: dict[str, Any] | None  # `sync --json`'s output
    fired: list[dict[str, Any]]
    armed: bool = True

    @property
    def report(self) -> dict[str, Any] | None:
        report = (self.document or {}).get("report")
        return report if isinstance(report, dict) else None

    @property
    def execution_status(self) -> str | None:
        return (self.document or {}).get("status")

    def describe(self) -> str:
        """One paragraph for an assertion message: the verdict and the report's failures."""
        document = self.document or {}
        if "output" in document:
            return f"exit {self.exit_code}, not JSON: {document['output'][:500]!r}"
        lines = [
            f"exit {self.exit_code}, execution {document.get('name')} {self.execution_status}"
            f" {document.get('error') or ''} {(document.get('cause') or '')[:300]}".rstrip()
        ]
        report = self.report
        if report is None:
            lines.append("  no report")
        else:
            lines.append(
                f"  report {report['status']}: planned {report['planned']}, files "
                f"{report['files']}, skipped {report['skipped']}"
            )
            lines.extend(
                f"  failure {f['stage']} {f['code']}: {f['source_key']} {f.get('member') or ''}"
                f" ({f['reason'][:200]})"
                for f in report["failures"]
            )
        lines.extend(
            f"  fault {rule['operation']} {rule['resource']}: fired {rule['fired']}"
            for rule in self.fired
        )
        return "\n".join(lines)


@dataclass
class FaultVault:
    """The shared embedded AWS with the vault deployed, keyed and given edX's credentials."""

    aws: RunningAws
    work: Path
    config: VaultConfig
    public_key: str
    _days: Iterator[int] = field(default_factory=itertools.count)
    _expected: dict[str, str] = field(default_factory=dict)  # key -> sha256 of its bytes
    _verified_versions: set[str] = field(default_factory=set)
    _large: tuple[GeneratedPackage, dt.date] | None = None
    _case: list[CasePackage] = field(default_factory=list)
    _last_end: float = 0.0

    # ----------------------------------------------------------------- clients and names

    @functools.cached_property
    def s3(self) -> Any:
        """S3 as the CLI's admin role (the data bucket refuses anyone else)."""
        return self.aws.client("s3")

    @functools.cached_property
    def edx_s3(self) -> Any:
        """S3 as the account's root user (edX's buckets)."""
        return self.aws.root_client("s3")

    @functools.cached_property
    def sfn(self) -> Any:
        return self.aws.client("stepfunctions")

    @functools.cached_property
    def manifest(self) -> Manifest:
        resource = boto3.resource(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name=self.aws.state.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        return Manifest(resource.Table(self.table_name))

    @property
    def endpoint(self) -> str:
        return self.aws.state.endpoint

    @property
    def log_file(self) -> Path:
        return self.aws.state_file.parent / "local.log"

    @property
    def bucket(self) -> str:
        return self.aws.output(STORAGE, stack_outputs.DATA_BUCKET)

    @property
    def data_key_arn(self) -> str:
        return self.aws.output(STORAGE, stack_outputs.DATA_KEY_ARN)

    @property
    def table_name(self) -> str:
        return self.aws.output(STORAGE, stack_outputs.MANIFEST_TABLE)

    @property
    def edx_credentials_secret_arn(self) -> str:
        return self.aws.output(STORAGE, stack_outputs.EDX_CREDENTIALS_SECRET_ARN)

    @property
    def pipeline_key_secret_arn(self) -> str:
        return self.aws.output(STORAGE, stack_outputs.PIPELINE_KEY_SECRET_ARN)

    @property
    def topic_arn(self) -> str:
        return self.aws.output(PIPELINE, stack_outputs.ALERTS_TOPIC_ARN)

    @property
    def state_machine_arn(self) -> str:
        return self.aws.output(PIPELINE, stack_outputs.STATE_MACHINE_ARN)

    def rule_names(self) -> dict[str, str]:
        """The names a case's fault rules use in their globs."""
        return {
            "bucket": self.bucket,
            "table": self.table_name,
            "edx_secret": self.edx_credentials_secret_arn,
            "key_secret": self.pipeline_key_secret_arn,
            "topic": self.topic_arn,
        }

    # ----------------------------------------------------------------- playing edX

    def _next_day(self) -> dt.date:
        return FIRST_CASE_SUNDAY + dt.timedelta(weeks=next(self._days))

    def _remember(self, package: CasePackage) -> None:
        self._expected.update(package.ciphertext_sha256)
        for unit in package.published_units:
            assert unit.output_key is not None
            self._expected[unit.output_key] = unit.plaintext_sha256

    def new_package(self) -> CasePackage:
        """One event log and one weekly zip of 4 members, dated a Sunday of this case's own."""
        day = self._next_day()
        base = seed_package_spec(self.config, "small")
        spec = dataclasses.replace(
            base,
            orgs=base.orgs[:1],
            event_dates=(day,),
            export_dates=(day,),
            failed_member=False,
            email_opt_in=False,
            tables=CASE_TABLES,
            seed=day.toordinal(),
        )
        generated = generate_package(spec, [self.public_key], self.work / f"edx-{day}")
        return self._upload(generated)

    def new_large_event_log(self) -> CasePackage:
        """One event log over the multipart thresholds, dated a Sunday of this case's own.

        Generated once; each case uploads the same ciphertext under its own day's key (the
        pipeline takes the date from the key), so the plaintext digest is known.
        """
        day = self._next_day()
        if self._large is None:
            base = seed_package_spec(self.config, "small")
            spec = dataclasses.replace(
                base,
                orgs=base.orgs[:1],
                event_dates=(day,),
                export_dates=(),
                failed_member=False,
                email_opt_in=False,
                event_log_bytes=LARGE_EVENT_LOG_BYTES,
                event_gzip_level=0,
                openpgp_compression=False,
                seed=day.toordinal(),
            )
            generated = generate_package(spec, [self.public_key], self.work / "edx-large")
            self._large = (generated, day)
            return self._upload(generated)
        generated, first_day = self._large
        (obj,), (unit,) = generated.objects, generated.units
        org, site = self.config.edx.orgs[0].id.lower(), unit.site or "edx"
        assert obj.key == event_log_key(org, site, first_day)
        key = event_log_key(org, site, day)
        output = output_key(parse_source(obj.bucket, key))
        return self._upload(
            dataclasses.replace(
                generated,
                objects=(dataclasses.replace(obj, key=key),),
                units=(dataclasses.replace(unit, source_key=key, output_key=output),),
            )
        )

    def _upload(self, generated: GeneratedPackage) -> CasePackage:
        upload_package(generated, self.edx_s3)
        package = CasePackage(
            objects=generated.objects,
            units=generated.units,
            ciphertext_sha256={
                raw_key(parse_source(obj.bucket, obj.key)): _sha256(obj.path.read_bytes())
                for obj in generated.objects
            },
        )
        self._remember(package)
        self._case.append(package)
        return package

    def end_case(self) -> None:
        """Reset what the case left: its files at edX, the data bucket, the faults.

        A case the product does not heal leaves its rows claimed (or its sources unsettled);
        with its files gone from edX, later runs never plan them, so one failing case cannot
        fail the cases after it. Every version in the data bucket is deleted too (except the
        NoNewData state the Report carries from run to run): the embedded AWS's
        ListObjectVersions deep-copies every version of the bucket on each call, so a bucket
        that kept every case's objects would make each check slower than the last.
        """
        set_faults(self.endpoint, [])
        for package in self._case:
            for obj in package.objects:
                self.edx_s3.delete_object(Bucket=obj.bucket, Key=obj.key)
        self._case.clear()
        s3 = self.s3
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if entry["Key"] == NEW_DATA_STATE_KEY and entry.get("IsLatest"):
                    continue
                s3.delete_object(Bucket=self.bucket, Key=entry["Key"], VersionId=entry["VersionId"])
        self._verified_versions.clear()

    def versions(self) -> dict[str, list[dict[str, Any]]]:
        """Every version and delete marker in the data bucket, by key (one listing)."""
        by_key: dict[str, list[dict[str, Any]]] = {}
        s3 = self.s3
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket):
            for version in page.get("Versions", []):
                by_key.setdefault(version["Key"], []).append(version)
            for marker in page.get("DeleteMarkers", []):
                by_key.setdefault(marker["Key"], []).append({**marker, "DeleteMarker": True})
        return by_key

    # ----------------------------------------------------------------- running

    def sync(
        self,
        rules: Sequence[Mapping[str, Any]] = (),
        *,
        arm_at: str | None = None,
        trigger: Mapping[str, Any] | None = None,
    ) -> SyncOutcome:
        """``edx-vault sync --wait --json`` with ``rules`` armed, then cleared.

        Two ways to aim a fault at one step's calls when another step makes the same calls:

        - ``arm_at``: arm once the execution has entered that state;
        - ``trigger``: a rule on a call only the step before makes (with ``times``); once it
          has fired (that step is retried), ``rules`` replace it. Unlike ``arm_at`` this
          cannot lose a race with the step's first call.
        """
        argv = ["sync", "--wait", "--json"]
        # Runs are a week apart on AWS, long after Lambda ended every sandbox: each starts cold
        # (what a function reads once per sandbox, its secrets, is read again).
        recycle_sandboxes(self.endpoint)
        # Executions are named after the second they start in (a time between `main`'s start
        # and end): start in a later second than the last run ended in.
        if int(time.time()) <= int(self._last_end):
            time.sleep(1.0 - time.time() % 1.0 + 0.01)
        staged = arm_at is not None or trigger is not None
        if arm_at is not None:
            set_faults(self.endpoint, [])
        else:
            set_faults(self.endpoint, [trigger] if trigger else list(rules))
        buffer, errors = io.StringIO(), io.StringIO()
        exit_codes: list[int] = []
        armed = not staged
        try:
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(errors):
                if not staged:
                    exit_codes.append(main(argv))
                else:
                    runner = threading.Thread(target=lambda: exit_codes.append(main(argv)))
                    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
                    runner.start()
                    armed = self._arm(rules, arm_at, trigger, started, runner)
                    runner.join()
            hits = fired(self.endpoint)
        finally:
            self._last_end = time.time()
            set_faults(self.endpoint, [])
        text = buffer.getvalue()
        try:
            document = json.loads(text)
        except ValueError:
            document = {"output": text + errors.getvalue()}
        return SyncOutcome(exit_codes[0] if exit_codes else -1, document, hits, armed)

    def _arm(
        self,
        rules: Sequence[Mapping[str, Any]],
        arm_at: str | None,
        trigger: Mapping[str, Any] | None,
        started: dt.datetime,
        runner: threading.Thread,
    ) -> bool:
        if arm_at is not None:
            if not self._wait_for_state(arm_at, started, runner):
                return False
            set_faults(self.endpoint, [trigger] if trigger else list(rules))
        if trigger is None:
            return True
        while runner.is_alive():
            if fired(self.endpoint)[0]["fired"]:
                set_faults(self.endpoint, list(rules))
                return True
            time.sleep(ARM_POLL_SECONDS)
        return False

    def _wait_for_state(self, state: str, started: dt.datetime, runner: threading.Thread) -> bool:
        """Wait until the run's execution has entered ``state`` (False if the run ended first).

        Polled as fast as the embedded AWS answers: a fault armed here must be in place before
        the state's first task makes its first call (tens of milliseconds later).
        """
        execution_arn = None
        while runner.is_alive():
            if execution_arn is None:
                execution_arn = next(
                    (
                        execution["executionArn"]
                        for execution in self.sfn.list_executions(
                            stateMachineArn=self.state_machine_arn, statusFilter="RUNNING"
                        )["executions"]
                        if execution["startDate"] >= started
                    ),
                    None,
                )
            if execution_arn is not None:
                events = self.sfn.get_execution_history(
                    executionArn=execution_arn, maxResults=1000
                )["events"]
                if any(
                    event.get("stateEnteredEventDetails", {}).get("name") == state
                    for event in events
                ):
                    return True
            time.sleep(ARM_POLL_SECONDS)
        return False

    # ----------------------------------------------------------------- checking

    def unpublished(self, package: CasePackage) -> list[str]:
        """Each unit of the case not published exactly once with its bytes under the data key,
        and each event log of the case not split exactly into course files."""
        versions = self.versions()
        return [
            problem
            for unit in package.published_units
            for problem in self.unpublished_unit(unit, versions)
        ] + [problem for log in event_logs(package.units) for problem in self.unsplit(log)]

    def unsplit(self, log: GeneratedUnit) -> list[str]:
        """What is wrong with the course files of a published event log (see split_checks)."""
        return split_problems(self.s3, self.bucket, self.data_key_arn, log)

    def unpublished_unit(
        self, unit: GeneratedUnit, versions: Mapping[str, list[dict[str, Any]]]
    ) -> list[str]:
        """What is wrong with one unit's published object (nothing when it is right)."""
        assert unit.output_key is not None
        where = f"{unit.source_key} {unit.member_name or ''}".rstrip()
        entries = versions.get(unit.output_key, [])
        stored = [entry for entry in entries if not entry.get("DeleteMarker")]
        if not stored:
            return [f"not published: {where} -> {unit.output_key}"]
        problems = []
        if len(entries) != 1:
            problems.append(
                f"published {len(stored)} times ({len(entries) - len(stored)} delete markers): "
                f"{where}"
            )
        got = self.s3.get_object(Bucket=self.bucket, Key=unit.output_key)
        if _sha256(got["Body"].read()) != unit.plaintext_sha256:
            problems.append(f"wrong bytes: {unit.output_key}")
        if (got.get("ServerSideEncryption"), got.get("SSEKMSKeyId")) != (
            "aws:kms",
            self.data_key_arn,
        ):
            problems.append(
                f"not under the data key: {unit.output_key} "
                f"({got.get('ServerSideEncryption')}, {got.get('SSEKMSKeyId')})"
            )
        return problems

    def open_uploads(self, package: CasePackage) -> list[dict[str, Any]]:
        """The multipart uploads still open on the case's keys (raw copies and outputs)."""
        keys = set(package.ciphertext_sha256) | {
            unit.output_key for unit in package.published_units if unit.output_key
        }
        logs = [log.output_key for log in event_logs(package.units) if log.output_key]
        uploads: list[dict[str, Any]] = self.s3.list_multipart_uploads(Bucket=self.bucket).get(
            "Uploads", []
        )
        return [
            upload
            for upload in uploads
            if upload["Key"] in keys or any(is_course_file_of(upload["Key"], log) for log in logs)
        ]

    def incomplete_uploads_aborted_after_days(self) -> int | None:
        """Days after which the data bucket's lifecycle aborts every incomplete multipart upload
        (an enabled rule that covers every key), or ``None`` when no rule does."""
        rules = self.s3.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]
        days = [
            rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            for rule in rules
            if rule.get("Status") == "Enabled"
            and "AbortIncompleteMultipartUpload" in rule
            and not rule.get("Prefix")
            and not {key: value for key, value in rule.get("Filter", {}).items() if value}
        ]
        return min(days) if days else None

    def abort_as_the_lifecycle_rule_would(self, uploads: Sequence[Mapping[str, Any]]) -> None:
        """Abort these uploads, as the bucket's lifecycle rule does on AWS days later (the
        embedded AWS stores lifecycle rules but never acts on them)."""
        for upload in uploads:
            self.s3.abort_multipart_upload(
                Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )

    def leftovers(self, package: CasePackage) -> list[str]:
        """Open multipart uploads, partial or unexpected objects, rows left ``in_progress``.

        Uploads and rows are the case's own; objects are every version in the bucket not
        checked yet (the bucket is emptied between cases).
        """
        s3 = self.s3
        problems = [
            f"open multipart upload: {upload['Key']} ({upload['UploadId']})"
            for upload in self.open_uploads(package)
        ]
        logs = [log.output_key for log in event_logs(package.units) if log.output_key]
        for key, entries in self.versions().items():
            if key.startswith(SCRATCH_PREFIXES):
                continue
            if key.startswith(EVENTS_BY_COURSE_PREFIX):
                # Not known in advance, and may be published more than once (split_checks)
                problems.extend(course_file_leftovers(s3, self.bucket, key, entries, logs))
                continue
            if key.startswith(DEIDENTIFIED_PREFIX):
                # A de-identified copy (its bytes are the tier's tests'): only of a file the
                # case published, and never a delete marker (nothing the case had is gone).
                original = key.removeprefix(DEIDENTIFIED_PREFIX)
                if original not in self._expected and not original.startswith(
                    EVENTS_BY_COURSE_PREFIX
                ):
                    problems.append(f"unexpected object {key}")
                problems.extend(
                    f"delete marker on {key}" for entry in entries if entry.get("DeleteMarker")
                )
                continue
            for entry in entries:
                version_id = entry["VersionId"]
                if version_id in self._verified_versions:
                    continue
                self._verified_versions.add(version_id)
                expected = self._expected.get(key)
                if entry.get("DeleteMarker"):
                    problems.append(f"delete marker on {key}")
                elif expected is None:
                    problems.append(f"unexpected object {key}")
                else:
                    body = s3.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)
                    if _sha256(body["Body"].read()) != expected:
                        problems.append(f"partial or wrong object {key} ({entry['Size']} bytes)")
        problems.extend(
            f"manifest row left in_progress: {row['pk']} {row['sk']} (run {row.get('run_id')})"
            for obj in package.objects
            for row in self.manifest.rows_of_source(obj.bucket, obj.key)
            if row.get("status") == Status.IN_PROGRESS
        )
        return problems


@pytest.fixture(scope="session")
def vault_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The vault app for the example configuration, synthesized as `local up` does."""
    from edx_vault.devtools.embedded_aws.synth import synthesize_vault_app

    return synthesize_vault_app(EXAMPLE_CONFIG, tmp_path_factory.mktemp("vault") / "cdk.out")


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _pointed_at(aws: RunningAws) -> Iterator[None]:
    """This process's environment pointed at the embedded AWS, as `local env` prints it; the
    whole environment is put back afterwards (the CLI may set variables of its own)."""
    saved = dict(os.environ)
    os.environ.update(aws.state.environment())
    os.environ["EDX_VAULT_CONFIG"] = str(EXAMPLE_CONFIG)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="package")
def shared_vault(
    vault_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultVault]:
    """One embedded AWS for every module of the package: deployed, keyed, edX's credentials
    imported (deploying costs about half a minute; each case cleans up after itself)."""
    work = tmp_path_factory.mktemp("faults")
    with _environment(SERVER_ENVIRONMENT):
        aws = start(work / "state" / "local.json", vault_assembly)
    try:
        with _pointed_at(aws):
            config = load_config(EXAMPLE_CONFIG)
            public_key_file = work / "pipeline.asc"
            assert (
                main(["keygen", "--email", "czar@example.edu", "--out", str(public_key_file)]) == 0
            )
            public_key = public_key_file.read_text()
            buckets = sorted(set(config.edx.source_buckets.model_dump().values()))
            s3 = aws.root_client("s3")
            for bucket in buckets:
                s3.create_bucket(Bucket=bucket)
            user_name = f"edx-{config.edx.orgs[0].id.lower()}-data-czar"
            access_key_id, secret_access_key = edx_reader_keys(
                aws.root_client("iam"), user_name=user_name, buckets=buckets
            )
            credentials = work / "credentials.csv.gpg"
            credentials.write_bytes(
                encrypt_to_recipients(
                    credentials_csv(
                        access_key_id=access_key_id,
                        secret_access_key=secret_access_key,
                        user_name=user_name,
                    ),
                    [public_key],
                )
            )
            assert main(["import-credentials", str(credentials)]) == 0
            assert main(["pseudonym-key", "init"]) == 0
        yield FaultVault(aws=aws, work=work, config=config, public_key=public_key)
    finally:
        stop(aws)


@pytest.fixture(scope="module")
def vault(shared_vault: FaultVault) -> Iterator[FaultVault]:
    """The shared embedded AWS, with this process's environment pointed at it for the module
    (``edx-vault sync`` reads it), and only for the module."""
    with _pointed_at(shared_vault.aws):
        yield shared_vault
