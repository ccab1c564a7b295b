"""Refusals as gRPC statuses with google.rpc details (BadRequest, ErrorInfo), as docs/api.md describes.

A refusal is raised inside a handler and turned into a status by the pipeline after it is logged.
"""
from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from gateway.errors import GatewayError

ERROR_DOMAIN = "permitgw.nbgaj.gov.cn"


class Refused(GatewayError):
    """A request the gateway will not answer; `reason` is what the access log records."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str,
                 details: tuple[any_pb2.Any, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.details = details

    def to_status(self) -> grpc.Status:
        st = status_pb2.Status(code=self.code.value[0], message=self.message, details=list(self.details))
        return rpc_status.to_status(st)


def _pack(msg: object) -> any_pb2.Any:
    a = any_pb2.Any()
    a.Pack(msg)  # type: ignore[arg-type]
    return a


def invalid_argument(field: str, description: str) -> Refused:
    br = error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field=field, description=description)])
    return Refused(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {description}", "INVALID_ARGUMENT", (_pack(br),))


def permission_denied(reason: str, message: str, metadata: dict[str, str] | None = None) -> Refused:
    info = error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata or {})
    return Refused(grpc.StatusCode.PERMISSION_DENIED, message, reason, (_pack(info),))


def unauthenticated(reason: str, message: str) -> Refused:
    info = error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN)
    return Refused(grpc.StatusCode.UNAUTHENTICATED, message, reason, (_pack(info),))


def resource_exhausted(reason: str, message: str) -> Refused:
    """The caller holds its share of the server already (calls in flight, open streams): try again later."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN)
    return Refused(grpc.StatusCode.RESOURCE_EXHAUSTED, message, reason, (_pack(info),))


def unavailable(reason: str, message: str) -> Refused:
    """The gateway cannot answer safely right now (its database, access log or revocation list is out of
    reach: it fails closed) and heals by itself; ask again later."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN)
    return Refused(grpc.StatusCode.UNAVAILABLE, message, reason, (_pack(info),))


def failed_precondition(message: str) -> Refused:
    return Refused(grpc.StatusCode.FAILED_PRECONDITION, message, "FAILED_PRECONDITION")


def internal(ref: str) -> Refused:
    return Refused(grpc.StatusCode.INTERNAL, f"the gateway could not answer (log reference {ref})", "INTERNAL")


assert grpc.StatusCode.INVALID_ARGUMENT.value[0] == code_pb2.INVALID_ARGUMENT
