#!/usr/bin/env python3
"""Time the run-wide steps (Plan, Collect, Report) at backfill scale, and model them on Lambda.

Prints one JSON document. For each shape and each size N (units: 1,000, 10,000 and 50,000;
``--quick``: 1,000 only):

- ``moto``: each step's wall time, this process's CPU time (the client's: moto runs in
  another process), and its requests by operation, split into those made one after another
  and those made on the step's thread pool, with their mean latency as the client saw it,
  against moto in server mode on loopback. Plan is the real ``steps.plan.start_run`` over an
  edX bucket holding the sources, Collect the real ``collect_units``, Report the real
  ``finish_run`` (every result read, every source settled in the manifest, the report
  written, SNS published).
- ``lambda``: the step modeled on Lambda as deployed (each function's memory and timeout, as
  in stacks/sync_functions.py; ``PARALLEL_REQUESTS`` in flight): the client CPU measured
  here, scaled to the function's share of a vCPU, plus each request's in-region latency (the
  parameters below), requests on the pool divided among its threads, with no overlap of CPU
  and waiting (conservative). ``if_serial_s`` is the same with every request one after
  another, as the steps made them before they had a pool. ``lambda_what_if``: the same at one
  full vCPU (1,769 MB) with 32 requests in flight.
- the target: every step under a quarter of its timeout at the largest size, per shape
  (``target_met_by_shape_and_step``; ``target_met``: as deployed, every shape and step).

Shapes (``--units-per-source``): 1 is N daily event logs of one unit each (N mirror and N
decrypt items: the most per-source work, settling, per unit); k > 1 is N/k weekly zips of k
members (a backfill's database exports).

The data are synthetic: the mirror and decrypt tasks are not run (no gpg, no copies); what
they leave (edX's objects, the units and result files under ``_work/{run}/``, the manifest's
object and unit rows) is written straight into moto's backends by the server process between
steps, shaped as the Mirror and Decrypt steps write them. moto is not S3: its time per request (mostly its
own Python, competing with this process for the box's cores) is reported, not modeled.

Usage: ``.venv/bin/python bench/pipeline_scale.py [--quick] [--sizes 1000,10000,50000]
[--units-per-source 1,20] [--s3-ms 30] [--s3-list-ms 100] [--dynamodb-ms 10] [--other-ms 30]
[--extra-cpu-ms 0.2] [--cpu-factor 1.0] [--bandwidth-mb-s 50]``. The full run takes about half
an hour on two cores, most of it moto serving the 50,000-item Report.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import resource
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edx_vault.engine.parallel import PARALLEL_REQUESTS  # noqa: E402
from edx_vault.package import source_keys  # noqa: E402
from edx_vault.pipeline.manifest_rows import member_sort_key, source_partition  # noqa: E402
from edx_vault.pipeline.manifest_schema import (  # noqa: E402
    OBJECT_SORT_KEY,
    PARTITION_KEY,
    SORT_KEY,
)
from edx_vault.pipeline.run_files import DECRYPT_ITEMS, MIRROR_ITEMS, RunFiles  # noqa: E402

REGION: Final = "us-east-1"
ACCOUNT: Final = "123456789012"  # moto's default account
CREDENTIALS: Final = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
FIRST_DAY: Final = dt.date(2024, 1, 1)
STARTED: Final = dt.datetime(2026, 1, 5, 6, 0, tzinfo=dt.UTC)
SITES: Final = ("edx", "edge")
LOG_BODY: Final = b"synthetic ciphertext, never decrypted"

# As stacks/sync_functions.py configures them: timeout in seconds, memory in MB.
FUNCTIONS: Final = {
    "plan": {"timeout_s": 600, "memory_mb": 1024},
    "collect": {"timeout_s": 300, "memory_mb": 1769},
    "report": {"timeout_s": 600, "memory_mb": 1769},
}
TARGET_SHARE_OF_TIMEOUT: Final = 0.25
MODEL_ASSUMPTIONS: Final = (
    "modeled_s = client CPU measured here x cpu_factor, plus extra_cpu_ms per request, "
    "divided by the function's vCPU share (memory / 1769 MB, at most 1: one Python process); "
    "plus each request's latency, requests on the pool divided among its workers; plus bytes "
    "at bandwidth_mb_s; nothing overlapped. The client CPU is measured over plain HTTP with a "
    "TCP connection per request (moto's werkzeug closes each); TLS and X-Ray's work per call "
    "on Lambda are extra_cpu_ms. Latencies: S3, 'median latencies often in the tens of "
    "milliseconds' for small requests (AWS whitepaper Best Practices Design Patterns: "
    "Optimizing Amazon S3 Performance, Timeouts and Retries for Latency-Sensitive "
    "Applications); DynamoDB, single-digit milliseconds on average for item operations (AWS "
    "knowledge center, DynamoDB high latency); parameters, not measurements"
)
# "At 1,769 MB, a function has the equivalent of one vCPU (one vCPU-second of credits per
# second)" (Lambda developer guide, Configure Lambda function memory); less memory, less CPU in
# proportion. One Python process with the GIL uses at most one vCPU, whatever the memory.
MB_PER_VCPU: Final = 1769
# The what-if: one full vCPU, and clients made with max_pool_connections=32 so the pool can
# run 32 requests at once (the deployed clients keep botocore's default of 10).
WHAT_IF_WORKERS: Final = 32


# --------------------------------------------------------------------------- synthetic data


def org_name(index: int) -> str:
    return f"benchorg{index:03d}"


def days_in_window() -> int:
    return (STARTED.date() - FIRST_DAY).days


def sundays_in_window() -> list[dt.date]:
    first = FIRST_DAY + dt.timedelta(days=(6 - FIRST_DAY.weekday()) % 7)
    return [first + dt.timedelta(weeks=week) for week in range(days_in_window() // 7)]


@dataclass(frozen=True)
class Names:
    """One size's buckets, table and run, and the shape of its sources."""

    items: int
    units_per_source: int
    event_bucket: str
    database_bucket: str
    data_bucket: str
    table: str
    run_id: str

    @classmethod
    def for_size(cls, items: int, units_per_source: int) -> Names:
        suffix = uuid.uuid4().hex[:8]
        return cls(
            items=items,
            units_per_source=units_per_source,
            event_bucket=f"edx-course-data-{suffix}",
            database_bucket=f"course-data-{suffix}",
            data_bucket=f"vault-data-{suffix}",
            table=f"manifest-{suffix}",
            run_id=f"bench-{items}-{suffix}",
        )

    @property
    def zips(self) -> bool:
        """One unit a source: daily event logs; more: weekly zips with that many members."""
        return self.units_per_source > 1

    @property
    def orgs(self) -> int:
        sources = math.ceil(self.items / self.units_per_source)
        per_org = len(sundays_in_window()) if self.zips else len(SITES) * days_in_window()
        return math.ceil(sources / per_org)


