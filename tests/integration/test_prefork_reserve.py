"""The port the supervisor of serve --workers holds: a free one for port 0, never one another program listens on."""
from __future__ import annotations

import socket

import pytest

from gateway.server.prefork import WorkersError, reserve


def test_port_zero_reserves_a_real_port_workers_can_join() -> None:
    held = reserve("127.0.0.1:0")
    try:
        assert held.port > 0 and held.address == f"127.0.0.1:{held.port}"
        joiner = socket.socket()
        joiner.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        joiner.bind(("127.0.0.1", held.port))  # what each worker's gRPC server does
        joiner.listen()
        joiner.close()
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", held.port))  # anyone without SO_REUSEPORT is kept out
    finally:
        held.close()


def test_a_port_another_program_listens_on_is_refused_not_shared() -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # even one that would share it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(WorkersError, match=f"cannot listen on 127.0.0.1:{port}: address in use"):
            reserve(f"127.0.0.1:{port}")


def test_an_unknown_host_is_one_line() -> None:
    with pytest.raises(WorkersError, match="cannot listen on no-such-host.invalid:0"):
        reserve("no-such-host.invalid:0")
