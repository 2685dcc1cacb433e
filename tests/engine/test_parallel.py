"""ordered_map: results in the items' order, a bounded window, and the first error let through."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest

from edx_vault.engine.parallel import WINDOW_PER_WORKER, ordered_map


class ReadFailedError(Exception):
    """What a failed read raises in these tests (a stand-in for botocore's errors)."""


def test_results_come_in_the_items_order_whatever_order_the_calls_finish_in() -> None:
    # Given calls that finish in a shuffled order (each sleeps a random few milliseconds)
    delays = random.Random(7).sample(range(40), 40)
    finished: list[int] = []
    lock = threading.Lock()

    def slow_square(item: int) -> int:
        time.sleep(delays[item] / 4000)
        with lock:
            finished.append(item)
        return item * item

    # When they are mapped on four threads
    results = list(ordered_map(slow_square, range(40), workers=4))
    # Then the results are in the items' order, though the calls did not finish in it
    assert results == [item * item for item in range(40)]
    assert finished != sorted(finished)


def test_calls_run_concurrently_on_at_most_the_given_threads() -> None:
    # Given calls that record how many of them run at once
    running = peak = 0
    lock = threading.Lock()

    def tracked(item: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.005)
        with lock:
            running -= 1
        return item

    # When 30 items are mapped on three threads
    assert list(ordered_map(tracked, range(30), workers=3)) == list(range(30))
    # Then up to three ran at once, never more
    assert peak == 3


def test_items_are_taken_a_bounded_window_ahead_of_the_caller() -> None:
    # Given a generator that counts how many items were taken from it
    taken = 0

    def items() -> Iterator[int]:
        nonlocal taken
        for item in range(10_000):
            taken += 1
            yield item

    # When the caller has taken only the first result
    mapped = ordered_map(lambda item: item, items(), workers=2)
    assert next(mapped) == 0
    # Then only a window's worth of items was taken, not all 10,000
    assert taken <= 2 * WINDOW_PER_WORKER + 1


@pytest.mark.parametrize("failing", [0, 17, 39])
def test_a_failed_call_raises_its_own_error_and_no_later_call_starts(failing: int) -> None:
    # Given 40 items of which one fails when read (the first, one inside, the last)
    started: list[int] = []
    lock = threading.Lock()

    def read(item: int) -> int:
        with lock:
            started.append(item)
        if item == failing:
            raise ReadFailedError(f"item {item} could not be read")
        time.sleep(0.001)
        return item

    # When they are mapped
    with pytest.raises(ReadFailedError, match=f"item {failing} could not be read") as raised:
        list(ordered_map(read, range(40), workers=4))
    # Then the error is the call's own exception, not wrapped, and not turned into a result
    assert type(raised.value) is ReadFailedError
    # And items beyond the window after it never started
    assert max(started) <= failing + 4 * WINDOW_PER_WORKER


def test_an_error_is_raised_when_the_caller_reaches_its_item_not_before() -> None:
    # Given the third item fails
    def read(item: int) -> int:
        if item == 2:
            raise ReadFailedError("third")
        return item

    mapped = ordered_map(read, range(10), workers=2)
    # When the caller takes results one by one
    # Then the first two come through, and the third raises
    assert [next(mapped), next(mapped)] == [0, 1]
    with pytest.raises(ReadFailedError, match="third"):
        next(mapped)


def test_no_threads_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(ordered_map(lambda item: item, [1], workers=0))