@dataclass(frozen=True)
class Source:
    """One synthetic edX object and its units' member names (``None``: the whole object)."""

    bucket: str
    key: str
    org: str
    members: tuple[str | None, ...]


def synthetic_sources(names: Names) -> Iterator[Source]:
    """Sources with ``names.items`` units in all, org by org, in date order."""
    made = 0
    for org_index in range(names.orgs):
        org = org_name(org_index)
        if names.zips:
            dated = [
                (names.database_bucket, source_keys.weekly_zip_key(org, sunday), sunday)
                for sunday in sundays_in_window()
            ]
        else:
            days = [FIRST_DAY + dt.timedelta(days=n) for n in range(days_in_window())]
            dated = [
                (names.event_bucket, source_keys.event_log_key(org, site, day), day)
                for site in SITES
                for day in days
            ]
        for bucket, key, day in dated:
            if made == names.items:
                return
            count = min(names.units_per_source, names.items - made)
            members: tuple[str | None, ...] = (None,)
            if names.zips:
                folder = f"{org}-{day.isoformat()}"
                members = tuple(
                    f"{folder}/{org}-course{n:04d}-auth_user-prod-analytics.sql.gpg"
                    for n in range(count)
                )
            yield Source(bucket, key, org, members)
            made += count


# --------------------------------------------------------------------------- moto server side


