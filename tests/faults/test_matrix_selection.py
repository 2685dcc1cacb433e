"""Which fault cases `make test` runs: every skipped case names a kept case of its own kind."""

from __future__ import annotations

from tests.faults.test_fault_matrix import (
    FAULTS,
    PERSISTENT_COVERED_BY,
    PERSISTENT_IN_MAKE_TEST,
    TRANSIENT_COVERED_BY,
)

CASES = {f"{fault.step}-{fault.call}" for fault in FAULTS}


def test_each_transient_case_left_to_make_test_faults_names_one_make_test_runs() -> None:
    # Given the transient cases that share another's path
    # When their keys and the cases they point at are looked up
    # Then both are cases of the matrix, and the one pointed at is not skipped itself
    assert set(TRANSIENT_COVERED_BY) <= CASES
    assert set(TRANSIENT_COVERED_BY.values()) <= CASES - set(TRANSIENT_COVERED_BY)


def test_each_persistent_case_left_to_make_test_faults_names_a_case_of_the_matrix() -> None:
    # Given the persistent cases that share another's path, and those make test runs
    # Then every name is a case of the matrix, and what make test runs is not said covered
    assert set(PERSISTENT_COVERED_BY) | set(PERSISTENT_COVERED_BY.values()) <= CASES
    assert set(PERSISTENT_IN_MAKE_TEST).isdisjoint(PERSISTENT_COVERED_BY)
    assert set(PERSISTENT_IN_MAKE_TEST) <= CASES


def test_make_test_still_runs_a_transient_case_of_every_step() -> None:
    # Given the transient cases make test runs
    kept = CASES - set(TRANSIENT_COVERED_BY)
    # Then each step of the sync (a Map's own reads and writes too) still has at least one
    for step in {fault.step for fault in FAULTS}:
        assert any(case.startswith(f"{step}-") for case in kept), step
