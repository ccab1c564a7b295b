"""permitgw.v1.AuditService: search the access log, prove it complete and unaltered, report on a subject.

Callable by the auditor (the subject report also by the police, on the person's behalf); every call is
itself logged, before its answer, like any other. The queries are service/audit_queries.py.
"""
from __future__ import annotations

from collections.abc import Iterator

import grpc

from gateway.audit.entry import AccessEntry, Decision
from gateway.audit.log import AuditLog
from gateway.policy.projection import project
from gateway.server import errors
from gateway.server.gate import Call, Gate, handler
from gateway.service import audit_queries
from gateway.service.audit_queries import BadQuery, NoCheckpoint
from permitgw.v1 import audit_pb2, audit_pb2_grpc

SERVICE = "permitgw.v1.AuditService"
SEARCH, CHECKPOINT = f"{SERVICE}/SearchAccessLog", f"{SERVICE}/GetCheckpoint"
INCLUSION, CONSISTENCY = f"{SERVICE}/GetInclusionProof", f"{SERVICE}/GetConsistencyProof"
SUBJECT_REPORT = f"{SERVICE}/GetSubjectAccessReport"


def entry_message(e: AccessEntry, leaf: bytes = b"") -> audit_pb2.AccessLogEntry:
    return audit_pb2.AccessLogEntry(
        seq=e.seq or 0, time=e.time, principal=e.principal, serial=e.serial, role=e.role, organisation=e.org,
        district=e.district, method=e.method, purpose=e.purpose, case_id=e.case_id, operator_id=e.operator_id,
        subject=e.subject, subjects=e.subjects, decision=e.decision, reason=e.reason, policy_version=e.policy_version,
        leaf_hash=leaf)


def refused(exc: BadQuery | NoCheckpoint) -> errors.Refused:
    """The status a refused query gets: INVALID_ARGUMENT naming the field, or FAILED_PRECONDITION."""
    if isinstance(exc, BadQuery):
        return errors.invalid_argument(exc.field, exc.description)
    return errors.failed_precondition(str(exc))


class AuditService(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, gate: Gate, log: AuditLog) -> None:
        self.gate, self.log = gate, log

    @handler(SEARCH)
    def SearchAccessLog(self, request: audit_pb2.SearchAccessLogRequest, context: grpc.ServicerContext,
                        call: Call) -> Iterator[audit_pb2.AccessLogEntry]:
        self.gate.admit(call, context, request.context)
        subject = None
        if request.subject_id_number.strip():  # identity() refuses a bad number naming the field
            subject = self.gate.store.subject_index(self.gate.identity(request.subject_id_number, "subject_id_number"))
        filters = audit_queries.Filters(
            subject=subject, principal=request.principal, org=request.organisation, role=request.role,
            purpose=request.purpose, decision=request.decision, since=request.since, until=request.until,
            limit=request.limit)
        try:
            found = audit_queries.search(self.gate.store, filters)
        except BadQuery as exc:
            raise refused(exc) from exc
        entries = [entry_message(e) for e in found]
        fields = self.gate.policy.table.catalogue.fields[SEARCH]
        for e in entries:
            project(e, call.groups, fields)
        self.gate.log(call, Decision.ALLOW, f"AUDIT_SEARCH:{len(entries)}")
        return iter(entries)

    @handler(CHECKPOINT)
    def GetCheckpoint(self, request: audit_pb2.GetCheckpointRequest, context: grpc.ServicerContext,
                      call: Call) -> audit_pb2.GetCheckpointResponse:
        self.gate.admit(call, context, request.context)
        try:
            size, root, note = audit_queries.checkpoint(self.gate.store, self.log, request.size)
        except (BadQuery, NoCheckpoint) as exc:
            raise refused(exc) from exc
        answer = audit_pb2.GetCheckpointResponse(checkpoint=note, size=size, root=root,
                                                 verifier_key=self.log.verifier)
        return self.gate.answer(call, answer, "CHECKPOINT")

    @handler(INCLUSION)
    def GetInclusionProof(self, request: audit_pb2.GetInclusionProofRequest, context: grpc.ServicerContext,
                          call: Call) -> audit_pb2.GetInclusionProofResponse:
        self.gate.admit(call, context, request.context)
        try:
            found = audit_queries.inclusion(self.gate.store, self.log, request.index, request.size)
        except (BadQuery, NoCheckpoint) as exc:
            raise refused(exc) from exc
        answer = audit_pb2.GetInclusionProofResponse(
            index=found.index, size=found.size, leaf_hash=found.leaf_hash, checkpoint=found.checkpoint,
            proof=found.proof, entry=entry_message(found.entry, found.leaf_hash))
        return self.gate.answer(call, answer, "INCLUSION_PROOF")

    @handler(CONSISTENCY)
    def GetConsistencyProof(self, request: audit_pb2.GetConsistencyProofRequest, context: grpc.ServicerContext,
                            call: Call) -> audit_pb2.GetConsistencyProofResponse:
        self.gate.admit(call, context, request.context)
        try:
            proof = audit_queries.consistency(self.gate.store, request.old_size, request.new_size)
        except BadQuery as exc:
            raise refused(exc) from exc
        answer = audit_pb2.GetConsistencyProofResponse(old_size=request.old_size, new_size=request.new_size,
                                                       proof=proof)
        return self.gate.answer(call, answer, "CONSISTENCY_PROOF")

    @handler(SUBJECT_REPORT)
    def GetSubjectAccessReport(self, request: audit_pb2.GetSubjectAccessReportRequest,
                               context: grpc.ServicerContext,
                               call: Call) -> audit_pb2.GetSubjectAccessReportResponse:
        self.gate.admit(call, context, request.context, request.id_number)
        who = self.gate.subject(call, request.id_number, "id_number")
        accesses = [audit_pb2.SubjectAccess(time=e.time, organisation=e.org, role=e.role, district=e.district,
                                            method=e.method, purpose=e.purpose, decision=e.decision,
                                            case_id=e.case_id)
                    for e in audit_queries.subject_accesses(self.gate.store, call.subject)]
        answer = audit_pb2.GetSubjectAccessReportResponse(id_number=who.value, accesses=accesses)
        return self.gate.answer(call, answer, f"SUBJECT_REPORT:{len(accesses)}")
