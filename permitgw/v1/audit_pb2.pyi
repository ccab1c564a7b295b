from permitgw.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccessLogEntry(_message.Message):
    __slots__ = ("seq", "time", "principal", "serial", "role", "organisation", "district", "method", "purpose", "case_id", "operator_id", "subject", "decision", "reason", "policy_version", "leaf_hash", "subjects")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    time: str
    principal: str
    serial: str
    role: str
    organisation: str
    district: str
    method: str
    purpose: str
    case_id: str
    operator_id: str
    subject: str
    decision: str
    reason: str
    policy_version: str
    leaf_hash: bytes
    subjects: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, seq: _Optional[int] = ..., time: _Optional[str] = ..., principal: _Optional[str] = ..., serial: _Optional[str] = ..., role: _Optional[str] = ..., organisation: _Optional[str] = ..., district: _Optional[str] = ..., method: _Optional[str] = ..., purpose: _Optional[str] = ..., case_id: _Optional[str] = ..., operator_id: _Optional[str] = ..., subject: _Optional[str] = ..., decision: _Optional[str] = ..., reason: _Optional[str] = ..., policy_version: _Optional[str] = ..., leaf_hash: _Optional[bytes] = ..., subjects: _Optional[_Iterable[str]] = ...) -> None: ...

class SearchAccessLogRequest(_message.Message):
    __slots__ = ("context", "subject_id_number", "principal", "organisation", "role", "purpose", "decision", "since", "until", "limit")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    subject_id_number: str
    principal: str
    organisation: str
    role: str
    purpose: str
    decision: str
    since: str
    until: str
    limit: int
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., subject_id_number: _Optional[str] = ..., principal: _Optional[str] = ..., organisation: _Optional[str] = ..., role: _Optional[str] = ..., purpose: _Optional[str] = ..., decision: _Optional[str] = ..., since: _Optional[str] = ..., until: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class GetCheckpointRequest(_message.Message):
    __slots__ = ("context", "size")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    size: int
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., size: _Optional[int] = ...) -> None: ...

class GetCheckpointResponse(_message.Message):
    __slots__ = ("checkpoint", "size", "root", "verifier_key")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_KEY_FIELD_NUMBER: _ClassVar[int]
    checkpoint: str
    size: int
    root: bytes
    verifier_key: str
    def __init__(self, checkpoint: _Optional[str] = ..., size: _Optional[int] = ..., root: _Optional[bytes] = ..., verifier_key: _Optional[str] = ...) -> None: ...

class GetInclusionProofRequest(_message.Message):
    __slots__ = ("context", "index", "size")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    index: int
    size: int
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., index: _Optional[int] = ..., size: _Optional[int] = ...) -> None: ...

class GetInclusionProofResponse(_message.Message):
    __slots__ = ("index", "size", "leaf_hash", "proof", "checkpoint", "entry")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    index: int
    size: int
    leaf_hash: bytes
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    checkpoint: str
    entry: AccessLogEntry
    def __init__(self, index: _Optional[int] = ..., size: _Optional[int] = ..., leaf_hash: _Optional[bytes] = ..., proof: _Optional[_Iterable[bytes]] = ..., checkpoint: _Optional[str] = ..., entry: _Optional[_Union[AccessLogEntry, _Mapping]] = ...) -> None: ...

class GetConsistencyProofRequest(_message.Message):
    __slots__ = ("context", "old_size", "new_size")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEW_SIZE_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    old_size: int
    new_size: int
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., old_size: _Optional[int] = ..., new_size: _Optional[int] = ...) -> None: ...

class GetConsistencyProofResponse(_message.Message):
    __slots__ = ("old_size", "new_size", "proof")
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEW_SIZE_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    old_size: int
    new_size: int
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, old_size: _Optional[int] = ..., new_size: _Optional[int] = ..., proof: _Optional[_Iterable[bytes]] = ...) -> None: ...

class GetSubjectAccessReportRequest(_message.Message):
    __slots__ = ("context", "id_number")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    id_number: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., id_number: _Optional[str] = ...) -> None: ...

class SubjectAccess(_message.Message):
    __slots__ = ("time", "organisation", "role", "district", "method", "purpose", "decision", "case_id")
    TIME_FIELD_NUMBER: _ClassVar[int]
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    time: str
    organisation: str
    role: str
    district: str
    method: str
    purpose: str
    decision: str
    case_id: str
    def __init__(self, time: _Optional[str] = ..., organisation: _Optional[str] = ..., role: _Optional[str] = ..., district: _Optional[str] = ..., method: _Optional[str] = ..., purpose: _Optional[str] = ..., decision: _Optional[str] = ..., case_id: _Optional[str] = ...) -> None: ...

class GetSubjectAccessReportResponse(_message.Message):
    __slots__ = ("id_number", "accesses")
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ACCESSES_FIELD_NUMBER: _ClassVar[int]
    id_number: str
    accesses: _containers.RepeatedCompositeFieldContainer[SubjectAccess]
    def __init__(self, id_number: _Optional[str] = ..., accesses: _Optional[_Iterable[_Union[SubjectAccess, _Mapping]]] = ...) -> None: ...
