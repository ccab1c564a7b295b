from permitgw.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetDistrictStatisticsRequest(_message.Message):
    __slots__ = ("context", "district", "month")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    district: str
    month: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., district: _Optional[str] = ..., month: _Optional[str] = ...) -> None: ...

class Cell(_message.Message):
    __slots__ = ("value", "suppressed")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    value: int
    suppressed: bool
    def __init__(self, value: _Optional[int] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class DistrictRow(_message.Message):
    __slots__ = ("district", "registrations", "valid_permits", "permits_by_basis", "coordinators_required")
    class PermitsByBasisEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Cell
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Cell, _Mapping]] = ...) -> None: ...
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    REGISTRATIONS_FIELD_NUMBER: _ClassVar[int]
    VALID_PERMITS_FIELD_NUMBER: _ClassVar[int]
    PERMITS_BY_BASIS_FIELD_NUMBER: _ClassVar[int]
    COORDINATORS_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    district: str
    registrations: Cell
    valid_permits: Cell
    permits_by_basis: _containers.MessageMap[str, Cell]
    coordinators_required: int
    def __init__(self, district: _Optional[str] = ..., registrations: _Optional[_Union[Cell, _Mapping]] = ..., valid_permits: _Optional[_Union[Cell, _Mapping]] = ..., permits_by_basis: _Optional[_Mapping[str, Cell]] = ..., coordinators_required: _Optional[int] = ...) -> None: ...

class GetDistrictStatisticsResponse(_message.Message):
    __slots__ = ("month", "rows", "city_total", "minimum_cell")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    CITY_TOTAL_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_CELL_FIELD_NUMBER: _ClassVar[int]
    month: str
    rows: _containers.RepeatedCompositeFieldContainer[DistrictRow]
    city_total: DistrictRow
    minimum_cell: int
    def __init__(self, month: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[DistrictRow, _Mapping]]] = ..., city_total: _Optional[_Union[DistrictRow, _Mapping]] = ..., minimum_cell: _Optional[int] = ...) -> None: ...
