"""The gate's promises, with the in-memory store (tests/fakes.py), a fake gRPC context and real certificates:

every refusal is logged before it leaves; no answer without its entry (UNAVAILABLE when the log cannot be
written); answers are projected to the granted field groups; the quota refuses and is logged; an allowed call is
logged exactly once, naming everyone it is about. The policy is the shipped one (it is pure).
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit.entry import AccessEntry, Decision
from gateway.audit.log import AuditLog
from gateway.domain import clock
from gateway.domain.districts import District
from gateway.domain.idnumber import IdNumber
from gateway.domain.records import Guardianship, HousingType, Permit, PermitState, Person, ResidenceRegistration, Sex
from gateway.identity.ca import init_ca, issue_client
from gateway.identity.principal import Principal
from gateway.identity.revocation import RevocationList
from gateway.policy.decisions import PolicyEngine
from gateway.rules.eligibility import HousingSettings
from gateway.rules.enrollment import EnrollmentSettings
from gateway.server.entitlement_service import CHECK_ENROLLMENT, EntitlementService
from gateway.server.errors import Refused
from gateway.server.gate import Call, Gate
from gateway.server.metrics import Metrics
from gateway.server.permit_service import GET_PERMIT_STATUS, GET_RESIDENCE_RECORD, PermitService
from gateway.settings.anomalies import load_anomalies
from gateway.settings.enrollment import load_enrollment
from gateway.settings.housing import load_housing
from gateway.settings.points import load_points
from gateway.settings.quotas import load_quotas
from gateway.watch.anomalies import AnomalyDetector
from gateway.watch.quotas import QuotaCounter, QuotaLimits, QuotaSettings, QuotaTracker
from gateway.watch.shared_quotas import SharedQuotaCounter
from permitgw.v1 import common_pb2, entitlement_pb2, permit_pb2
from tests.fakes import Aborted, FakeContext, FakeQuotaLedger, FakeStore
from tests.helpers import make_id

POLICIES = Path(__file__).resolve().parents[2] / "policies"
DISTRICT = "330203"
ADULT, OTHER = IdNumber.parse(make_id(DISTRICT, seq=101)), IdNumber.parse(make_id(DISTRICT, seq=102))
CHILD = IdNumber.parse(make_id(DISTRICT, _dt.date(2019, 3, 1), seq=103))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], tuple[Principal, bytes]]:
    """A client certificate issued by the gateway's own CA code, per (role, district)."""
    keys = tmp_path_factory.mktemp("data") / "keys"
    init_ca(keys)
    issued: dict[tuple[str, str], tuple[Principal, bytes]] = {}

    def get(role: str, district: str = DISTRICT) -> tuple[Principal, bytes]:
        if (role, district) not in issued:
            prefix = keys.parent / "clients" / f"{role}-{district}"
            principal = issue_client(keys, Principal(role, "org-1", f"test {role}", district), prefix)
            issued[role, district] = principal, Path(f"{prefix}.crt").read_bytes()
        return issued[role, district]

    return get


@dataclass
class Rig:
    store: FakeStore
    gate: Gate
    revocations: RevocationList

    def context(self, pem: bytes | None) -> FakeContext:
        return FakeContext([pem] if pem else [], store=self.store)

    def index(self, who: IdNumber) -> str:
        return self.store.subject_index(who)


def _person(who: IdNumber, district: str = DISTRICT) -> tuple[Person, ResidenceRegistration, Permit]:
    return (Person(who, "Test Person", Sex.FEMALE, who.birth_date),
            ResidenceRegistration(who, District(district), "1 Test Road", _dt.date(2024, 1, 10),
                                  HousingType.RENTAL_REGISTERED),
            Permit(who, f"P{who.value[-6:]}", District(district), _dt.date(2025, 1, 10), _dt.date(2027, 1, 9), None,
                   PermitState.VALID))


def _rig(tmp_path: Path, quotas: QuotaSettings | None = None, counter: QuotaCounter | None = None) -> Iterator[Rig]:
    store = FakeStore()
    store.add(*_person(ADULT), *_person(OTHER), *_person(CHILD), Guardianship(CHILD, ADULT, "52", "psb"))
    (tmp_path / "revoked.txt").write_text("")
    revocations = RevocationList(tmp_path / "revoked.txt", store=store, check_interval=0)
    audit = AuditLog(store, "permitgw.test/unit", Ed25519PrivateKey.generate())
    gate = Gate(store, PolicyEngine(POLICIES), revocations, today=clock.today,
                quotas=counter or QuotaTracker(quotas or load_quotas(POLICIES), clock=clock.epoch), metrics=Metrics(),
                audit=audit, anomalies=AnomalyDetector(load_anomalies(POLICIES)))
    try:
        yield Rig(store, gate, revocations)
    finally:
        audit.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from _rig(tmp_path)


def _status_request(who: IdNumber | str, purpose: str = "compulsory-education") -> permit_pb2.GetPermitStatusRequest:
    return permit_pb2.GetPermitStatusRequest(context=common_pb2.RequestContext(purpose=purpose),
                                             id_number=who if isinstance(who, str) else who.value)


