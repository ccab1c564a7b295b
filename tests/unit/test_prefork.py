"""The pure parts of serve --workers: how many workers may run, when a dead one is restarted, the address."""
from __future__ import annotations

import os
import signal

import pytest

from gateway.server.prefork import RestartPolicy, WorkersError, check_workers, describe_status, split_listen


@pytest.mark.parametrize(("n", "cores"), [(1, 2), (8, 2), (4, None), (1, 1)])
def test_one_to_four_workers_per_core_are_accepted(n: int, cores: int | None) -> None:
    assert check_workers(n, cores) == n


@pytest.mark.parametrize(("n", "cores", "most"), [(0, 2, 8), (9, 2, 8), (-1, 4, 16), (5, None, 4)])
def test_other_counts_are_refused_with_the_allowed_range(n: int, cores: int | None, most: int) -> None:
    with pytest.raises(WorkersError, match=f"from 1 to {most} .*not {n}$"):
        check_workers(n, cores)


def test_a_dying_worker_waits_longer_each_time_then_the_gateway_gives_up() -> None:
    policy = RestartPolicy(first=0.5, most=4.0, limit=5, window=60.0)
    assert [policy.after_death(t) for t in (0.0, 1.0, 2.0, 3.0)] == [0.5, 1.0, 2.0, 4.0]
    assert policy.after_death(4.0) is None  # the 5th death within 60 s: stop everything


def test_deaths_long_apart_never_add_up() -> None:
    policy = RestartPolicy(first=0.5, most=8.0, limit=3, window=60.0)
    assert [policy.after_death(t) for t in (0.0, 61.0, 122.0, 183.0)] == [0.5, 0.5, 0.5, 0.5]
    assert policy.after_death(184.0) == 1.0


def test_the_delay_is_capped() -> None:
    policy = RestartPolicy(first=1.0, most=3.0, limit=100, window=60.0)
    assert [policy.after_death(float(t)) for t in range(4)] == [1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize(("listen", "expected"), [("127.0.0.1:0", ("127.0.0.1", 0)),
                                                  ("[::1]:50051", ("[::1]", 50051)),
                                                  ("localhost:65535", ("localhost", 65535))])
def test_listen_addresses(listen: str, expected: tuple[str, int]) -> None:
    assert split_listen(listen) == expected


@pytest.mark.parametrize("listen", ["127.0.0.1", ":50051", "host:port", "127.0.0.1:65536", "127.0.0.1:-1"])
def test_bad_listen_addresses_are_one_clear_error(listen: str) -> None:
    with pytest.raises(WorkersError, match="HOST:PORT"):
        split_listen(listen)


def test_wait_statuses_in_words() -> None:
    assert describe_status(3 << 8) == "exited with status 3"
    assert describe_status(signal.SIGKILL) == "was killed by signal 9 (SIGKILL)"
    assert os.WIFSIGNALED(signal.SIGKILL)
