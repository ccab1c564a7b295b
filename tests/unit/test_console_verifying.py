"""The console's periodic full verification: runs at once, keeps running after a failed run, stops when asked."""
from __future__ import annotations

import threading

import pytest

from gateway.console.verifying import PeriodicVerification, VerifySettingError, interval


def test_runs_at_start_survives_an_error_and_stops() -> None:
    ran = threading.Event()
    calls: list[int] = []

    def verify() -> None:
        calls.append(1)
        ran.set()
        raise RuntimeError("the store is gone")  # logged; the thread goes on

    job = PeriodicVerification(verify, every=3600).start()
    assert ran.wait(10)
    job.stop(timeout=10)
    assert not job._thread.is_alive() and calls == [1] and job.runs == 1


def test_the_next_run_comes_after_the_interval() -> None:
    twice = threading.Event()
    calls: list[int] = []

    def verify() -> None:
        calls.append(1)
        if len(calls) == 2:
            twice.set()

    job = PeriodicVerification(verify, every=0.01).start()
    assert twice.wait(10)
    job.stop(timeout=10)
    assert not job._thread.is_alive()


@pytest.mark.parametrize("value", [0, -1, True, "3600", 10 * 86400])
def test_a_bad_interval_is_refused(value: object) -> None:
    with pytest.raises(VerifySettingError):
        interval(value)


def test_a_good_interval() -> None:
    assert interval(3600) == 3600.0
