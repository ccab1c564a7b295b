from permitgw.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnrollmentDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENROLLMENT_DECISION_UNSPECIFIED: _ClassVar[EnrollmentDecision]
    ENROLLMENT_DECISION_ENTITLED: _ClassVar[EnrollmentDecision]
    ENROLLMENT_DECISION_NOT_ENTITLED: _ClassVar[EnrollmentDecision]
    ENROLLMENT_DECISION_NEEDS_REVIEW: _ClassVar[EnrollmentDecision]
ENROLLMENT_DECISION_UNSPECIFIED: EnrollmentDecision
ENROLLMENT_DECISION_ENTITLED: EnrollmentDecision
ENROLLMENT_DECISION_NOT_ENTITLED: EnrollmentDecision
ENROLLMENT_DECISION_NEEDS_REVIEW: EnrollmentDecision

class CheckEnrollmentRequest(_message.Message):
    __slots__ = ("context", "child_id_number", "guardian_id_numbers")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    CHILD_ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    GUARDIAN_ID_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    child_id_number: str
    guardian_id_numbers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., child_id_number: _Optional[str] = ..., guardian_id_numbers: _Optional[_Iterable[str]] = ...) -> None: ...

class CheckEnrollmentResponse(_message.Message):
    __slots__ = ("decision", "reasons", "attestation", "guardian_district", "guardian_permit_valid_until", "points", "child_id_number")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    GUARDIAN_DISTRICT_FIELD_NUMBER: _ClassVar[int]
    GUARDIAN_PERMIT_VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    CHILD_ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    decision: EnrollmentDecision
    reasons: _containers.RepeatedCompositeFieldContainer[_common_pb2.Reason]
    attestation: bytes
    guardian_district: str
    guardian_permit_valid_until: str
    points: float
    child_id_number: str
    def __init__(self, decision: _Optional[_Union[EnrollmentDecision, str]] = ..., reasons: _Optional[_Iterable[_Union[_common_pb2.Reason, _Mapping]]] = ..., attestation: _Optional[bytes] = ..., guardian_district: _Optional[str] = ..., guardian_permit_valid_until: _Optional[str] = ..., points: _Optional[float] = ..., child_id_number: _Optional[str] = ...) -> None: ...

class CheckServiceRequest(_message.Message):
    __slots__ = ("context", "id_number", "service_code")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_CODE_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    id_number: str
    service_code: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., id_number: _Optional[str] = ..., service_code: _Optional[str] = ...) -> None: ...

class HousingFacts(_message.Message):
    __slots__ = ("employment_bases", "residence_bases", "social_insurance_months", "residence_months")
    EMPLOYMENT_BASES_FIELD_NUMBER: _ClassVar[int]
    RESIDENCE_BASES_FIELD_NUMBER: _ClassVar[int]
    SOCIAL_INSURANCE_MONTHS_FIELD_NUMBER: _ClassVar[int]
    RESIDENCE_MONTHS_FIELD_NUMBER: _ClassVar[int]
    employment_bases: _containers.RepeatedScalarFieldContainer[str]
    residence_bases: _containers.RepeatedScalarFieldContainer[str]
    social_insurance_months: int
    residence_months: int
    def __init__(self, employment_bases: _Optional[_Iterable[str]] = ..., residence_bases: _Optional[_Iterable[str]] = ..., social_insurance_months: _Optional[int] = ..., residence_months: _Optional[int] = ...) -> None: ...

class CheckServiceResponse(_message.Message):
    __slots__ = ("entitled", "reasons", "housing_facts", "attestation", "id_number")
    ENTITLED_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    HOUSING_FACTS_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    entitled: bool
    reasons: _containers.RepeatedCompositeFieldContainer[_common_pb2.Reason]
    housing_facts: HousingFacts
    attestation: bytes
    id_number: str
    def __init__(self, entitled: _Optional[bool] = ..., reasons: _Optional[_Iterable[_Union[_common_pb2.Reason, _Mapping]]] = ..., housing_facts: _Optional[_Union[HousingFacts, _Mapping]] = ..., attestation: _Optional[bytes] = ..., id_number: _Optional[str] = ...) -> None: ...

class EvaluatePermitEligibilityRequest(_message.Message):
    __slots__ = ("context", "id_number", "as_of")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.RequestContext
    id_number: str
    as_of: str
    def __init__(self, context: _Optional[_Union[_common_pb2.RequestContext, _Mapping]] = ..., id_number: _Optional[str] = ..., as_of: _Optional[str] = ...) -> None: ...

class EvaluatePermitEligibilityResponse(_message.Message):
    __slots__ = ("eligible", "bases", "reasons", "as_of", "id_number")
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    BASES_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    eligible: bool
    bases: _containers.RepeatedScalarFieldContainer[str]
    reasons: _containers.RepeatedCompositeFieldContainer[_common_pb2.Reason]
    as_of: str
    id_number: str
    def __init__(self, eligible: _Optional[bool] = ..., bases: _Optional[_Iterable[str]] = ..., reasons: _Optional[_Iterable[_Union[_common_pb2.Reason, _Mapping]]] = ..., as_of: _Optional[str] = ..., id_number: _Optional[str] = ...) -> None: ...
