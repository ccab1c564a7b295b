"""Anomaly counts in batches (AnomalyCounts.count_anomalies_many) against the same entries counted one at a time
(count_anomalies, the statements that define the counting), on SQLite and on PostgreSQL.

What must hold: for every entry the same alerts with the same counts, and afterwards the same rows in every anomaly
table — whatever the batches, with times going backwards, ties, windows expiring and filling past their threshold,
cooldowns ending exactly on time, and a person named twice in one entry. The cases are generated from fixed seeds
(the same every run) and a few are written out by hand.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store import anomaly_counts
from gateway.store.anomaly_counts import BATCH_READ_LIMIT, Tally
from gateway.store.crypto import FieldCipher
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore
from tests.pg import own_login

Store = SqliteStore | PostgresStore
Observation = tuple[float, list[Tally]]
PEOPLE = ("people", 3, 20)  # kind, threshold, window seconds
NIGHT = ("night", 4, 30)
DENIED = ("denied", 2, 10)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two empty stores of one backend: one counts entry by entry, the other in batches."""
    cipher = FieldCipher(bytes(32), bytes(range(32)))
    if request.param == "sqlite":
        one, many = SqliteStore(tmp_path / "one.db", cipher), SqliteStore(tmp_path / "many.db", cipher)
        yield one, many
        one.close(), many.close()
        return
    with own_login("anombatch") as login:
        one = PostgresStore(login.dsn, cipher, schema="one")
        many = PostgresStore(login.dsn, cipher, schema="many")
        try:
            yield one, many
        finally:
            one.close(), many.close()


def tables(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Every anomaly row, comparably: each window's requests in the order of their ids (the ids themselves differ,
    and so does their order across windows, which nothing reads)."""
    q = store._query  # noqa: SLF001 - the rows are what is compared
    return {
        "principals": [tuple(r) for r in q("SELECT principal, latest FROM anomaly_principals ORDER BY principal")],
        "subjects": [tuple(r) for r in q("SELECT principal, kind, subject, t FROM anomaly_subjects "
                                         "ORDER BY principal, kind, subject")],
        "requests": [tuple(r) for r in q("SELECT principal, kind, t FROM anomaly_requests ORDER BY principal, kind, "
                                         "id")],
        "alerts": [tuple(r) for r in q("SELECT principal, kind, fired FROM anomaly_alerts ORDER BY principal, kind")],
    }


def person(n: int) -> str:
    return f"{n:064x}"


def tallies(rng: random.Random, rules: dict[str, tuple[int, int]]) -> list[Tally]:
    out: list[Tally] = []
    if rng.random() < 0.7:
        named = [person(rng.randrange(8)) for _ in range(rng.randint(1, 3))]  # repeats included
        out.append((PEOPLE[0], tuple(named), *rules[PEOPLE[0]]))
    for kind in (NIGHT[0], DENIED[0]):
        if rng.random() < 0.5:
            out.append((kind, None, *rules[kind]))
    rng.shuffle(out)
    return out


def generated(seed: int, n: int) -> tuple[list[Observation], float, dict[str, tuple[int, int]]]:
    """n entries of one principal: mostly a few seconds apart, some at the same time, some earlier than the last."""
    rng = random.Random(seed)
    rules = {kind: (rng.randint(1, threshold), rng.choice((window, window // 2, 1)))
             for kind, threshold, window in (PEOPLE, NIGHT, DENIED)}
    cooldown = float(rng.choice((0, 5, 12, 60)))
    t, out = 1_000_000.0, []
    for _ in range(n):
        step = rng.random()
        t += 0.0 if step < 0.15 else -rng.uniform(0, 8) if step < 0.25 else rng.choice((0.5, 1.0, 2.0, 5.0, 11.0))
        out.append((t, tallies(rng, rules)))
    return out, cooldown, rules


def chunks(rng: random.Random, items: list[Observation]) -> Iterator[list[Observation]]:
    i = 0
    while i < len(items):
        size = rng.randint(1, 7)
        yield items[i:i + size]
        i += size


def both(pair: tuple[Store, Store], principal: str, observations: list[Observation], cooldown: float,
         rng: random.Random) -> tuple[list[list[tuple[str, int]]], list[list[tuple[str, int]]]]:
    one, many = pair
    singly = [one.count_anomalies(principal, now, t, cooldown) for now, t in observations]
    batched = [fired for chunk in chunks(rng, observations)
               for fired in many.count_anomalies_many(principal, chunk, cooldown)]
    return singly, batched


@pytest.mark.parametrize("seed", range(12))
def test_batches_count_as_one_entry_at_a_time(pair: tuple[Store, Store], seed: int) -> None:
    rng = random.Random(1000 + seed)
    for principal in ("school/330203/A", "clinic/330204/B"):  # two principals, each its own windows
        observations, cooldown, _ = generated(seed * 2 + (principal[0] == "c"), 120)
        singly, batched = both(pair, principal, observations, cooldown, rng)
        assert batched == singly
        assert any(singly), "the case should set off alerts"
    assert tables(pair[1]) == tables(pair[0])


@pytest.mark.parametrize("seed", range(3))
def test_a_write_back_split_over_several_statements_counts_alike(pair: tuple[Store, Store], seed: int,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's rows go ROWS_PER_STATEMENT to a statement; with 2, every write-back of a batch is split."""
    monkeypatch.setattr(anomaly_counts, "ROWS_PER_STATEMENT", 2)
    rng = random.Random(2000 + seed)
    observations, cooldown, _ = generated(100 + seed, 120)
    singly, batched = both(pair, "school/330203/A", observations, cooldown, rng)
    assert batched == singly and any(singly)
    assert tables(pair[1]) == tables(pair[0])


