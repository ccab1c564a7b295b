from google.protobuf import struct_pb2 as _struct_pb2
from permitgw.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetPointsRequest(_message.Message):
    __slots__ = ("context", "id_number")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    id_number: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., id_number: _Optional[str] = ...) -> None: ...

class PointsItem(_message.Message):
    __slots__ = ("indicator", "name", "points", "max", "basis", "sources")
    INDICATOR_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    indicator: str
    name: str
    points: float
    max: float
    basis: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, indicator: _Optional[str] = ..., name: _Optional[str] = ..., points: _Optional[float] = ..., max: _Optional[float] = ..., basis: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ...) -> None: ...

class GetPointsResponse(_message.Message):
    __slots__ = ("total", "items", "reasons", "id_number", "table_version")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TABLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    total: float
    items: _containers.RepeatedCompositeFieldContainer[PointsItem]
    reasons: _containers.RepeatedCompositeFieldContainer[_common_pb2.Reason]
    id_number: str
    table_version: str
    def __init__(self, total: _Optional[float] = ..., items: _Optional[_Iterable[_Union[PointsItem, _Mapping]]] = ..., reasons: _Optional[_Iterable[_Union[_common_pb2.Reason, _Mapping]]] = ..., id_number: _Optional[str] = ..., table_version: _Optional[str] = ...) -> None: ...

class GetPointsRulesRequest(_message.Message):
    __slots__ = ("context",)
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ...) -> None: ...

class GetPointsRulesResponse(_message.Message):
    __slots__ = ("table", "table_version")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    TABLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    table: _struct_pb2.Struct
    table_version: str
    def __init__(self, table: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., table_version: _Optional[str] = ...) -> None: ...
