"""Server limits as data: config [server] bounds and policies/limits.toml are validated at load; slots and
request checks refuse what is over a bound."""
from __future__ import annotations

import threading
from pathlib import Path

import grpc
import pytest

from gateway.datadir import shipped_policies
from gateway.policy.catalogue import PolicyError
from gateway.server.limits import (
    LIMITS_FILE,
    MethodLimit,
    ServerLimits,
    Slots,
    StreamWatchdog,
    check_request,
    load_method_limits,
)
from permitgw.v1 import entitlement_pb2, permit_pb2

ENROLL = "permitgw.v1.EntitlementService/CheckEnrollment"
SERVED = {ENROLL: entitlement_pb2.CheckEnrollmentRequest.DESCRIPTOR,
          "permitgw.v1.PermitService/GetPermitStatus": permit_pb2.GetPermitStatusRequest.DESCRIPTOR}


def _limits_dir(tmp_path: Path, text: str | None = None) -> Path:
    (tmp_path / LIMITS_FILE).write_text(text if text is not None else
                                        shipped_policies().joinpath(LIMITS_FILE).read_text("utf-8"))
    return tmp_path


def test_shipped_limits_load_and_cap_guardians(tmp_path: Path) -> None:
    limits = load_method_limits(_limits_dir(tmp_path), SERVED)
    assert limits.of(ENROLL).repeated == {"guardian_id_numbers": 4}
    assert limits.of("permitgw.v1.PermitService/GetPermitStatus") == limits.default


@pytest.mark.parametrize(("text", "problem"), [
    ('[default]\nmax_bytes = 0\n', "positive"),
    ('[default]\nmax_bytes = 100\n[methods."x.Y/Z"]\nmax_bytes = 10\n', "does not serve"),
    (f'[default]\nmax_bytes = 100\n[methods."{ENROLL}"]\nrepeated = {{ child_id_number = 1 }}\n', "not a repeated"),
    (f'[default]\nmax_bytes = 100\n[methods."{ENROLL}"]\nrepeated = {{ guardian_id_numbers = "4" }}\n', "positive"),
    (f'[default]\nmax_bytes = 100\n[methods."{ENROLL}"]\nmax_size = 10\n', "unknown keys"),
    ('[defaults]\nmax_bytes = 100\n', "unknown sections"),
    ('[default\n', "TOMLDecodeError"),
])
def test_bad_limits_file_is_refused_naming_it(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(PolicyError, match=problem) as exc:
        load_method_limits(_limits_dir(tmp_path, text), SERVED)
    assert LIMITS_FILE in str(exc.value)


@pytest.mark.parametrize(("key", "value"), [
    ("streams", 0), ("calls_per_principal", 2.5), ("stream_seconds", -1), ("handshake_seconds", "10"),
    ("max_connections", True)])
def test_bad_server_bounds_are_refused(key: str, value: object) -> None:
    with pytest.raises(PolicyError, match=f"\\[server\\] {key}"):
        ServerLimits.from_config({key: value}, "config.toml")


def test_server_bounds_become_grpc_options() -> None:
    options = dict(ServerLimits.from_config({"handshake_seconds": 2, "max_request_bytes": 1000}).grpc_options())
    assert options["grpc.server_handshake_timeout_ms"] == 2000
    assert options["grpc.max_receive_message_length"] == 1000


def test_check_request_caps_bytes_and_repeated_fields() -> None:
    limit = MethodLimit(max_bytes=300, repeated={"guardian_id_numbers": 2})
    ok = entitlement_pb2.CheckEnrollmentRequest(guardian_id_numbers=["a", "b"])
    assert check_request(limit, ok) is None
    many = check_request(limit, entitlement_pb2.CheckEnrollmentRequest(guardian_id_numbers=["a", "b", "c"]))
    assert many is not None and many.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "guardian_id_numbers" in many.message
    big = check_request(limit, entitlement_pb2.CheckEnrollmentRequest(child_id_number="x" * 400))
    assert big is not None and big.code is grpc.StatusCode.INVALID_ARGUMENT and "bytes" in big.message


def test_slots_refuse_beyond_the_share_and_forget_idle_keys() -> None:
    slots = Slots(2)
    assert slots.take("a") and slots.take("a") and not slots.take("a")
    assert slots.take("b")
    slots.give("a")
    assert slots.take("a")
    for _ in range(2):
        slots.give("a")
    slots.give("b")
    assert slots.held("a") == slots.held("b") == 0 and not slots._held


class _Context:
    def __init__(self) -> None:
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()


def test_the_watchdog_ends_idle_streams_and_spares_released_ones() -> None:
    now = [0.0]
    dog = StreamWatchdog(clock=lambda: now[0])
    released, idle = _Context(), _Context()
    done = dog.watch(released, total=100, idle=1)  # type: ignore[arg-type]
    w = dog.watch(idle, total=100, idle=2)  # type: ignore[arg-type]
    dog.release(done)
    now[0] = 1.5
    dog.touch(w)  # a request arrived: idle again from 1.5, so due at 3.5
    now[0] = 5.0  # both are past due; the released one (due first) is looked at first and left alone
    assert idle.cancelled.wait(timeout=10), "an idle stream is ended"
    assert not released.cancelled.is_set() and dog.ended == 1