def serve() -> None:
    """The moto server process: serves HTTP, and seeds its backends on command (stdin).

    Writing tens of thousands of objects and rows through moto's HTTP front end would take
    longer than the steps being measured; the backends are written directly instead, between
    steps, while no request is in flight.
    """
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _query_one_partition()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(port, flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        names = Names(**command["names"])
        {"edx": _seed_edx, "mirrored": _seed_mirrored, "decrypted": _seed_decrypted}[command["op"]](
            names
        )
        print("ok", flush=True)
    server.stop()


def _query_one_partition() -> None:
    """Let moto answer a table Query from the queried partition instead of the whole table.

    moto's ``Table.query`` (no index) filters ``Table.all_items()``, a sorted copy of every
    row: at 100,000 rows, 50,000 settle Queries would take hours and measure nothing but
    moto. The same rows, in the same order, come from the one partition. Bench only.
    """
    import inspect

    from moto.dynamodb.models.table import Table

    original_query, original_all_items = Table.query, Table.all_items
    signature = inspect.signature(original_query)
    partition = threading.local()

    def all_items(self: Any) -> Any:
        hash_key = getattr(partition, "hash_key", None)
        if hash_key is None or not self.range_key_attr:
            return original_all_items(self)
        return sorted(self.items.get(hash_key, {}).values(), key=lambda item: item.range_key)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        if arguments.get("index_name") or arguments.get("hash_key") is None:
            return original_query(self, *args, **kwargs)
        partition.hash_key = arguments["hash_key"]
        try:
            return original_query(self, *args, **kwargs)
        finally:
            partition.hash_key = None

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]


def _s3_backend() -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[ACCOUNT]["aws"]


def _put_row(names: Names, row: dict[str, Any]) -> None:
    from boto3.dynamodb.types import TypeSerializer
    from moto.dynamodb.models import dynamodb_backends

    serializer = TypeSerializer()
    item = {name: serializer.serialize(value) for name, value in row.items()}
    dynamodb_backends[ACCOUNT][REGION].put_item(names.table, item)


def _seed_edx(names: Names) -> None:
    backend = _s3_backend()
    for source in synthetic_sources(names):
        backend.put_object(source.bucket, source.key, LOG_BODY)


def _stored(names: Names) -> Iterator[tuple[Source, Any]]:
    """Every seeded edX object, with moto's record of it (its ETag and size)."""
    backend = _s3_backend()
    for source in synthetic_sources(names):
        yield source, backend.get_object(source.bucket, source.key)


def _files(names: Names) -> RunFiles:
    return RunFiles(None, names.data_bucket, "", names.run_id)  # type: ignore[arg-type]


def _work_list(names: Names, name: str) -> list[dict[str, Any]]:
    """A work list the real step wrote (Plan's or Collect's), as batches."""
    files = _files(names)
    batches: list[dict[str, Any]] = json.loads(
        _s3_backend().get_object(names.data_bucket, files.key(name)).value
    )
    return batches


def _seed_mirrored(names: Names) -> None:
    """What each Mirror batch leaves: its units file, its results file, its done object rows.

    The batches are those of the work list the real Plan wrote.
    """
    backend = _s3_backend()
    files = _files(names)
    now = STARTED.isoformat()
    stored_of = {source.key: (source, stored) for source, stored in _stored(names)}
    for batch in _work_list(names, MIRROR_ITEMS):
        batch_units: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for item in batch["items"]:
            source, stored = stored_of[item["source_key"]]
            raw_key = f"raw/{source.bucket}/{source.key}"
            batch_units.extend(
                {
                    "source_bucket": source.bucket,
                    "source_key": source.key,
                    "etag": stored.etag,
                    "raw_key": raw_key,
                    "raw_version_id": None,
                    "raw_size": stored.size,
                    "member": member,
                    "run_id": names.run_id,
                    "retry_failed": False,
                }
                for member in source.members
            )
            results.append(
                {
                    "status": "done",
                    "source_key": source.key,
                    "stage": "mirror",
                    "source_bucket": source.bucket,
                    "etag": stored.etag,
                    "raw_key": raw_key,
                    "raw_version_id": None,
                    "bytes": stored.size,
                }
            )
            _put_row(
                names,
                {
                    PARTITION_KEY: source_partition(source.bucket, source.key),
                    SORT_KEY: OBJECT_SORT_KEY,
                    "status": "done",
                    "source_etag": stored.etag,
                    "run_id": names.run_id,
                    "claimed_at": now,
                    "updated_at": now,
                    "attempts": 1,
                    "stage": "mirrored",
                    "kind": "weekly-zip" if names.zips else "event-log",
                    "org": source.org,
                    "source_size": stored.size,
                    "raw_key": raw_key,
                    "raw_version_id": "",
                    "units_settled": False,
                    "unit_count": len(source.members),
                },
            )
        digest = files.batch_digest(batch["items"])
        backend.put_object(
            names.data_bucket,
            files.batch_units_key(digest),
            json.dumps(batch_units, sort_keys=True).encode(),
        )
        backend.put_object(
            names.data_bucket,
            files.batch_result_key("mirror", digest),
            json.dumps(results, sort_keys=True).encode(),
        )


