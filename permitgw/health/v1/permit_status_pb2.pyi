from permitgw.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetPermitStatusRequest(_message.Message):
    __slots__ = ("context", "DE02_01_030_00")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    DE02_01_030_00_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    DE02_01_030_00: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., DE02_01_030_00: _Optional[str] = ...) -> None: ...

class GetPermitStatusResponse(_message.Message):
    __slots__ = ("DE02_01_030_00", "JZZZT", "JZZYXQ", "FWXM")
    DE02_01_030_00_FIELD_NUMBER: _ClassVar[int]
    JZZZT_FIELD_NUMBER: _ClassVar[int]
    JZZYXQ_FIELD_NUMBER: _ClassVar[int]
    FWXM_FIELD_NUMBER: _ClassVar[int]
    DE02_01_030_00: str
    JZZZT: str
    JZZYXQ: str
    FWXM: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, DE02_01_030_00: _Optional[str] = ..., JZZZT: _Optional[str] = ..., JZZYXQ: _Optional[str] = ..., FWXM: _Optional[_Iterable[str]] = ...) -> None: ...
