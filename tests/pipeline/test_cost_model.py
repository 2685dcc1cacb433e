"""The run report's cost estimate: decrypt time from bytes at the modeled rate, priced per GB-s."""

from __future__ import annotations

import pytest

from edx_vault.pipeline import cost_model
from edx_vault.pipeline.cost_model import RunVolume, estimate_run_cost_usd

GIB = 1024**3


def test_decrypted_bytes_cost_their_lambda_seconds_at_the_decrypt_memory() -> None:
    # Given two runs that differ only in the bytes decrypted (a whole number of parts)
    small = RunVolume(mirrored_objects=0, mirrored_bytes=0, decrypted_units=1, decrypted_bytes=0)
    large = RunVolume(
        mirrored_objects=0, mirrored_bytes=0, decrypted_units=1, decrypted_bytes=100 * GIB
    )
    # When both are estimated
    difference = estimate_run_cost_usd(large) - estimate_run_cost_usd(small)
    # Then the difference is the Lambda time for those bytes at the decrypt function's memory,
    # plus a PUT and a GET per 8 MiB part
    seconds = 100 * GIB / cost_model.DECRYPT_BYTES_PER_SECOND
    parts = 100 * GIB // cost_model.PART_BYTES
    compute = seconds * cost_model.DECRYPT_MEMORY_GB * cost_model.LAMBDA_GB_SECOND_USD
    requests = parts * (cost_model.S3_WRITE_REQUEST_USD + cost_model.S3_READ_REQUEST_USD)
    expected = compute + requests
    assert difference == pytest.approx(expected, abs=1e-4)


def test_decrypting_100_gib_is_about_twenty_minutes_of_lambda_and_cents() -> None:
    # Given the modeled decrypt rate (one S3 GET stream, ~85 MB/s) and memory
    seconds = 100 * GIB / cost_model.DECRYPT_BYTES_PER_SECOND
    usd = seconds * cost_model.DECRYPT_MEMORY_GB * cost_model.LAMBDA_GB_SECOND_USD
    # Then 100 GiB take about 1,260 s of function time and cost a few cents
    # (docs/cost.md quotes these figures)
    assert seconds == pytest.approx(1263, rel=0.01)
    assert usd == pytest.approx(0.036, abs=0.001)


def test_lambda_bills_memory_in_gb_of_1024_mb() -> None:
    # The decrypt function's 1769 MB are billed as 1769 / 1024 GB, not 1.769
    billed = {"decrypt": cost_model.DECRYPT_MEMORY_GB, "mirror": cost_model.MIRROR_MEMORY_GB}
    assert billed == {"decrypt": pytest.approx(1769 / 1024), "mirror": 1.0}


def test_the_price_is_the_x86_64_one_the_stack_deploys() -> None:
    # stacks/lambda_layers.py deploys x86_64 (tests/infra check the functions' architecture)
    prices = cost_model.LAMBDA_GB_SECOND_USD_BY_ARCHITECTURE
    used = cost_model.LAMBDA_GB_SECOND_USD
    assert used == prices["x86_64"]
    # and arm64 is the cheaper one per GB-second, should the stack ever move to it
    assert prices["arm64"] < prices["x86_64"]


def test_a_run_with_nothing_to_do_costs_only_its_fixed_steps() -> None:
    # Given a run that mirrored and decrypted nothing
    nothing = RunVolume(mirrored_objects=0, mirrored_bytes=0, decrypted_units=0, decrypted_bytes=0)
    # Then it costs the three fixed invocations and ten transitions: a fraction of a cent
    assert 0 < estimate_run_cost_usd(nothing) < 0.001


def test_a_gb_of_gzip_event_files_costs_its_de_identifying_time() -> None:
    # Given the modeled de-identify rate (13 MB/s of plaintext, ten times the gzip bytes)
    one_gb = cost_model.estimate_deidentify_cost_usd(copies=1, original_bytes=10**9)
    nothing = cost_model.estimate_deidentify_cost_usd(copies=1, original_bytes=0)
    # Then a GB of gzip event files is about 770 s of one vCPU, about $0.022 (docs/cost.md)
    seconds = 10**10 / cost_model.DEIDENTIFY_PLAINTEXT_BYTES_PER_SECOND
    assert seconds == pytest.approx(770, rel=0.01)
    assert one_gb - nothing == pytest.approx(0.022, abs=0.001)
