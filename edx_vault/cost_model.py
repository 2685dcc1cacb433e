"""A rough estimate of what one sync run cost, for the run report.

List prices of us-east-1 (late 2026); other regions differ by a few percent. Durations are not
measured per item here, so Lambda time is estimated from the bytes moved at the throughputs we
measured (bench/decrypt_throughput.py, and moto-free S3 figures from AWS's guidance). The point
is the order of magnitude an admin can budget with, not an invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

LAMBDA_GB_SECOND_USD: Final = 0.0000166667
LAMBDA_REQUEST_USD: Final = 0.20 / 1_000_000
STEP_FUNCTIONS_TRANSITION_USD: Final = 0.025 / 1000
S3_WRITE_REQUEST_USD: Final = 0.005 / 1000
S3_READ_REQUEST_USD: Final = 0.0004 / 1000
DYNAMODB_WRITE_USD: Final = 1.25 / 1_000_000
DYNAMODB_READ_USD: Final = 0.25 / 1_000_000
KMS_REQUEST_USD: Final = 0.03 / 10_000

MIRROR_MEMORY_GB: Final = 1.0
DECRYPT_MEMORY_GB: Final = 1.769  # one full vCPU, gpg's and Python's threads share it
MIRROR_BYTES_PER_SECOND: Final = 50 * 1024 * 1024
DECRYPT_BYTES_PER_SECOND: Final = 100 * 1024 * 1024
# Per item: the child execution's start, task and end, plus retries now and then.
TRANSITIONS_PER_ITEM: Final = 4
# Per item: its writes (object, result, manifest) and reads (GETs, heads, manifest reads).
S3_WRITES_PER_ITEM: Final = 3
S3_READS_PER_ITEM: Final = 3
DYNAMODB_WRITES_PER_ITEM: Final = 2
DYNAMODB_READS_PER_ITEM: Final = 1
PART_BYTES: Final = 8 * 1024 * 1024


@dataclass(frozen=True)
class RunVolume:
    mirrored_objects: int
    mirrored_bytes: int
    decrypted_units: int
    decrypted_bytes: int


def estimate_run_cost_usd(volume: RunVolume) -> float:
    """The estimated cost of one run in US dollars (see the module docstring for the model)."""
    items = volume.mirrored_objects + volume.decrypted_units
    lambda_seconds_gb = (
        volume.mirrored_bytes / MIRROR_BYTES_PER_SECOND * MIRROR_MEMORY_GB
        + volume.decrypted_bytes / DECRYPT_BYTES_PER_SECOND * DECRYPT_MEMORY_GB
        + items * 0.2 * DECRYPT_MEMORY_GB  # start-up and per-request latency
    )
    parts = (volume.mirrored_bytes + volume.decrypted_bytes) // PART_BYTES
    cost = (
        lambda_seconds_gb * LAMBDA_GB_SECOND_USD
        + (items + 3) * LAMBDA_REQUEST_USD
        + (items * TRANSITIONS_PER_ITEM + 10) * STEP_FUNCTIONS_TRANSITION_USD
        + (items * S3_WRITES_PER_ITEM + parts) * S3_WRITE_REQUEST_USD
        + (items * S3_READS_PER_ITEM + parts) * S3_READ_REQUEST_USD
        + items * DYNAMODB_WRITES_PER_ITEM * DYNAMODB_WRITE_USD
        + items * DYNAMODB_READS_PER_ITEM * DYNAMODB_READ_USD
        + items * KMS_REQUEST_USD  # bucket keys keep this near one request per object
    )
    return round(cost, 4)
