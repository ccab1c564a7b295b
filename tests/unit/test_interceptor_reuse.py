"""The interceptors run on gRPC's polling thread for every call; what they build for a served method (its limits
wrapper, its log name, guard and decoder) is built on the method's first call and reused, and only for methods a
handler serves, so that a client naming random methods cannot grow what is kept."""
from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import grpc

from gateway.datadir import shipped_policies
from gateway.server.intake import Intake
from gateway.server.limits import LIMITS_FILE, LimitInterceptor, ServerLimits, load_method_limits
from permitgw.v1 import entitlement_pb2, permit_pb2

METHOD = "/permitgw.v1.PermitService/GetPermitStatus"


class Details(NamedTuple):
    method: str
    invocation_metadata: tuple[tuple[str, str], ...] = ()


def _served() -> grpc.RpcMethodHandler:
    return grpc.unary_unary_rpc_method_handler(
        lambda request, context: permit_pb2.GetPermitStatusResponse(id_number=request.id_number),
        request_deserializer=permit_pb2.GetPermitStatusRequest.FromString,
        response_serializer=permit_pb2.GetPermitStatusResponse.SerializeToString)


def _limiter(tmp_path: Path) -> LimitInterceptor:
    (tmp_path / LIMITS_FILE).write_text(shipped_policies().joinpath(LIMITS_FILE).read_text("utf-8"))
    served = {METHOD[1:]: permit_pb2.GetPermitStatusRequest.DESCRIPTOR,
              "permitgw.v1.EntitlementService/CheckEnrollment": entitlement_pb2.CheckEnrollmentRequest.DESCRIPTOR}
    return LimitInterceptor(ServerLimits.from_config({}), load_method_limits(tmp_path, served),
                            lambda method, context, refused: None)


def test_the_limits_wrapper_of_a_method_is_built_once(tmp_path: Path) -> None:
    limiter, served = _limiter(tmp_path), _served()
    first = limiter.intercept_service(lambda d: served, Details(METHOD))
    assert first is not None and first is not served
    assert limiter.intercept_service(lambda d: served, Details(METHOD)) is first
    other = _served()  # another handler under the same name (never in a running server): wrapped anew
    again = limiter.intercept_service(lambda d: other, Details(METHOD))
    assert again is not None and again is not first
    assert limiter.intercept_service(lambda d: None, Details("/no.Such/Method")) is None
    assert set(limiter._limited) == {METHOD}


def test_intake_keeps_only_served_methods_and_still_decodes_each_call() -> None:
    intake = Intake(gate=None)  # type: ignore[arg-type]  # a served method of ours never reaches the gate here
    served = _served()
    for n in range(50):  # unknown names: answered (UNIMPLEMENTED, logged by the gate), nothing kept
        assert intake.intercept_service(lambda d: None, Details(f"/no.Such{n}/Method")).stream_stream is not None
    handlers = [intake.intercept_service(lambda d: served, Details(METHOD)) for _ in range(3)]
    assert set(intake._served) == {METHOD}
    for n, h in enumerate(handlers):
        request = permit_pb2.GetPermitStatusRequest(id_number=f"number {n}").SerializeToString()
        answer: Any = h.unary_unary(request, None)
        assert answer.id_number == f"number {n}"
