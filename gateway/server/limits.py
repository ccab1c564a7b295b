"""What one client may hold of the server: calls per certificate, streams, request sizes, connections.

A gRPC worker thread serves one call at a time, so a client that keeps calls open (idle streams, huge
requests, TLS handshakes never finished) could hold every worker and starve everyone else. The bounds:

- transport (config.toml [server], turned into grpc-core options): TLS handshake deadline, idle and
  maximum connection age, a cap on open connections, a request-size backstop, a queue bound;
- per call (LimitInterceptor): at most `calls_per_principal` calls in flight per client certificate and
  at most `streams` streams held open by clients (request streams, health watches) in all, refused at
  once with RESOURCE_EXHAUSTED; any stream is ended by the server when it passes `stream_seconds`, and
  a request stream when it sits `stream_idle_seconds` without a request;
- per method (policies/limits.toml): the encoded request size and the length of repeated fields,
  refused with INVALID_ARGUMENT before any work is done.

Every refusal is handed to `on_refused` (the gate logs it) before the status leaves.
"""
from __future__ import annotations

import hashlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from gateway.policy.catalogue import PolicyError
from gateway.server import errors
from gateway.server.gate import peer_certificates
from gateway.server.intake import behaviour
from gateway.settings.loader import read_policy_file

LIMITS_FILE = "limits.toml"
Clock = Callable[[], float]
OnRefused = Callable[[str, grpc.ServicerContext, errors.Refused], None]
# Response streams whose length the client decides (a watch waits for changes); other response streams
# (an access-log search) end when the server has sent its answer, so they do not take a `streams` slot.
CLIENT_HELD = frozenset({"grpc.health.v1.Health/Watch"})
_SERVER_KEYS = ("calls_per_principal", "streams", "stream_seconds", "stream_idle_seconds", "handshake_seconds",
                "connection_idle_seconds", "connection_age_seconds", "connection_age_grace_seconds",
                "max_connections", "max_request_bytes", "max_calls")


@dataclass(frozen=True)
class ServerLimits:
    """The [server] bounds of config.toml (see defaults.toml for what each means)."""

    calls_per_principal: int = 8
    streams: int = 4
    stream_seconds: float = 300
    stream_idle_seconds: float = 30
    handshake_seconds: float = 10
    connection_idle_seconds: float = 300
    connection_age_seconds: float = 3600
    connection_age_grace_seconds: float = 30
    max_connections: int = 512
    max_request_bytes: int = 8 << 20
    max_calls: int = 64

    @classmethod
    def from_config(cls, section: Mapping[str, Any], where: str = "config.toml") -> ServerLimits:
        values: dict[str, Any] = {}
        for key in _SERVER_KEYS:
            value = section.get(key, getattr(cls, key))
            integral = isinstance(getattr(cls, key), int)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or (
                    integral and not isinstance(value, int)):
                kind = "a positive whole number" if integral else "a positive number of seconds"
                raise PolicyError(f"{where}: [server] {key} must be {kind}, not {value!r}")
            values[key] = value
        return cls(**values)

    def grpc_options(self) -> list[tuple[str, int]]:
        """grpc-core channel arguments for the server."""
        ms = lambda s: int(s * 1000)  # noqa: E731
        return [
            ("grpc.server_handshake_timeout_ms", ms(self.handshake_seconds)),
            ("grpc.max_connection_idle_ms", ms(self.connection_idle_seconds)),
            ("grpc.max_connection_age_ms", ms(self.connection_age_seconds)),
            ("grpc.max_connection_age_grace_ms", ms(self.connection_age_grace_seconds)),
            ("grpc.max_allowed_incoming_connections", self.max_connections),
            ("grpc.max_receive_message_length", self.max_request_bytes),
            ("grpc.max_concurrent_streams", 100),  # per connection; the HTTP/2 minimum a client may expect
            ("grpc.keepalive_permit_without_calls", 0),
            ("grpc.http2.max_ping_strikes", 2),
        ]


@dataclass(frozen=True)
class MethodLimit:
    max_bytes: int
    repeated: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodLimits:
    default: MethodLimit
    methods: dict[str, MethodLimit]

    def of(self, method: str) -> MethodLimit:
        return self.methods.get(method, self.default)