def _seed_decrypted(names: Names) -> None:
    """What each Decrypt batch leaves: its results file and its done unit rows.

    The batches are those of the work list the real Collect wrote.
    """
    backend = _s3_backend()
    files = _files(names)
    now = STARTED.isoformat()
    category = "database" if names.zips else "events"
    stored_of = {source.key: (source, stored) for source, stored in _stored(names)}
    for batch in _work_list(names, DECRYPT_ITEMS):
        results: list[dict[str, Any]] = []
        for unit in batch["items"]:
            source, stored = stored_of[unit["source_key"]]
            member = unit.get("member")
            name = Path(member or source.key).name.removesuffix(".gpg")
            output_key = f"{category}/org={source.org}/{name}"
            results.append(
                {
                    "status": "done",
                    "source_key": source.key,
                    "stage": "decrypt",
                    "output_key": output_key,
                    "bytes": 10 * stored.size,
                    "category": category,
                    "member": member,
                }
            )
            _put_row(
                names,
                {
                    PARTITION_KEY: source_partition(source.bucket, source.key),
                    SORT_KEY: member_sort_key(member),
                    "status": "done",
                    "source_etag": stored.etag,
                    "run_id": names.run_id,
                    "claimed_at": now,
                    "updated_at": now,
                    "attempts": 1,
                    "output_key": output_key,
                    "output_version_id": "",
                    "plaintext_bytes": 10 * stored.size,
                    "plaintext_sha256": "0" * 64,
                    "ciphertext_bytes": stored.size,
                    "org": source.org,
                    "category": category,
                },
            )
        backend.put_object(
            names.data_bucket,
            files.batch_result_key("decrypt", files.batch_digest(batch["items"])),
            json.dumps(results, sort_keys=True).encode(),
        )


class MotoServer:
    """The server process, and the commands that seed it."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.endpoint = f"http://127.0.0.1:{int(self._process.stdout.readline())}"

    def seed(self, op: str, names: Names) -> float:
        """Run one seeding command; returns its seconds (not part of any step's time)."""
        assert self._process.stdin is not None and self._process.stdout is not None
        started = time.perf_counter()
        self._process.stdin.write(json.dumps({"op": op, "names": names.__dict__}) + "\n")
        self._process.stdin.flush()
        if self._process.stdout.readline().strip() != "ok":
            raise RuntimeError(f"the moto server process failed to seed {op}")
        return time.perf_counter() - started

    def reset(self) -> None:
        """Forget everything (moto's reset API), so one size's data do not slow the next."""
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request) as answer:
            answer.read()

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=60)


# --------------------------------------------------------------------------- client side