def test_written_out_cases(pair: tuple[Store, Store]) -> None:
    """Threshold 2 in 10 s for people and for night requests, 1 in 5 s for denied ones; cooldown 10 s."""
    def people(*n: int) -> Tally:
        return ("people", tuple(person(i) for i in n), 2, 10)

    night: Tally = ("night", None, 2, 10)
    denied: Tally = ("denied", None, 1, 5)
    cases: list[Observation] = [
        (100.0, [people(1, 1)]),  # named twice: one person
        (100.0, [people(2), night]),  # two people: alert
        (110.0, [people(3)]),  # exactly 10 s later: 1 and 2 have left the window
        (105.0, [people(4)]),  # earlier than the latest: counted at 110; two people, and the cooldown is over
        (110.0, [night, denied]),  # the night request of 100 has left; one denied is the threshold
        (120.0, [people(5, 6, 7)]),  # 3 and 4 leave; three people at one time: the lowest index goes (ties)
        (120.0, [night]),  # the one of 110 has left
        (120.0, [night]),  # two night requests at one time: alert
        (130.0, [night]),  # both leave exactly now
    ]
    one, many = pair
    singly = [one.count_anomalies("school/330203/A", now, t, 10.0) for now, t in cases]
    assert singly == [[], [("people", 2)], [], [("people", 2)], [("denied", 1)], [("people", 2)], [],
                      [("night", 2)], []]
    assert many.count_anomalies_many("school/330203/A", cases, 10.0) == singly
    assert tables(many) == tables(one)
    assert [r[2] for r in tables(many)["subjects"]] == [person(6), person(7)]


def test_a_batch_that_repeats_a_kind_in_one_entry_writes_nothing(pair: tuple[Store, Store]) -> None:
    _, many = pair
    tally: Tally = ("people", (person(1),), 5, 60)
    with pytest.raises(ValueError, match="repeat a kind"):
        many.count_anomalies_many("school/330203/A", [(1.0, [tally]), (2.0, [tally, tally])], 60.0)
    with pytest.raises(ValueError, match="both as people and as requests"):
        many.count_anomalies_many("school/330203/A", [(1.0, [tally]), (2.0, [("people", None, 5, 60)])], 60.0)
    assert all(rows == [] for rows in tables(many).values())


def test_a_window_above_the_read_limit_is_counted_entry_by_entry(pair: tuple[Store, Store]) -> None:
    """Such a window is not read whole; its counts are the same either way."""
    one, many = pair
    big: Tally = ("denied", None, BATCH_READ_LIMIT + 1, 60)
    observations: list[Observation] = [(float(i), [big]) for i in range(5)]
    assert many.count_anomalies_many("a/1/b", observations, 0.0) == [
        one.count_anomalies("a/1/b", now, t, 0.0) for now, t in observations]
    assert tables(many) == tables(one)


def test_a_batch_of_entries_that_count_towards_nothing_moves_only_the_latest_time(pair: tuple[Store, Store]) -> None:
    """Entries may count towards no kind (as count_anomalies, the principal's latest time still moves)."""
    one, many = pair
    observations: list[Observation] = [(50.0, []), (40.0, []), (60.0, [])]
    assert many.count_anomalies_many("a/1/b", observations, 0.0) == [[], [], []]
    for now, t in observations:
        one.count_anomalies("a/1/b", now, t, 0.0)
    assert tables(many) == tables(one) and tables(many)["principals"] == [("a/1/b", 60.0)]
