"""The combiner the shared counters use (gateway/watch/combining.py): items submitted while another is being worked
on are run together, a domain's in the order they came and split where their variant changes; every caller gets
its own item's result or its own batch's error; nothing is left waiting, also when the work is interrupted.
"""
from __future__ import annotations

import threading

import pytest

from gateway.watch.combining import Combiner
from tests.helpers import wait_until

Item = tuple[str, str, int]  # domain, variant, number


class Held:
    """A run that records its batches, holds the first one until let go, and fails as it is told."""

    def __init__(self) -> None:
        self.go, self.inside = threading.Event(), threading.Event()
        self.go.set()  # open unless a test holds it
        self.batches: list[list[int]] = []
        self.fail: dict[int, BaseException] = {}  # a batch holding this number raises this
        self.short = False

    def run(self, batch: list[Item]) -> list[int]:
        self.inside.set()
        assert self.go.wait(30)
        numbers = [n for *_, n in batch]
        self.batches.append(numbers)
        for n in numbers:
            if n in self.fail:
                raise self.fail[n]
        return [n * 10 for n in numbers][:-1] if self.short else [n * 10 for n in numbers]


def start(combiner: Combiner[Item, int], items: list[Item]) -> tuple[list[threading.Thread], dict[int, object]]:
    """Submit each item from a thread of its own, the first one running, each other queued before the next."""
    got: dict[int, object] = {}

    def submit(item: Item) -> None:
        try:
            got[item[2]] = combiner.submit(item)
        except BaseException as exc:  # what the caller sees
            got[item[2]] = exc

    threads = []
    for i, item in enumerate(items):
        threads.append(threading.Thread(target=submit, args=(item,), daemon=True))
        threads[-1].start()
        if i == 0:
            wait_until(lambda: combiner.waiting == 0 and held_inside(combiner), "the first to be running")
        else:
            wait_until(lambda i=i: combiner.waiting == i, "the item to queue")
    return threads, got


def held_inside(combiner: Combiner[Item, int]) -> bool:
    return combiner._run.__self__.inside.is_set()  # type: ignore[attr-defined]  # noqa: SLF001


def finish(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a caller was left waiting"


def combiner_of(held: Held, max_batch: int = 64) -> Combiner[Item, int]:
    return Combiner(held.run, lambda item: (item[0], item[1]), max_batch=max_batch)


def test_a_domains_items_run_in_order_split_where_the_variant_changes() -> None:
    held = Held()
    held.go.clear()
    c = combiner_of(held)
    items = [("p1", "a", 0), ("p1", "a", 1), ("p1", "a", 2), ("p1", "b", 3), ("p2", "a", 4), ("p1", "a", 5)]
    threads, got = start(c, items)
    held.go.set()
    finish(threads)
    assert held.batches == [[0], [1, 2], [3], [4], [5]]
    assert got == {n: n * 10 for *_, n in items} and c.batches == 5


def test_a_failing_batch_fails_its_own_callers_only() -> None:
    held = Held()
    held.go.clear()
    held.fail = {3: ConnectionError("gone")}
    c = combiner_of(held)
    threads, got = start(c, [("p1", "a", 0), ("p1", "a", 1), ("p2", "a", 3), ("p2", "a", 4), ("p3", "a", 5)])
    held.go.set()
    finish(threads)
    assert got[0] == 0 and got[1] == 10 and got[5] == 50
    assert isinstance(got[3], ConnectionError) and got[4] is got[3]


def test_a_run_that_answers_the_wrong_number_of_items_fails_each_of_them() -> None:
    held = Held()
    held.short = True
    c = combiner_of(held)
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        c.submit(("p1", "a", 0))


def test_at_most_max_batch_items_are_taken_at_once() -> None:
    held = Held()
    held.go.clear()
    c = combiner_of(held, max_batch=2)
    threads, got = start(c, [("p", "a", n) for n in range(6)])
    held.go.set()
    finish(threads)
    assert held.batches == [[0], [1, 2], [3, 4], [5]] and len(got) == 6


def test_an_interrupted_worker_leaves_nobody_waiting() -> None:
    class Stop(BaseException):
        pass

    held = Held()
    held.go.clear()
    held.fail = {1: Stop()}
    c = combiner_of(held)
    threads, got = start(c, [("p", "a", 0), ("p", "a", 1), ("p", "a", 2), ("q", "a", 3)])
    held.go.set()
    finish(threads)
    assert got[0] == 0
    assert isinstance(got[1], Stop)  # its caller was the one working: the interruption is its own
    assert isinstance(got[2], RuntimeError) and isinstance(got[3], RuntimeError)  # told so, not left waiting
    assert c.submit(("p", "a", 9)) == 90  # and the combiner works on


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Combiner(lambda items: items, lambda item: (item, None), max_batch=0)