def _positive(value: object, what: str, where: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PolicyError(f"{where}: {what} must be a positive whole number, not {value!r}")
    return value


def load_method_limits(directory: Path, requests: Mapping[str, Any]) -> MethodLimits:
    """policies/limits.toml, checked against the served methods: `requests` maps a full method name
    ("pkg.Service/Method") to its request message descriptor."""
    path = directory / LIMITS_FILE
    data = read_policy_file(path)
    unknown = set(data) - {"default", "methods"}
    if unknown:
        raise PolicyError(f"{path}: unknown sections {sorted(unknown)} (want [default] and [methods.\"…\"])")
    default = MethodLimit(_positive(dict(data.get("default", {})).get("max_bytes"), "[default] max_bytes", path))
    methods: dict[str, MethodLimit] = {}
    for method, spec in dict(data.get("methods", {})).items():
        if method not in requests:
            raise PolicyError(f"{path}: [methods] names {method!r}, which this gateway does not serve")
        spec = dict(spec)
        bad = set(spec) - {"max_bytes", "repeated"}
        if bad:
            raise PolicyError(f"{path}: {method}: unknown keys {sorted(bad)} (want max_bytes, repeated)")
        fields = requests[method].fields_by_name
        repeated: dict[str, int] = {}
        for name, cap in dict(spec.get("repeated", {})).items():
            f = fields.get(name)
            if f is None or not _is_repeated(f):
                raise PolicyError(f"{path}: {method}: {name!r} is not a repeated field of its request")
            repeated[name] = _positive(cap, f"{method} repeated {name}", path)
        methods[method] = MethodLimit(_positive(spec.get("max_bytes", default.max_bytes), f"{method} max_bytes",
                                                path), repeated)
    return MethodLimits(default, methods)


def _is_repeated(fd: Any) -> bool:
    is_repeated = getattr(fd, "is_repeated", None)
    if is_repeated is not None:
        return bool(is_repeated)
    return bool(fd.label == fd.LABEL_REPEATED)


def check_request(limit: MethodLimit, request: Any) -> errors.Refused | None:
    """INVALID_ARGUMENT if the request is larger, or one of its repeated fields longer, than allowed."""
    size = request.ByteSize()
    if size > limit.max_bytes:
        return errors.invalid_argument("request", f"{size} bytes; this method accepts at most {limit.max_bytes}")
    for name, cap in limit.repeated.items():
        n = len(getattr(request, name))
        if n > cap:
            return errors.invalid_argument(name, f"{n} entries; at most {cap}")
    return None


def principal_key(context: grpc.ServicerContext) -> str:
    """Who holds a slot: the client certificate (its digest), or the peer address without one."""
    pems = peer_certificates(context)
    if pems:
        return hashlib.sha256(pems[0]).hexdigest()
    return f"peer:{context.peer()}"


class Slots:
    """Counted slots per key, taken without waiting: a client over its share is refused, never queued."""

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> bool:
        with self._lock:
            n = self._held.get(key, 0)
            if n >= self.per_key:
                return False
            self._held[key] = n + 1
            return True

    def give(self, key: str) -> None:
        with self._lock:
            n = self._held.get(key, 0) - 1
            if n > 0:
                self._held[key] = n
            else:
                self._held.pop(key, None)  # the table holds only keys with calls in flight: bounded

    def held(self, key: str) -> int:
        with self._lock:
            return self._held.get(key, 0)


class _Watch:
    """One stream under the watchdog: cancelled at its deadline or after `idle` seconds without a request."""

    def __init__(self, context: grpc.ServicerContext, now: float, total: float, idle: float | None) -> None:
        self.context, self.idle = context, idle
        self.ends = now + total
        self.last = now
        self.done = False

    def due(self) -> float:
        return self.ends if self.idle is None else min(self.ends, self.last + self.idle)


class StreamWatchdog:
    """One thread that ends overdue streams (context.cancel() frees the worker blocked on them)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._ids = itertools.count()
        self.ended = 0  # streams ended by the watchdog (for tests and metrics)
        self._thread: threading.Thread | None = None

    def watch(self, context: grpc.ServicerContext, total: float, idle: float | None) -> _Watch:
        w = _Watch(context, self.clock(), total, idle)
        with self._cond:
            heapq.heappush(self._heap, (w.due(), next(self._ids), w))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="stream-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()
        return w

    def touch(self, w: _Watch) -> None:
        w.last = self.clock()  # the heap entry is re-filed when it comes due

    def release(self, w: _Watch) -> None:
        w.done = True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                due, _, w = self._heap[0]
                now = self.clock()
                if due > now:
                    self._cond.wait(timeout=min(due - now, 1.0))
                    continue
                heapq.heappop(self._heap)
                if w.done:
                    continue
                if w.due() > now:  # a request arrived meanwhile: file it again
                    heapq.heappush(self._heap, (w.due(), next(self._ids), w))
                    continue
                w.done = True
                self.ended += 1
            w.context.cancel()


class LimitInterceptor(grpc.ServerInterceptor):
    """Wraps every handler with the per-call bounds above."""

    def __init__(self, server: ServerLimits, methods: MethodLimits, on_refused: OnRefused,
                 clock: Clock = time.monotonic) -> None:
        self.server, self.methods, self.on_refused = server, methods, on_refused
        self.calls = Slots(server.calls_per_principal)
        self.streams = Slots(server.streams)
        self.watchdog = StreamWatchdog(clock)
        self._limited: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}  # method: (served, wrapped)

    def _refuse(self, method: str, context: grpc.ServicerContext, refused: errors.Refused) -> None:
        self.on_refused(method, context, refused)  # logs it; aborts with UNAVAILABLE if the log is down
        context.abort_with_status(refused.to_status())

    def _admit(self, method: str, context: grpc.ServicerContext, held_open: bool) -> str:
        key = principal_key(context)
        if not self.calls.take(key):
            self._refuse(method, context, errors.resource_exhausted(
                "TOO_MANY_CALLS", f"at most {self.calls.per_key} calls at a time per client certificate"))
        if held_open and not self.streams.take(""):
            self.calls.give(key)
            self._refuse(method, context, errors.resource_exhausted(
                "TOO_MANY_STREAMS", f"at most {self.streams.per_key} streams are open at a time; try later"))
        return key

    def _release(self, key: str, held_open: bool) -> None:
        self.calls.give(key)
        if held_open:
            self.streams.give("")

    def _requests(self, it: Iterator[Any], w: _Watch) -> Iterator[Any]:
        for request in it:
            self.watchdog.touch(w)
            yield request

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
                          details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        """(gRPC's polling thread, every call) The served method's handler wrapped in its limits: built on the
        method's first call and kept (the wrapper holds nothing of one call; only served methods get here)."""
        handler = continuation(details)
        if handler is None:
            return None
        known = self._limited.get(details.method)
        if known is None or known[0] is not handler:
            known = self._limited[details.method] = (handler, self._limit(handler, details.method.lstrip("/")))
        return known[1]

    def _limit(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        limit = self.methods.of(method)
        s = self.server
        kwargs = {"request_deserializer": handler.request_deserializer,
                  "response_serializer": handler.response_serializer}

        if not handler.request_streaming and not handler.response_streaming:
            inner_uu = behaviour(handler)

            def unary_unary(request: Any, context: grpc.ServicerContext) -> Any:
                refused = check_request(limit, request)
                if refused is not None:
                    self._refuse(method, context, refused)
                key = self._admit(method, context, held_open=False)
                try:
                    return inner_uu(request, context)
                finally:
                    self._release(key, held_open=False)

            return grpc.unary_unary_rpc_method_handler(unary_unary, **kwargs)

        if not handler.request_streaming:
            inner_us = behaviour(handler)
            held = method in CLIENT_HELD

            def unary_stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                refused = check_request(limit, request)
                if refused is not None:
                    self._refuse(method, context, refused)
                key = self._admit(method, context, held_open=held)
                w = self.watchdog.watch(context, s.stream_seconds, None)  # a watch may wait; never past its end
                try:
                    yield from inner_us(request, context)
                finally:
                    self.watchdog.release(w)
                    self._release(key, held_open=held)

            return grpc.unary_stream_rpc_method_handler(unary_stream, **kwargs)

        if not handler.response_streaming:
            inner_su = behaviour(handler)

            def stream_unary(it: Iterator[Any], context: grpc.ServicerContext) -> Any:
                key = self._admit(method, context, held_open=True)
                w = self.watchdog.watch(context, s.stream_seconds, s.stream_idle_seconds)
                try:
                    return inner_su(self._requests(it, w), context)
                finally:
                    self.watchdog.release(w)
                    self._release(key, held_open=True)

            return grpc.stream_unary_rpc_method_handler(stream_unary, **kwargs)

        inner_ss = behaviour(handler)

        def stream_stream(it: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
            key = self._admit(method, context, held_open=True)
            w = self.watchdog.watch(context, s.stream_seconds, s.stream_idle_seconds)
            try:
                yield from inner_ss(self._requests(it, w), context)
            finally:
                self.watchdog.release(w)
                self._release(key, held_open=True)

        return grpc.stream_stream_rpc_method_handler(stream_stream, **kwargs)