def _refused(rig: Rig, ctx: FakeContext, request: permit_pb2.GetPermitStatusRequest) -> tuple[Aborted, AccessEntry]:
    """Call GetPermitStatus expecting a refusal; the entry the log held when the refusal left."""
    with pytest.raises(Aborted) as info:
        PermitService(rig.gate).GetPermitStatus(request, ctx)
    assert ctx.logged_at_abort is not None and len(ctx.logged_at_abort) == 1, "logged once, before the error"
    return info.value, ctx.logged_at_abort[0]


# --- every refusal is logged before it leaves -----------------------------------------------------------------
def test_no_certificate_is_refused_unauthenticated_and_logged(rig: Rig) -> None:
    aborted, entry = _refused(rig, rig.context(None), _status_request(ADULT))
    assert aborted.code is grpc.StatusCode.UNAUTHENTICATED
    assert (entry.decision, entry.reason, entry.principal) == (Decision.DENY, "NO_CLIENT_CERTIFICATE", "")
    assert entry.method == GET_PERMIT_STATUS


def test_revoked_certificate_is_refused_and_logged_with_its_principal(rig: Rig, certificate: Callable) -> None:
    principal, pem = certificate("school")
    rig.revocations.revoke(principal.serial, require_issued=False)
    aborted, entry = _refused(rig, rig.context(pem), _status_request(ADULT))
    assert aborted.code is grpc.StatusCode.UNAUTHENTICATED
    assert (entry.decision, entry.reason) == (Decision.DENY, "CERTIFICATE_REVOKED")
    assert (entry.principal, entry.serial) == (principal.id, principal.serial)


def test_purpose_not_allowed_is_permission_denied_and_logged(rig: Rig, certificate: Callable) -> None:
    principal, pem = certificate("school")
    aborted, entry = _refused(rig, rig.context(pem), _status_request(ADULT, purpose="public-health"))
    assert aborted.code is grpc.StatusCode.PERMISSION_DENIED
    assert (entry.decision, entry.reason, entry.principal) == (Decision.DENY, "PURPOSE_NOT_ALLOWED", principal.id)
    assert entry.subject == rig.index(ADULT), "the person asked about is logged even when refused"


def test_invalid_identity_number_is_invalid_argument_and_logged_without_the_value(rig: Rig,
                                                                                 certificate: Callable) -> None:
    _, pem = certificate("school")
    bad = ADULT.value[:-1] + ("0" if ADULT.value[-1] != "0" else "1")
    aborted, entry = _refused(rig, rig.context(pem), _status_request(bad))
    assert aborted.code is grpc.StatusCode.INVALID_ARGUMENT
    assert (entry.decision, entry.reason, entry.subject) == (Decision.INVALID, "INVALID_ARGUMENT", "")
    assert bad not in aborted.details


# --- no answer without its entry ------------------------------------------------------------------------------
def test_unwritable_log_gives_unavailable_and_no_answer(rig: Rig, certificate: Callable) -> None:
    _, pem = certificate("school")
    rig.store.fail_appends = True
    ctx = rig.context(pem)
    with pytest.raises(Aborted) as info:
        PermitService(rig.gate).GetPermitStatus(_status_request(ADULT), ctx)
    assert info.value.code is grpc.StatusCode.UNAVAILABLE
    assert rig.store.entries == [] and ctx.logged_at_abort == []


# --- projection -----------------------------------------------------------------------------------------------
def test_answer_is_projected_to_the_granted_field_groups(rig: Rig, certificate: Callable) -> None:
    _, pem = certificate("housing")  # granted residence-history, permit-history, identity-masked: no name,
    request = permit_pb2.GetResidenceRecordRequest(   # no address, no permit number, the number masked
        context=common_pb2.RequestContext(purpose="housing-security"), id_number=ADULT.value)
    answer = PermitService(rig.gate).GetResidenceRecord(request, rig.context(pem))
    assert answer.name == "" and answer.id_number != ADULT.value and answer.id_number
    [registration] = answer.registrations
    assert registration.district == DISTRICT and registration.address == ""
    [permit] = answer.permits
    assert permit.valid_until == "2027-01-09" and permit.permit_number == ""
    [entry] = rig.store.entries
    assert (entry.method, entry.decision, entry.reason) == (GET_RESIDENCE_RECORD, Decision.ALLOW, "RECORD")


# --- quotas ---------------------------------------------------------------------------------------------------
def test_quota_refusal_is_logged(tmp_path: Path, certificate: Callable) -> None:
    one = QuotaSettings({"school": QuotaLimits(per_hour=1, per_day=1)}, alert_ratio=1.0)
    for rig in _rig(tmp_path, one):
        _, pem = certificate("school")
        PermitService(rig.gate).GetPermitStatus(_status_request(ADULT), rig.context(pem))
        ctx = rig.context(pem)
        with pytest.raises(Aborted) as info:
            PermitService(rig.gate).GetPermitStatus(_status_request(OTHER), ctx)
        assert info.value.code is grpc.StatusCode.PERMISSION_DENIED
        assert ctx.logged_at_abort is not None
        last = ctx.logged_at_abort[-1]
        assert (last.decision, last.reason, last.subject) == (Decision.DENY, "QUOTA_EXCEEDED", rig.index(OTHER))
        assert any(e.decision == Decision.ALERT and e.reason == "QUOTA_EXCEEDED" for e in ctx.logged_at_abort)