@dataclass
class Requests:
    """Every API call the clients made, by operation and by where it ran."""

    counts: dict[tuple[str, str, bool], int] = field(default_factory=lambda: defaultdict(int))
    seconds: dict[tuple[str, str, bool], float] = field(default_factory=lambda: defaultdict(float))
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, client: Any) -> None:
        client.meta.events.register("before-call", self._before)
        client.meta.events.register("after-call", self._after)

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_started"] = time.perf_counter()
        body = params.get("body")
        if isinstance(body, bytes | bytearray):
            with self.lock:
                self.bytes += len(body)

    def _after(self, http_response: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
        elapsed = time.perf_counter() - context.get("bench_started", time.perf_counter())
        pooled = threading.current_thread() is not threading.main_thread()
        key = (model.service_model.service_name, model.name, pooled)
        length = int(http_response.headers.get("content-length") or 0)
        with self.lock:
            self.counts[key] += 1
            self.seconds[key] += elapsed
            self.bytes += length

    def snapshot(self) -> tuple[dict[tuple[str, str, bool], int], dict[Any, float], int]:
        with self.lock:
            return dict(self.counts), dict(self.seconds), self.bytes


@dataclass(frozen=True)
class Model:
    """In-region latencies and CPU assumptions for Lambda."""

    s3_ms: float
    s3_list_ms: float
    dynamodb_ms: float
    other_ms: float
    extra_cpu_ms: float
    cpu_factor: float
    bandwidth_mb_s: float
    workers: int

    def latency_ms(self, service: str, operation: str) -> float:
        if service == "s3":
            return self.s3_list_ms if operation.startswith("List") else self.s3_ms
        if service == "dynamodb":
            return self.dynamodb_ms
        return self.other_ms


@dataclass
class StepMeasure:
    wall_s: float
    cpu_s: float
    counts: dict[tuple[str, str, bool], int]
    seconds: dict[tuple[str, str, bool], float]
    bytes: int
    peak_rss_mb: float


@contextlib.contextmanager
def measured(requests: Requests, into: list[StepMeasure]) -> Iterator[None]:
    counts0, seconds0, bytes0 = requests.snapshot()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    yield
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    counts1, seconds1, bytes1 = requests.snapshot()
    into.append(
        StepMeasure(
            wall_s=wall,
            cpu_s=cpu,
            counts={k: v - counts0.get(k, 0) for k, v in counts1.items() if v - counts0.get(k, 0)},
            seconds={k: v - seconds0.get(k, 0.0) for k, v in seconds1.items()},
            bytes=bytes1 - bytes0,
            # ru_maxrss is in KiB on Linux: the process's peak so far, an upper bound per step.
            peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
    )


def lambda_model(
    step: str, measure: StepMeasure, model: Model, *, memory_mb: int, workers: int
) -> dict[str, Any]:
    """The step on Lambda at ``memory_mb`` with ``workers`` requests in flight."""
    timeout = FUNCTIONS[step]["timeout_s"]
    latency_s = serial_latency_s = 0.0
    total = 0
    for (service, operation, pooled), count in measure.counts.items():
        each_s = model.latency_ms(service, operation) / 1000
        latency_s += count * each_s / (workers if pooled else 1)
        serial_latency_s += count * each_s
        total += count
    vcpu = min(1.0, memory_mb / MB_PER_VCPU)
    cpu_s = (measure.cpu_s * model.cpu_factor + total * model.extra_cpu_ms / 1000) / vcpu
    transfer_s = measure.bytes / (model.bandwidth_mb_s * 1e6)
    modeled = cpu_s + latency_s + transfer_s
    quarter = timeout * TARGET_SHARE_OF_TIMEOUT
    return {
        "memory_mb": memory_mb,
        "vcpu": round(vcpu, 3),
        "workers": workers,
        "cpu_s": round(cpu_s, 1),
        "waiting_s": round(latency_s, 1),
        "transfer_s": round(transfer_s, 1),
        "modeled_s": round(modeled, 1),
        "if_serial_s": round(cpu_s + serial_latency_s + transfer_s, 1),
        "timeout_s": timeout,
        "quarter_of_timeout_s": quarter,
        "share_of_timeout": round(modeled / timeout, 3),
        "target_met": modeled < quarter,
    }


def describe(step: str, measure: StepMeasure, items: int, model: Model) -> dict[str, Any]:
    """One step's figures on moto, and as modeled on Lambda (as deployed, and a what-if)."""
    by_operation: dict[str, dict[str, Any]] = {}
    for (service, operation, pooled), count in sorted(measure.counts.items()):
        entry = by_operation.setdefault(f"{service}:{operation}", {"serial": 0, "pooled": 0})
        entry["pooled" if pooled else "serial"] += count
        entry.setdefault("moto_seconds", 0.0)
        entry["moto_seconds"] += measure.seconds.get((service, operation, pooled), 0.0)
    for entry in by_operation.values():
        calls = entry["serial"] + entry["pooled"]
        entry["moto_ms_mean"] = round(entry.pop("moto_seconds") * 1000 / calls, 2)
    total = sum(measure.counts.values())
    return {
        "moto": {
            "wall_s": round(measure.wall_s, 2),
            "client_cpu_s": round(measure.cpu_s, 2),
            "client_cpu_ms_per_request": round(measure.cpu_s * 1000 / max(total, 1), 3),
            "requests": total,
            "requests_per_item": round(total / items, 3),
            "by_operation": by_operation,
            "bytes": measure.bytes,
            "peak_rss_mb_so_far": round(measure.peak_rss_mb, 1),
        },
        "lambda": lambda_model(
            step,
            measure,
            model,
            memory_mb=FUNCTIONS[step]["memory_mb"],
            workers=model.workers,
        ),
        "lambda_what_if": lambda_model(
            step,
            measure,
            model,
            memory_mb=max(FUNCTIONS[step]["memory_mb"], MB_PER_VCPU),
            workers=WHAT_IF_WORKERS,
        ),
    }


def run_size(server: MotoServer, items: int, units_per_source: int, model: Model) -> dict[str, Any]:
    """Plan, Collect and Report one run of ``items`` units, measured."""
    import boto3

    from edx_vault.pipeline.context import RunContext
    from edx_vault.pipeline.key_metadata import key_tags
    from edx_vault.pipeline.manifest import Manifest
    from edx_vault.pipeline.steps.collect import collect_units
    from edx_vault.pipeline.steps.plan import start_run
    from edx_vault.pipeline.steps.report import finish_run
    from edx_vault.settings.pipeline_settings import PipelineSettings

    server.reset()
    names = Names.for_size(items, units_per_source)
    options: dict[str, Any] = {
        "endpoint_url": server.endpoint,
        "region_name": REGION,
        **CREDENTIALS,
    }
    requests = Requests()
    s3 = boto3.client("s3", **options)
    for bucket in (names.event_bucket, names.database_bucket, names.data_bucket):
        s3.create_bucket(Bucket=bucket)
    key_arn = boto3.client("kms", **options).create_key()["KeyMetadata"]["Arn"]
    boto3.client("dynamodb", **options).create_table(
        TableName=names.table,
        KeySchema=[
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": SORT_KEY, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    secrets = boto3.client("secretsmanager", **options)
    secret_arn = secrets.create_secret(
        Name=f"{names.table}/key",
        SecretString="x",
        Tags=key_tags("0" * 40, dt.date(2030, 1, 1)),  # type: ignore[arg-type]
    )["ARN"]
    sns = boto3.client("sns", **options)
    topic_arn = sns.create_topic(Name=f"alerts-{names.table}")["TopicArn"]
    table = boto3.resource("dynamodb", **options).Table(names.table)
    edx_s3 = boto3.client("s3", **options)
    for client in (s3, edx_s3, table.meta.client, secrets, sns):
        requests.watch(client)
    settings = PipelineSettings(
        data_bucket=names.data_bucket,
        data_key_arn=key_arn,
        manifest_table=names.table,
        org_groups=tuple((org_name(i),) for i in range(names.orgs)),
        sites=SITES,
        categories=("database",) if names.zips else ("events",),
        backfill_from=FIRST_DAY,
        event_bucket=names.event_bucket,
        database_bucket=names.database_bucket,
    )
    context = RunContext(settings=settings, vault_s3=s3, manifest=Manifest(table))
    seeding = {"edx": server.seed("edx", names)}
    steps: list[StepMeasure] = []
    with measured(requests, steps):
        planned = start_run(
            context, edx_s3, run_id=names.run_id, started=STARTED, retry_failed=False
        )
    seeding["mirrored"] = server.seed("mirrored", names)
    with measured(requests, steps):
        collected = collect_units(context, names.run_id)
    seeding["decrypted"] = server.seed("decrypted", names)
    with measured(requests, steps):
        report = finish_run(
            context,
            secrets,
            sns,
            run_id=names.run_id,
            finished=STARTED + dt.timedelta(hours=1),
            topic_arn=topic_arn,
            key_secret_arn=secret_arn,
        )
    published = sum(totals["count"] for totals in report["files"].values())
    checks = {
        "planned": planned["planned"],
        "collected_units": collected["units"],
        "report_status": report["status"],
        "report_published": published,
        "report_failures": len(report["failures"]),
        "all_accounted_for": collected["units"] == published == items
        and planned["planned"] == math.ceil(items / units_per_source)
        and report["status"] == "succeeded",
    }
    return {
        "items": items,
        "units_per_source": units_per_source,
        "sources": planned["planned"],
        "checks": checks,
        "seeding_s_not_timed": {k: round(v, 1) for k, v in seeding.items()},
        "steps": {
            step: describe(step, measure, items, model)
            for step, measure in zip(("plan", "collect", "report"), steps, strict=True)
        },
    }


def main() -> None:
    if "--serve" in sys.argv:
        serve()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 items only")
    parser.add_argument("--sizes", default="1000,10000,50000", help="units per run")
    parser.add_argument(
        "--units-per-source",
        default="1,20",
        help="shapes to run: 1 is daily event logs, k > 1 weekly zips of k members",
    )
    parser.add_argument(
        "--s3-ms", type=float, default=30.0, help="S3 GET/PUT of a small object, in region"
    )
    parser.add_argument(
        "--s3-list-ms", type=float, default=100.0, help="S3 ListObjectsV2, one 1,000-key page"
    )
    parser.add_argument("--dynamodb-ms", type=float, default=10.0, help="one DynamoDB call")
    parser.add_argument("--other-ms", type=float, default=30.0, help="Secrets Manager, SNS")
    parser.add_argument(
        "--extra-cpu-ms",
        type=float,
        default=0.2,
        help="CPU per request on Lambda not measured here (TLS, X-Ray), at one vCPU",
    )
    parser.add_argument(
        "--cpu-factor", type=float, default=1.0, help="a Lambda vCPU's time per this box's CPU"
    )
    parser.add_argument("--bandwidth-mb-s", type=float, default=50.0, help="Lambda to S3")
    args = parser.parse_args()
    sizes = [1000] if args.quick else [int(size) for size in args.sizes.split(",")]
    shapes = [int(units) for units in args.units_per_source.split(",")]
    model = Model(
        s3_ms=args.s3_ms,
        s3_list_ms=args.s3_list_ms,
        dynamodb_ms=args.dynamodb_ms,
        other_ms=args.other_ms,
        extra_cpu_ms=args.extra_cpu_ms,
        cpu_factor=args.cpu_factor,
        bandwidth_mb_s=args.bandwidth_mb_s,
        workers=PARALLEL_REQUESTS,
    )
    server = MotoServer()
    started = time.perf_counter()
    try:
        runs = [run_size(server, size, units, model) for units in shapes for size in sizes]
    finally:
        server.close()
    largest = max(sizes)
    verdicts = {
        f"{run['units_per_source']} unit(s) per source": {
            step: {
                "as_deployed": figures["lambda"]["target_met"],
                "what_if": figures["lambda_what_if"]["target_met"],
            }
            for step, figures in run["steps"].items()
        }
        for run in runs
        if run["items"] == largest
    }
    print(
        json.dumps(
            {
                "what": (
                    "Plan, Collect and Report (the real step functions: start_run, "
                    "collect_units, finish_run) on moto server over loopback, and modeled on "
                    "Lambda against each function's timeout"
                ),
                "data": (
                    "synthetic: N units, from N daily event logs (1 unit per source: N mirror "
                    "and N decrypt items, the most settling per unit) or from N/k weekly zips "
                    "of k members; the mirror and decrypt tasks are not run: their units "
                    "files, result files and manifest rows are written into moto's backends "
                    "between steps (seeding_s_not_timed); no gpg"
                ),
                "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                "model": {
                    **model.__dict__,
                    "what_if": (
                        f"memory {MB_PER_VCPU} MB (one vCPU) and {WHAT_IF_WORKERS} requests in "
                        f"flight (clients made with max_pool_connections={WHAT_IF_WORKERS})"
                    ),
                    "functions": FUNCTIONS,
                    "mb_per_vcpu": MB_PER_VCPU,
                    "assumptions": MODEL_ASSUMPTIONS,
                },
                "target": (
                    f"every step under {TARGET_SHARE_OF_TIMEOUT} of its timeout at {largest} units"
                ),
                "target_met": all(
                    verdict["as_deployed"]
                    for steps in verdicts.values()
                    for verdict in steps.values()
                ),
                "target_met_by_shape_and_step": verdicts,
                "total_bench_s": round(time.perf_counter() - started, 1),
                "runs": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
