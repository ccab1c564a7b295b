"""Which accepted calls a batch of the access log waits for (gateway/audit/arrivals.py), without a server."""
from __future__ import annotations

import gc
import threading

import pytest

from gateway.audit.arrivals import Arrivals


class Wakes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def arrivals() -> Arrivals:
    a = Arrivals(threads=4)
    a.wake = Wakes()
    return a


def wakes(a: Arrivals) -> int:
    assert isinstance(a.wake, Wakes)
    return a.wake.count


def test_nothing_expected_is_never_worth_waiting_for(arrivals: Arrivals) -> None:
    assert arrivals.expected() == 0
    assert not arrivals.worth_waiting(0) and not arrivals.worth_waiting(1)


def test_an_accepted_call_is_expected_until_its_entry_is_queued(arrivals: Arrivals) -> None:
    call = arrivals.expect()
    assert arrivals.expected() == 1 and arrivals.worth_waiting(1)  # a thread is free to run it
    call.enter()
    arrivals.queued()  # this thread's call queued its entry
    assert arrivals.expected() == 0 and not arrivals.worth_waiting(1)
    assert wakes(arrivals) == 0, "the queued entry itself wakes the writer; no second wake-up"
    call.leave()
    assert wakes(arrivals) == 0 and arrivals.expected() == 0


def test_a_running_call_is_worth_waiting_for_however_full_the_batch(arrivals: Arrivals) -> None:
    call = arrivals.expect()
    call.enter()
    assert arrivals.worth_waiting(4) and arrivals.worth_waiting(100)


def test_an_accepted_call_no_thread_can_start_is_not_worth_waiting_for(arrivals: Arrivals) -> None:
    """Every worker thread waits in the batch for its commit: the accepted call cannot start before the commit."""
    accepted = arrivals.expect()
    assert arrivals.worth_waiting(3)
    assert not arrivals.worth_waiting(4)
    assert accepted.open


def test_a_call_that_ends_without_an_entry_releases_it_and_wakes_the_writer(arrivals: Arrivals) -> None:
    call = arrivals.expect()
    call.enter()
    call.leave()  # refused by gRPC's own checks, or failed before its handler logged
    assert arrivals.expected() == 0 and wakes(arrivals) == 1
    call.leave()
    assert wakes(arrivals) == 1, "released once only"


def test_a_call_gRPC_never_runs_is_released_when_its_handler_is_dropped(arrivals: Arrivals) -> None:
    """gRPC refuses a call over its concurrency bound after the interceptors made its handler: the behaviour that
    holds the arrival never runs, and is dropped."""
    call = arrivals.expect()
    del call
    gc.collect()
    assert arrivals.expected() == 0 and wakes(arrivals) == 1


def test_a_thread_serving_no_expected_call_changes_nothing(arrivals: Arrivals) -> None:
    accepted = arrivals.expect()
    arrivals.queued()  # e.g. the console's thread, or the log's own alert entries
    assert arrivals.expected() == 1 and accepted.open


def test_the_call_served_is_per_thread(arrivals: Arrivals) -> None:
    mine, theirs = arrivals.expect(), arrivals.expect()
    mine.enter()
    done = threading.Event()

    def other() -> None:
        theirs.enter()
        arrivals.queued()
        done.set()

    t = threading.Thread(target=other)
    t.start()
    t.join(10)
    assert done.is_set()
    assert arrivals.expected() == 1, "the other thread's entry released its own call only"
    arrivals.queued()
    assert arrivals.expected() == 0


def test_a_server_has_at_least_one_thread() -> None:
    with pytest.raises(ValueError, match="at least one worker thread"):
        Arrivals(threads=0)
