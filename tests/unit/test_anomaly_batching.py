"""The shared anomaly detector counts the entries of calls made at once together: one thread counts every waiting
observation (count_anomalies_many, a transaction per principal) while the others sleep until theirs is done.

With fake counters: each caller gets the answer to its own entry; a principal's entries reach the counter in the
order they came; nothing is left waiting and no thread counts for ever; a failed batch costs the alerts of its own
entries, never the call, and the next batch is counted.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence

from gateway.watch.anomalies import DENIED_STORM
from gateway.watch.shared_anomalies import MAX_BATCH, SharedAnomalyDetector, Tally
from tests.helpers import wait_until
from tests.unit.test_anomalies import WED_22, entry, make_settings, rules

DEADLINE = 30.0  # seconds an observed event may take to happen before the test fails


class Gated:
    """Answers each entry with its own time as the count (so each caller can tell its answer from another's);
    can be held shut, so that calls pile up behind the one inside it; records each call's entries."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.open.set()
        self.inside = threading.Event()
        self.calls: list[list[tuple[str, float]]] = []
        self.fail: Exception | None = None
        self._lock = threading.Lock()

    def _enter(self, principal: str, times: list[float]) -> None:
        self.inside.set()
        assert self.open.wait(DEADLINE)
        with self._lock:
            self.calls.append([(principal, t) for t in times])
        if self.fail is not None:
            raise self.fail

    def count_anomalies(self, principal: str, now: float, tallies: Sequence[Tally],
                        cooldown: float) -> list[tuple[str, int]]:
        self._enter(principal, [now])
        return [(kind, int(now)) for kind, *_ in tallies]

    def count_anomalies_many(self, principal: str, observations: Sequence[tuple[float, Sequence[Tally]]],
                             cooldown: float) -> list[list[tuple[str, int]]]:
        self._enter(principal, [now for now, _ in observations])
        return [[(kind, int(now)) for kind, *_ in tallies] for now, tallies in observations]

    def prune_anomalies(self, idle_before: float, limit: int) -> int:
        return 0


def detector(counter: Gated) -> SharedAnomalyDetector:
    return SharedAnomalyDetector(make_settings(default=rules(bulk=None, off=None, storm=1)), counter)


def observe_in_threads(d: SharedAnomalyDetector, times: list[float], principal: str = "school/330203/S1",
                       ) -> tuple[list[threading.Thread], dict[float, list[tuple[str, int]]]]:
    got: dict[float, list[tuple[str, int]]] = {}

    def call(t: float) -> None:
        got[t] = [(a.kind, a.count) for a in d.observe(entry(t, principal=principal, decision="deny"))]

    threads = [threading.Thread(target=call, args=(t,), daemon=True) for t in times]
    for thread in threads:
        thread.start()
    return threads, got


def join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(DEADLINE)
    assert not any(thread.is_alive() for thread in threads), "an observation was left waiting"


def test_calls_at_once_are_counted_together_and_each_gets_its_own_answer() -> None:
    counter = Gated()
    d = detector(counter)
    counter.open.clear()
    first, got = observe_in_threads(d, [WED_22])  # counts its own entry, held inside the counter
    assert counter.inside.wait(DEADLINE)
    times = [WED_22 + i for i in range(1, 11)]
    rest, got_rest = observe_in_threads(d, times)
    wait_until(lambda: d.waiting == len(times), "every other call waits", DEADLINE)
    counter.open.set()
    join(first + rest)
    assert got == {WED_22: [(DENIED_STORM, int(WED_22))]}
    assert got_rest == {t: [(DENIED_STORM, int(t))] for t in times}  # each caller its own entry's answer
    assert [len(c) for c in counter.calls] == [1, len(times)] and d.batches == 2
    assert sorted(t for _, t in counter.calls[1]) == times


def test_a_principals_entries_reach_the_counter_in_the_order_they_came() -> None:
    counter = Gated()
    d = detector(counter)
    counter.open.clear()
    first, _ = observe_in_threads(d, [WED_22])
    assert counter.inside.wait(DEADLINE)
    threads: list[threading.Thread] = []
    for i in range(1, 6):  # started one after another: each queued before the next starts
        more, _ = observe_in_threads(d, [WED_22 + i], principal="school/330203/S1" if i % 2 else "clinic/330204/C")
        threads += more
        wait_until(lambda n=i: d.waiting == n, "the call waits", DEADLINE)
    counter.open.set()
    join(first + threads)
    batches = {calls[0][0]: [t for _, t in calls] for calls in counter.calls[1:]}
    assert batches == {"school/330203/S1": [WED_22 + 1, WED_22 + 3, WED_22 + 5],
                       "clinic/330204/C": [WED_22 + 2, WED_22 + 4]}  # one transaction per principal, in order


def test_no_observation_is_left_waiting_and_each_is_counted_once() -> None:
    """Many threads observing in a loop: every one returns with its own answer, every entry counted once."""
    counter = Gated()
    d = detector(counter)
    per_thread, threads_n = 150, 16
    failures: list[BaseException] = []
    answers: list[bool] = []

    def loop(k: int) -> None:
        try:
            for i in range(per_thread):
                t = WED_22 + k * 10_000 + i
                found = d.observe(entry(t, principal=f"school/330203/S{k % 3}", decision="deny"))
                answers.append([(a.kind, a.count) for a in found] == [(DENIED_STORM, int(t))])
        except BaseException as exc:  # any failure fails the test
            failures.append(exc)

    threads = [threading.Thread(target=loop, args=(k,), daemon=True) for k in range(threads_n)]
    for thread in threads:
        thread.start()
    join(threads)
    assert failures == [] and len(answers) == per_thread * threads_n and all(answers)
    counted = [t for calls in counter.calls for _, t in calls]
    assert len(counted) == len(set(counted)) == per_thread * threads_n
    assert max(len(c) for c in counter.calls) <= MAX_BATCH
    for k in range(threads_n):  # each thread's entries, one principal's among others, in the order they came
        mine = [t for t in counted if k * 10_000 <= t - WED_22 < (k + 1) * 10_000]
        assert mine == sorted(mine)


def test_a_failed_batch_costs_its_entries_alerts_never_the_call_and_the_next_is_counted() -> None:
    counter = Gated()
    d = detector(counter)
    counter.open.clear()
    counter.fail = ConnectionError("server closed the connection")
    first, got_first = observe_in_threads(d, [WED_22])
    assert counter.inside.wait(DEADLINE)
    rest, got = observe_in_threads(d, [WED_22 + i for i in range(1, 5)])
    wait_until(lambda: d.waiting == 4, "every other call waits", DEADLINE)
    counter.open.set()
    join(first + rest)
    assert got_first == {WED_22: []} and len(got) == 4 and all(v == [] for v in got.values())
    assert d.failures == 5  # each entry of the failed transactions, counted once
    counter.fail = None
    assert [(a.kind, a.count) for a in d.observe(entry(WED_22 + 9, decision="deny"))] == [(DENIED_STORM,
                                                                                          int(WED_22 + 9))]
    assert d.failures == 5
