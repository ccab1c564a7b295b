from permitgw.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PermitStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERMIT_STATUS_UNSPECIFIED: _ClassVar[PermitStatus]
    PERMIT_STATUS_VALID: _ClassVar[PermitStatus]
    PERMIT_STATUS_EXPIRED: _ClassVar[PermitStatus]
    PERMIT_STATUS_CANCELLED: _ClassVar[PermitStatus]
    PERMIT_STATUS_REVOKED: _ClassVar[PermitStatus]
    PERMIT_STATUS_NONE: _ClassVar[PermitStatus]
PERMIT_STATUS_UNSPECIFIED: PermitStatus
PERMIT_STATUS_VALID: PermitStatus
PERMIT_STATUS_EXPIRED: PermitStatus
PERMIT_STATUS_CANCELLED: PermitStatus
PERMIT_STATUS_REVOKED: PermitStatus
PERMIT_STATUS_NONE: PermitStatus

class GetPermitStatusRequest(_message.Message):
    __slots__ = ("context", "id_number")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    id_number: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., id_number: _Optional[str] = ...) -> None: ...

class GetPermitStatusResponse(_message.Message):
    __slots__ = ("status", "valid_until", "district", "reasons", "id_number")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    status: PermitStatus
    valid_until: str
    district: str
    reasons: _containers.RepeatedCompositeFieldContainer[_common_pb2.Reason]
    id_number: str
    def __init__(self, status: _Optional[_Union[PermitStatus, str]] = ..., valid_until: _Optional[str] = ..., district: _Optional[str] = ..., reasons: _Optional[_Iterable[_Union[_common_pb2.Reason, _Mapping]]] = ..., id_number: _Optional[str] = ...) -> None: ...

class GetResidenceRecordRequest(_message.Message):
    __slots__ = ("context", "id_number")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    id_number: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., id_number: _Optional[str] = ...) -> None: ...

class ResidenceRegistrationEntry(_message.Message):
    __slots__ = ("district", "declared_on", "housing_type", "address")
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    DECLARED_ON_FIELD_NUMBER: _ClassVar[int]
    HOUSING_TYPE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    district: str
    declared_on: str
    housing_type: str
    address: str
    def __init__(self, district: _Optional[str] = ..., declared_on: _Optional[str] = ..., housing_type: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class PermitEntry(_message.Message):
    __slots__ = ("permit_number", "district", "issued_on", "valid_until", "endorsed_on", "status")
    PERMIT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    ISSUED_ON_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    ENDORSED_ON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    permit_number: str
    district: str
    issued_on: str
    valid_until: str
    endorsed_on: str
    status: PermitStatus
    def __init__(self, permit_number: _Optional[str] = ..., district: _Optional[str] = ..., issued_on: _Optional[str] = ..., valid_until: _Optional[str] = ..., endorsed_on: _Optional[str] = ..., status: _Optional[_Union[PermitStatus, str]] = ...) -> None: ...

class GetResidenceRecordResponse(_message.Message):
    __slots__ = ("id_number", "name", "registrations", "permits")
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REGISTRATIONS_FIELD_NUMBER: _ClassVar[int]
    PERMITS_FIELD_NUMBER: _ClassVar[int]
    id_number: str
    name: str
    registrations: _containers.RepeatedCompositeFieldContainer[ResidenceRegistrationEntry]
    permits: _containers.RepeatedCompositeFieldContainer[PermitEntry]
    def __init__(self, id_number: _Optional[str] = ..., name: _Optional[str] = ..., registrations: _Optional[_Iterable[_Union[ResidenceRegistrationEntry, _Mapping]]] = ..., permits: _Optional[_Iterable[_Union[PermitEntry, _Mapping]]] = ...) -> None: ...
