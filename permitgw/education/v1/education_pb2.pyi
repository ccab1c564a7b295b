from permitgw.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckEnrollmentRequest(_message.Message):
    __slots__ = ("context", "XJH", "SFZJH", "JHR1SFZJH", "JHR2SFZJH")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    XJH_FIELD_NUMBER: _ClassVar[int]
    SFZJH_FIELD_NUMBER: _ClassVar[int]
    JHR1SFZJH_FIELD_NUMBER: _ClassVar[int]
    JHR2SFZJH_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    XJH: str
    SFZJH: str
    JHR1SFZJH: str
    JHR2SFZJH: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., XJH: _Optional[str] = ..., SFZJH: _Optional[str] = ..., JHR1SFZJH: _Optional[str] = ..., JHR2SFZJH: _Optional[str] = ...) -> None: ...

class ZGYYItem(_message.Message):
    __slots__ = ("DM", "MC")
    DM_FIELD_NUMBER: _ClassVar[int]
    MC_FIELD_NUMBER: _ClassVar[int]
    DM: str
    MC: str
    def __init__(self, DM: _Optional[str] = ..., MC: _Optional[str] = ...) -> None: ...

class CheckEnrollmentResponse(_message.Message):
    __slots__ = ("XJH", "SFZJH", "RXZG", "ZGYY", "JZD_XZQH", "JZZYXQ", "JFZ", "PZ")
    XJH_FIELD_NUMBER: _ClassVar[int]
    SFZJH_FIELD_NUMBER: _ClassVar[int]
    RXZG_FIELD_NUMBER: _ClassVar[int]
    ZGYY_FIELD_NUMBER: _ClassVar[int]
    JZD_XZQH_FIELD_NUMBER: _ClassVar[int]
    JZZYXQ_FIELD_NUMBER: _ClassVar[int]
    JFZ_FIELD_NUMBER: _ClassVar[int]
    PZ_FIELD_NUMBER: _ClassVar[int]
    XJH: str
    SFZJH: str
    RXZG: str
    ZGYY: _containers.RepeatedCompositeFieldContainer[ZGYYItem]
    JZD_XZQH: str
    JZZYXQ: str
    JFZ: float
    PZ: bytes
    def __init__(self, XJH: _Optional[str] = ..., SFZJH: _Optional[str] = ..., RXZG: _Optional[str] = ..., ZGYY: _Optional[_Iterable[_Union[ZGYYItem, _Mapping]]] = ..., JZD_XZQH: _Optional[str] = ..., JZZYXQ: _Optional[str] = ..., JFZ: _Optional[float] = ..., PZ: _Optional[bytes] = ...) -> None: ...
