"""A rough estimate of what one sync run cost, for the run report.

List prices of us-east-1 (late 2026); other regions differ by a few percent. Durations are not
measured per item here, so Lambda time is estimated from the bytes moved: the decrypt function
at the speed of one S3 GET stream (AWS's guidance), which bench/decrypt_cpus.py shows its CPU
keeps up with at the deployed memory; the mirror at a moto-free figure from AWS's guidance. The
point is the order of magnitude an admin can budget with, not an invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from edx_vault.package.table_catalog import header_tables

# Lambda's duration price per GB-second in us-east-1 (first 6 billion GB-seconds a month), by
# architecture; the stack deploys x86_64 (stacks/lambda_layers.py, LAMBDA_ARCHITECTURE).
LAMBDA_PRICE_SOURCE: Final = "https://aws.amazon.com/lambda/pricing/ (us-east-1, as of 2026-11)"
LAMBDA_GB_SECOND_USD_BY_ARCHITECTURE: Final = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
LAMBDA_GB_SECOND_USD: Final = LAMBDA_GB_SECOND_USD_BY_ARCHITECTURE["x86_64"]
# "At 1,769 MB, a function has the equivalent of one vCPU (one vCPU-second of credits per
# second)", and CPU is in proportion to memory
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
MB_PER_VCPU: Final = 1769
# One GET stream delivers about 85-90 MB/s ("make one concurrent request for each 85-90 MB/s of
# desired network throughput", AWS's S3 performance guidelines); the decrypt function reads its
# ciphertext through one.
S3_GET_STREAM_BYTES_PER_SECOND: Final = 85_000_000
LAMBDA_REQUEST_USD: Final = 0.20 / 1_000_000
STEP_FUNCTIONS_TRANSITION_USD: Final = 0.025 / 1000
S3_WRITE_REQUEST_USD: Final = 0.005 / 1000
S3_READ_REQUEST_USD: Final = 0.0004 / 1000
DYNAMODB_WRITE_USD: Final = 1.25 / 1_000_000
DYNAMODB_READ_USD: Final = 0.25 / 1_000_000
KMS_REQUEST_USD: Final = 0.03 / 10_000

# Lambda bills memory in GB of 1,024 MB (512 MB is 0.5 GB).
MB_PER_BILLED_GB: Final = 1024
MIRROR_MEMORY_GB: Final = 1024 / MB_PER_BILLED_GB
# The decrypt function's memory, as stacks/sync_functions.py deploys it (an infra test checks
# that they agree): one full vCPU. Why that size, measured: docs/engine.md, "Decrypt speed per
# dollar" (bench/decrypt_cpus.py).
DECRYPT_MEMORY_MB: Final = MB_PER_VCPU
DECRYPT_MEMORY_GB: Final = DECRYPT_MEMORY_MB / MB_PER_BILLED_GB
MIRROR_BYTES_PER_SECOND: Final = 50 * 1024 * 1024
# At 1769 MB the engine and the S3 client's own CPU decrypt about 2.5 times as fast as one GET
# stream delivers the ciphertext (bench/decrypt_cpus.py), so the stream is what sets the time.
DECRYPT_BYTES_PER_SECOND: Final = S3_GET_STREAM_BYTES_PER_SECOND
# Per item: the child execution's start, task and end, plus retries now and then.
TRANSITIONS_PER_ITEM: Final = 4
# Per item: its writes (object, result, manifest) and reads (GETs, heads, manifest reads).
S3_WRITES_PER_ITEM: Final = 3
S3_READS_PER_ITEM: Final = 3
DYNAMODB_WRITES_PER_ITEM: Final = 2
DYNAMODB_READS_PER_ITEM: Final = 1
PART_BYTES: Final = 8 * 1024 * 1024
# The split by course (stacks/sync_functions.py deploys it at one vCPU, as Decrypt): it parses
# every event, so its time follows the plaintext. Event logs are JSON that gzip shrinks about
# tenfold; the engine split 53-58 MB of plaintext a second on one core of this kind of machine
# (bench/course_split.py, 128 MB org-days of 10 and 2,000 courses), taken as 50 to leave room
# for a slower vCPU. Each course file is one PUT (or a multipart upload for a large one).
SPLIT_MEMORY_MB: Final = MB_PER_VCPU
SPLIT_MEMORY_GB: Final = SPLIT_MEMORY_MB / MB_PER_BILLED_GB
EVENT_LOG_EXPANSION: Final = 10
SPLIT_PLAINTEXT_BYTES_PER_SECOND: Final = 50_000_000
# The UpdateCatalog step, once per run whatever the run did (stacks/sync_functions.py deploys it
# at 1,024 MB): per SELECT * table of either tier, a LIST of its folder (one page per 1,000 files: one counted)
# and a ranged GET of one header; Glue's GetTable / CreateTable / UpdateTable fall within its
# free million requests a month (docs/cost.md), so they are not priced. Its time is taken as 10 s:
# a few dozen requests, a few tables at a time.
CATALOG_MEMORY_GB: Final = 1024 / MB_PER_BILLED_GB
CATALOG_SECONDS: Final = 10
CATALOG_TABLES: Final = len(header_tables())


# The de-identify step (stacks/sync_functions.py deploys it at one vCPU): it parses every line,
# about 13 MB of plaintext a second on one core: bench/deidentify_events.py measured 20 MB/s on
# an idle machine and 13 on a busy one; the lower figure keeps the estimate on the safe side.
# Its originals' bytes are taken as gzip event files (EVENT_LOG_EXPANSION times the plaintext),
# which overstates the tables (plain TSV, a small share of the bytes). Per copy: a GET, a PUT,
# about one KMS request, and its share of a Map item.
DEIDENTIFY_MEMORY_GB: Final = MB_PER_VCPU / MB_PER_BILLED_GB
DEIDENTIFY_PLAINTEXT_BYTES_PER_SECOND: Final = 13_000_000


@dataclass(frozen=True)
class RunVolume:
    mirrored_objects: int
    mirrored_bytes: int
    decrypted_units: int
    decrypted_bytes: int
    split_logs: int = 0
    course_files: int = 0
    course_file_bytes: int = 0


def estimate_run_cost_usd(volume: RunVolume) -> float:
    """The estimated cost of one run in US dollars (see the module docstring for the model)."""
    items = volume.mirrored_objects + volume.decrypted_units + volume.split_logs
    split_plaintext = volume.course_file_bytes * EVENT_LOG_EXPANSION
    lambda_seconds_gb = (
        volume.mirrored_bytes / MIRROR_BYTES_PER_SECOND * MIRROR_MEMORY_GB
        + volume.decrypted_bytes / DECRYPT_BYTES_PER_SECOND * DECRYPT_MEMORY_GB
        + split_plaintext / SPLIT_PLAINTEXT_BYTES_PER_SECOND * SPLIT_MEMORY_GB
        + items * 0.2 * DECRYPT_MEMORY_GB  # start-up and per-request latency
        + CATALOG_SECONDS * CATALOG_MEMORY_GB
    )
    parts = (
        volume.mirrored_bytes + volume.decrypted_bytes + volume.course_file_bytes
    ) // PART_BYTES + volume.course_files
    cost = (
        lambda_seconds_gb * LAMBDA_GB_SECOND_USD
        + (items + 4) * LAMBDA_REQUEST_USD
        + (items * TRANSITIONS_PER_ITEM + 11) * STEP_FUNCTIONS_TRANSITION_USD
        + (items * S3_WRITES_PER_ITEM + parts + CATALOG_TABLES) * S3_WRITE_REQUEST_USD
        + (items * S3_READS_PER_ITEM + parts + CATALOG_TABLES) * S3_READ_REQUEST_USD
        + items * DYNAMODB_WRITES_PER_ITEM * DYNAMODB_WRITE_USD
        + items * DYNAMODB_READS_PER_ITEM * DYNAMODB_READ_USD
        + (items + volume.course_files) * KMS_REQUEST_USD  # bucket keys: ~one per object
    )
    return round(cost, 4)


def estimate_deidentify_cost_usd(copies: int, original_bytes: int) -> float:
    """The estimated cost of one run's de-identified copies in US dollars.

    Parameters
    ----------
    copies
        The copies the run made.
    original_bytes
        The bytes of their originals, as published (gzip for event files).
    """
    plaintext = original_bytes * EVENT_LOG_EXPANSION
    lambda_seconds_gb = (
        plaintext / DEIDENTIFY_PLAINTEXT_BYTES_PER_SECOND + copies * 0.2
    ) * DEIDENTIFY_MEMORY_GB
    parts = original_bytes // PART_BYTES
    cost = (
        lambda_seconds_gb * LAMBDA_GB_SECOND_USD
        + (copies + 1) * LAMBDA_REQUEST_USD
        + (copies * TRANSITIONS_PER_ITEM + 2) * STEP_FUNCTIONS_TRANSITION_USD
        + (copies + parts) * S3_WRITE_REQUEST_USD
        + (copies + parts) * S3_READ_REQUEST_USD
        + copies * KMS_REQUEST_USD
    )
    return round(cost, 4)