def test_a_quota_database_out_of_reach_fails_the_call_closed_unavailable_and_logged(tmp_path: Path,
                                                                                   certificate: Callable) -> None:
    ledger = FakeQuotaLedger()
    counter = SharedQuotaCounter(load_quotas(POLICIES), ledger, clock=clock.epoch)
    for rig in _rig(tmp_path, counter=counter):
        _, pem = certificate("school")
        PermitService(rig.gate).GetPermitStatus(_status_request(ADULT), rig.context(pem))
        ledger.unavailable = True
        ctx = rig.context(pem)
        with pytest.raises(Aborted) as info:
            PermitService(rig.gate).GetPermitStatus(_status_request(OTHER), ctx)
        assert info.value.code is grpc.StatusCode.UNAVAILABLE  # never answered uncounted
        assert ctx.logged_at_abort is not None
        last = ctx.logged_at_abort[-1]
        assert (last.decision, last.reason, last.subject) == (Decision.ERROR, "UNAVAILABLE", rig.index(OTHER))
        assert [e.decision for e in ctx.logged_at_abort] == [Decision.ALLOW, Decision.ERROR]
        ledger.unavailable = False
        PermitService(rig.gate).GetPermitStatus(_status_request(OTHER), rig.context(pem))  # heals by itself
        assert set(ledger.seen) == {rig.store.entries[0].principal}
        assert set(next(iter(ledger.seen.values()))) == {rig.index(ADULT), rig.index(OTHER)}


# --- an allowed call: logged once, naming everyone --------------------------------------------------------------
def test_allowed_call_is_logged_exactly_once_naming_every_subject(rig: Rig, certificate: Callable) -> None:
    principal, pem = certificate("school")
    settings: EnrollmentSettings = load_enrollment(POLICIES)
    housing: HousingSettings = load_housing(POLICIES)
    servicer = EntitlementService(rig.gate, settings, housing, load_points(POLICIES))
    request = entitlement_pb2.CheckEnrollmentRequest(
        context=common_pb2.RequestContext(purpose="compulsory-education"), child_id_number=CHILD.value,
        guardian_id_numbers=[ADULT.value, OTHER.value])
    answer = servicer.CheckEnrollment(request, rig.context(pem))
    assert answer.reasons
    [entry] = [e for e in rig.store.entries if e.decision != Decision.ALERT]
    assert (entry.method, entry.decision, entry.principal) == (CHECK_ENROLLMENT, Decision.ALLOW, principal.id)
    assert entry.subject == rig.index(CHILD)
    assert entry.subjects == tuple(sorted((rig.index(ADULT), rig.index(OTHER))))
    assert entry.reason == answer.reasons[0].code


# --- one parse of the identity number per call ----------------------------------------------------------------
class _CountingStore(FakeStore):
    """FakeStore counting blind indexes made (one per parse of the subject in the pipeline)."""

    indexed = 0

    def subject_index(self, who: IdNumber) -> str:
        self.indexed += 1
        return super().subject_index(who)


def test_the_admitted_subject_is_parsed_and_indexed_once(rig: Rig, certificate: Callable) -> None:
    store = _CountingStore()
    store.add(*_person(ADULT))
    rig.gate.store = store
    _, pem = certificate("school")
    raw = " " + ADULT.value.lower().replace("3", "\uff13") + " "  # messy text: width, case, spaces
    call = Call(method=GET_PERMIT_STATUS)
    request = _status_request(raw)
    rig.gate.admit_peer(call, [pem], request.context, raw)
    admitted = call.parsed[raw]
    assert admitted == ADULT and call.subject == store.subject_index(ADULT)
    store.indexed = 0
    assert rig.gate.subject(call, raw, "id_number") is admitted
    assert store.indexed == 0, "the subject admitted was indexed again"
    assert rig.gate.subject(call, OTHER.value, "id_number") == OTHER, "other text is parsed on its own"
    assert call.subject == store.subject_index(OTHER) and store.indexed == 2


def test_a_subject_admit_could_not_parse_is_refused_by_the_handler_naming_the_field(rig: Rig,
                                                                                   certificate: Callable) -> None:
    _, pem = certificate("school")
    call = Call(method=GET_PERMIT_STATUS)
    request = _status_request(ADULT.value[:17] + ("1" if ADULT.value[17] == "0" else "0"))  # wrong check character
    rig.gate.admit_peer(call, [pem], request.context, request.id_number)
    assert call.parsed == {} and call.subject == ""
    with pytest.raises(Refused) as info:
        rig.gate.subject(call, request.id_number, "id_number")
    assert info.value.code is grpc.StatusCode.INVALID_ARGUMENT and "id_number" in str(info.value)
