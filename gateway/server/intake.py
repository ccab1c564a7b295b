"""Every call that reaches the gateway is authenticated and logged, even those no servicer of ours answers.

gRPC decodes a request before any handler runs, answers unknown methods by itself, and serves health and
reflection outside the request pipeline: none of those calls left an entry in the access log, even from a
revoked certificate. This interceptor closes the gap:

- every handler receives the raw request bytes; they are decoded after the caller is authenticated, so an
  undecodable request (invalid UTF-8, truncated, nested too deep) is a logged INVALID_ARGUMENT, and one larger
  than max_request_bytes a logged RESOURCE_EXHAUSTED (gRPC itself still drops what is larger than the
  transport bound, [server] max_request_bytes, before anything can be read);
- an unknown method is authenticated, logged (its name only when it looks like a method name) and answered
  UNIMPLEMENTED;
- health checks and reflection are authenticated (a revoked certificate is refused) and logged, once per call
  (a Watch stream or a reflection session is one call).

It also tells the access log, as gRPC accepts each unary call, that the call's entry is coming: so a batch of the
log waits for the entries it can still get (gateway/audit/arrivals.py).

The servicers of permitgw.* log their own calls in the request pipeline (gate.handler); here they only get
their request decoded.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import grpc
from grpc_health.v1 import health_pb2

from gateway.audit.arrivals import Arrivals
from gateway.audit.entry import Decision
from gateway.server import errors
from gateway.server.gate import Call, Gate

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # the largest request the gateway reads; the server passes half its transport
                                     # bound ([server] max_request_bytes), so a too-large request is logged
OWN_SERVICES = "permitgw."  # services whose handlers log through the request pipeline
UNREADABLE_METHOD = "(unreadable method)"
# A method name the log may record: package.Service/Method, with few digits (never an identity number).
_METHOD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,99}/[A-Za-z_][A-Za-z0-9_]{0,63}")
_MAX_METHOD_DIGITS = 12
_GUARDED = {"grpc.health.v1.Health/": "HEALTH", "grpc.reflection.v1alpha.ServerReflection/": "REFLECTION",
            "grpc.reflection.v1.ServerReflection/": "REFLECTION"}

Deserializer = Callable[[bytes], Any]
Decoder = Callable[[bytes, grpc.ServicerContext], Any]  # raw request bytes to the request, or a logged refusal
log = logging.getLogger("permitgw.server")


def _not_serving(streaming: bool) -> Any:
    """The answer to a health check while the access log cannot be written: NOT_SERVING, and nothing else.

    Every other call gets UNAVAILABLE and no answer when its entry cannot be written. A health check is the
    one exception: its answer says only that this gateway cannot serve, about no person, and it is what lets
    a load balancer route around a gateway that has lost its log.
    """
    answer = health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING)
    return iter([answer]) if streaming else answer


def behaviour(h: grpc.RpcMethodHandler) -> Callable[[Any, grpc.ServicerContext], Any]:
    """What a method handler runs: gRPC sets exactly one of its four behaviours, the one of its streaming kinds."""
    found = h.unary_unary or h.unary_stream or h.stream_unary or h.stream_stream
    if found is None:
        raise ValueError("a method handler without a behaviour")
    return found


def loggable_method(raw: str) -> str:
    """The method name as the access log may record it: the name, or UNREADABLE_METHOD."""
    name = raw[1:] if raw.startswith("/") else raw
    if _METHOD.fullmatch(name) and sum(map(str.isdigit, name)) <= _MAX_METHOD_DIGITS:
        return name
    return UNREADABLE_METHOD


class Intake(grpc.ServerInterceptor):
    """Wraps every method handler (see the module docstring); register it as the server's only interceptor."""

    def __init__(self, gate: Gate, max_request_bytes: int = MAX_REQUEST_BYTES,
                 method_bytes: Callable[[str], int] | None = None, arrivals: Arrivals | None = None) -> None:
        self.gate = gate
        self.arrivals = arrivals
        self.max_request_bytes = max_request_bytes
        self.method_bytes = method_bytes  # a method's own cap (policies/limits.toml), checked before decoding
        # per served method (a bounded set: only methods some handler serves get here): its handler, the name the
        # log records, its guard and its decoder, worked out on its first call instead of on every call
        self._served: dict[str, tuple[grpc.RpcMethodHandler, str, str, Decoder]] = {}

    def intercept_service(self, continuation: Callable[[Any], grpc.RpcMethodHandler | None],
                          details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        raw = details.method or ""  # runs on gRPC's polling thread, for every call: no I/O here, little work
        found = continuation(details)
        if found is None:
            return grpc.stream_stream_rpc_method_handler(self._unknown(loggable_method(raw)))
        served = self._served.get(raw)
        if served is None or served[0] is not found:
            method = loggable_method(raw)
            guard = "" if method.startswith(OWN_SERVICES) else next(
                (reason for prefix, reason in _GUARDED.items() if method.startswith(prefix)), "OTHER_SERVICE")
            served = self._served[raw] = (found, method, guard, self._decoder(method, found.request_deserializer))
        return self._wrap(found, *served[1:])

    # --- handlers ----------------------------------------------------------------------------------------
    def _unknown(self, method: str) -> Callable[[Iterator[bytes], grpc.ServicerContext], Any]:
        def behaviour(requests: Iterator[bytes], context: grpc.ServicerContext) -> Any:
            self._refuse(Call(method=method, known_method=False), context, errors.Refused(
                grpc.StatusCode.UNIMPLEMENTED, "no such method", "UNKNOWN_METHOD"))

        return behaviour

    def _wrap(self, h: grpc.RpcMethodHandler, method: str, guard: str, decode: Decoder) -> grpc.RpcMethodHandler:
        out = h.response_serializer
        if not h.request_streaming:
            inner = behaviour(h)
            # A unary call's entry is expected from now (gRPC's polling thread) until its handler queues it.
            arrival = None if h.response_streaming or self.arrivals is None else self.arrivals.expect()

            def unary(raw: bytes, context: grpc.ServicerContext) -> Any:
                if arrival is not None:
                    arrival.enter()
                try:
                    request = decode(raw, context)
                    if guard and not self._admit(method, guard, context):
                        return _not_serving(h.response_streaming)  # a health check the log cannot record
                    return inner(request, context)
                finally:
                    if arrival is not None:
                        arrival.leave()

            make = grpc.unary_stream_rpc_method_handler if h.response_streaming else grpc.unary_unary_rpc_method_handler
            return make(unary, request_deserializer=None, response_serializer=out)
        inner = behaviour(h)

        def streaming(raws: Iterator[bytes], context: grpc.ServicerContext) -> Any:
            if guard:
                self._admit(method, guard, context)
            return inner((decode(raw, context) for raw in raws), context)

        make = grpc.stream_stream_rpc_method_handler if h.response_streaming else grpc.stream_unary_rpc_method_handler
        return make(streaming, request_deserializer=None, response_serializer=out)

    def _decoder(self, method: str, deserialize: Deserializer | None) -> Decoder:
        def decode(raw: bytes, context: grpc.ServicerContext) -> Any:
            if len(raw) > self.max_request_bytes:
                self._refuse(Call(method=method), context, errors.Refused(
                    grpc.StatusCode.RESOURCE_EXHAUSTED, f"the request is larger than {self.max_request_bytes} bytes",
                    "REQUEST_TOO_LARGE"))
            cap = self.method_bytes(method) if self.method_bytes is not None else None
            if cap is not None and len(raw) > cap:  # refused unread: no work is spent on an oversized request
                self._refuse(Call(method=method), context, errors.invalid_argument(
                    "request", f"{len(raw)} bytes; this method accepts at most {cap}"))
            if deserialize is None:
                return raw
            try:
                return deserialize(raw)
            except Exception:  # any failure to decode is the request's fault: protobuf raises DecodeError mostly
                self._refuse(Call(method=method), context, errors.invalid_argument(
                    "request", "not a valid message for this method (truncated, not UTF-8, or nested too deep)"))

        return decode

    # --- authenticate, log, answer -----------------------------------------------------------------------
    def _admit(self, method: str, reason: str, context: grpc.ServicerContext) -> bool:
        """Authenticate a call outside the request pipeline and log it as allowed; refuse it if not.

        False only for a health check the log cannot record: it is answered NOT_SERVING (see _not_serving),
        so that a load balancer takes this replica out instead of seeing an error it may not understand.
        """
        call = Call(method=method)
        try:
            self.gate.authenticate(context, call)
        except errors.Refused as refused:
            self._refuse(call, context, refused)
        if reason == "HEALTH":
            try:
                self.gate.log(call, Decision.ALLOW, reason)
            except Exception:
                log.warning("access log unavailable: health check answered NOT_SERVING")
                return False
            return True
        self._write(call, context, Decision.ALLOW, reason)
        return True

    def _refuse(self, call: Call, context: grpc.ServicerContext, failure: errors.Refused) -> NoReturn:
        """Log a refused call (with whoever the certificate says the caller is), then send the refusal.

        An authentication failure outranks the refusal given: an unknown caller learns nothing else.
        """
        if call.principal is None:
            try:
                self.gate.authenticate(context, call)
            except errors.Refused as refused:
                failure = refused
        outcome = Decision.DENY if failure.code in (grpc.StatusCode.UNAUTHENTICATED,
                                                    grpc.StatusCode.PERMISSION_DENIED) else Decision.INVALID
        self._write(call, context, outcome, failure.reason)
        context.abort_with_status(failure.to_status())
        raise AssertionError("abort_with_status returns only by raising")  # pragma: no cover

    def _write(self, call: Call, context: grpc.ServicerContext, decision: str, reason: str) -> None:
        try:
            self.gate.log(call, decision, reason)
        except Exception:
            log.exception("access log unavailable")
            context.abort(grpc.StatusCode.UNAVAILABLE, "the access log is unavailable: no answer given")
