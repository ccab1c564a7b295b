"""permitgw.v1.AuditService: search the access log, prove it complete and unaltered, report on a subject.

Callable by the auditor (the subject report also by the police, on the person's behalf); every call is
itself logged, before its answer, like any other.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gateway.audit.checkpoint import InconsistentCheckpointError
from gateway.audit.entry import AccessEntry
from gateway.audit.log import AuditLog
from gateway.audit.port import AccessQuery
from gateway.audit.rfc9162 import consistency_proof, inclusion_proof
from gateway.audit.search import parse_time
from gateway.policy.projection import project
from gateway.server import errors
from gateway.server.gate import Call, Gate, handler
from permitgw.v1 import audit_pb2, audit_pb2_grpc

SERVICE = "permitgw.v1.AuditService"
SEARCH, CHECKPOINT = f"{SERVICE}/SearchAccessLog", f"{SERVICE}/GetCheckpoint"
INCLUSION, CONSISTENCY = f"{SERVICE}/GetInclusionProof", f"{SERVICE}/GetConsistencyProof"
SUBJECT_REPORT = f"{SERVICE}/GetSubjectAccessReport"
DEFAULT_LIMIT = 10_000


def entry_message(e: AccessEntry, leaf: bytes = b"") -> audit_pb2.AccessLogEntry:
    return audit_pb2.AccessLogEntry(
        seq=e.seq or 0, time=e.time, principal=e.principal, serial=e.serial, role=e.role, organisation=e.org,
        district=e.district, method=e.method, purpose=e.purpose, case_id=e.case_id, operator_id=e.operator_id,
        subject=e.subject, subjects=e.subjects, decision=e.decision, reason=e.reason, policy_version=e.policy_version,
        leaf_hash=leaf)


class AuditService(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, gate: Gate, log: AuditLog) -> None:
        self.gate, self.log = gate, log

    def _checkpoint(self, size: int) -> tuple[int, bytes, str]:
        cps = self.gate.store.checkpoints()
        if not cps:
            raise errors.failed_precondition("no checkpoint has been signed yet")
        if size == 0:
            return cps[-1]
        for cp in cps:
            if cp[0] == size:
                return cp
        try:
            made = self.log.checkpoint_at(size)  # a head whose row a later one replaced: signed again on demand
        except InconsistentCheckpointError as exc:
            raise errors.failed_precondition(f"cannot sign a checkpoint of that size: {exc}") from exc
        if made is not None:
            return made[0].size, made[0].root, made[1].decode("utf-8")
        raise errors.invalid_argument("size", "no signed checkpoint of that size (0 = the latest)")

    @handler(SEARCH)
    def SearchAccessLog(self, request: Any, context: Any, call: Call) -> Iterator[audit_pb2.AccessLogEntry]:
        self.gate.admit(call, context, request.context)
        subject = None
        if request.subject_id_number.strip():  # identity() refuses a bad number naming the field
            subject = self.gate.store.subject_index(self.gate.identity(request.subject_id_number, "subject_id_number"))
        try:
            since, until = parse_time(request.since, "since"), parse_time(request.until, "until")
        except ValueError as exc:
            raise errors.invalid_argument(str(exc).split(":")[0].lstrip("-"), "an RFC 3339 time or YYYY-MM-DD") from exc
        query = AccessQuery(subject=subject, principal=request.principal or None, org=request.organisation or None,
                            role=request.role or None, purpose=request.purpose or None,
                            decision=request.decision or None, since=since, until=until,
                            limit=request.limit if request.limit > 0 else DEFAULT_LIMIT)
        entries = [entry_message(e) for e in self.gate.store.access_entries(query)]
        fields = self.gate.policy.table.catalogue.fields[SEARCH]
        for e in entries:
            project(e, call.groups, fields)
        self.gate.log(call, "allow", f"AUDIT_SEARCH:{len(entries)}")
        return iter(entries)

    @handler(CHECKPOINT)
    def GetCheckpoint(self, request: Any, context: Any, call: Call) -> audit_pb2.GetCheckpointResponse:
        self.gate.admit(call, context, request.context)
        size, root, note = self._checkpoint(request.size)
        answer = audit_pb2.GetCheckpointResponse(checkpoint=note, size=size, root=root,
                                                 verifier_key=self.log.verifier)
        return self.gate.answer(call, answer, "CHECKPOINT")

    @handler(INCLUSION)
    def GetInclusionProof(self, request: Any, context: Any, call: Call) -> audit_pb2.GetInclusionProofResponse:
        self.gate.admit(call, context, request.context)
        size, _, note = self._checkpoint(request.size)
        if not 0 <= request.index < size:
            raise errors.invalid_argument("index", f"a leaf index below the checkpoint's size {size}")
        entry = next(self.gate.store.access_entries_at(request.index + 1))
        leaf = self.gate.store.subtree(0, request.index)
        answer = audit_pb2.GetInclusionProofResponse(
            index=request.index, size=size, leaf_hash=leaf, checkpoint=note,
            proof=inclusion_proof(request.index, size, self.gate.store), entry=entry_message(entry, leaf))
        return self.gate.answer(call, answer, "INCLUSION_PROOF")

    @handler(CONSISTENCY)
    def GetConsistencyProof(self, request: Any, context: Any, call: Call) -> audit_pb2.GetConsistencyProofResponse:
        self.gate.admit(call, context, request.context)
        size = self.gate.store.log_size()
        if not 0 < request.old_size <= request.new_size <= size:
            raise errors.invalid_argument("old_size", f"0 < old_size <= new_size <= {size}")
        answer = audit_pb2.GetConsistencyProofResponse(
            old_size=request.old_size, new_size=request.new_size,
            proof=consistency_proof(request.old_size, request.new_size, self.gate.store))
        return self.gate.answer(call, answer, "CONSISTENCY_PROOF")

    @handler(SUBJECT_REPORT)
    def GetSubjectAccessReport(self, request: Any, context: Any, call: Call
                               ) -> audit_pb2.GetSubjectAccessReportResponse:
        self.gate.admit(call, context, request.context, request.id_number)
        who = self.gate.subject(call, request.id_number, "id_number")
        accesses = [audit_pb2.SubjectAccess(time=e.time, organisation=e.org, role=e.role, district=e.district,
                                            method=e.method, purpose=e.purpose, decision=e.decision,
                                            case_id=e.case_id)
                    for e in self.gate.store.access_entries(AccessQuery(subject=call.subject))
                    if e.decision != "alert"]
        answer = audit_pb2.GetSubjectAccessReportResponse(id_number=who.value, accesses=accesses)
        return self.gate.answer(call, answer, f"SUBJECT_REPORT:{len(accesses)}")
