"""The request pipeline every handler walks: authenticate → authorise → decide → project → log → answer.

Identity comes only from the verified client certificate; every call, allowed or refused, is written
to the access log before its answer (or its error) leaves the server.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import logging
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from google.protobuf.message import Message

from gateway.audit.entry import AccessEntry, Decision
from gateway.audit.log import AuditLog, LogUnavailable
from gateway.domain.idnumber import IdNumber, InvalidIdNumber, fold_width
from gateway.identity.principal import InvalidPrincipal, Principal, principal_from_pem
from gateway.identity.revocation import RevocationList
from gateway.policy.decisions import CITY, IN, OUT, PolicyEngine, PolicyTable, Reason
from gateway.policy.projection import project
from gateway.server import errors
from gateway.server.metrics import Metrics
from gateway.service.access import Caller, access_entry
from gateway.store.port import Store, StoreUnavailable
from gateway.watch.anomalies import AnomalyWatch, alert_entry
from gateway.watch.quotas import QuotaCounter

log = logging.getLogger("permitgw.server")
M = TypeVar("M", bound=Message)
LOG_UNAVAILABLE = "the access log is unavailable: no answer given; try again shortly"
STORE_UNAVAILABLE = "the gateway's database is unavailable; try again shortly"
# A case or operator id is a bureau's reference, not free text: ASCII letters, digits and a little punctuation,
# and few digits in all — an identity number (15 or 18 digits), however it is split up, never fits.
_CONTEXT_ID = re.compile(r"[A-Za-z0-9(][A-Za-z0-9_.:/#()-]{0,63}")
MAX_CONTEXT_DIGITS = 12
UNKNOWN_PURPOSE = "(unknown)"  # what the log records for a purpose the policy does not know: never the text


@dataclass
class Call:
    """What the pipeline knows about one request so far; whatever is known is logged."""

    method: str
    principal: Principal | None = None
    purpose: str = ""
    case_id: str = ""
    operator_id: str = ""
    subject: str = ""
    subjects: set[str] = field(default_factory=set)  # everyone else the call is about (blind indexes)
    policy_version: str = ""
    groups: frozenset[str] = frozenset()  # the field groups of the answer this caller may see
    table: PolicyTable | None = None  # the policy this call was decided under, used to its end (reloads)
    started: float = field(default_factory=time.perf_counter)
    fingerprint: str = ""  # "sha256:<hex>" of a client certificate whose principal could not be read
    known_method: bool = True  # False for a method no servicer has: metrics count those under one label
    last_entry: AccessEntry | None = None
    last_seq: int = 0
    last_leaf: bytes | None = None  # the last entry's leaf hash, for the answer's attestation
    logged: bool = field(default=False)
    parsed: dict[str, IdNumber] = field(default_factory=dict)  # raw identity numbers admit parsed, by their text


class Stated(Protocol):
    """What a request says about itself (permitgw.v1.RequestContext): why, in which case, by which operator."""

    @property
    def purpose(self) -> str: ...
    @property
    def case_id(self) -> str: ...
    @property
    def operator_id(self) -> str: ...


_PEMS = "_permitgw_peer_pems"  # where peer_certificates keeps them on a call's context


def peer_certificates(context: grpc.ServicerContext) -> Sequence[bytes]:
    """The PEMs of the caller's verified certificate chain, the client's own first; empty without one.

    Kept in the call's context's attributes after the first look: the limits and the gate both ask, and gRPC builds
    the whole auth context (every property, keys decoded) each time it is asked. A call's peer does not change. Read
    and written through the context's `__dict__` (gRPC's context is a plain object): a missing attribute asked of
    getattr costs an AttributeError raised and dropped, on every call. A context without one is asked each time."""
    try:
        attrs: dict[str, object] | None = context.__dict__
    except AttributeError:
        attrs = None
    if attrs is not None:
        kept = attrs.get(_PEMS)
        if kept is not None:
            return kept  # type: ignore[return-value]  # only ever the list stored below
    # grpc-stubs types auth_context() as str -> bytes; gRPC gives a list of bytes per property
    found: Mapping[str, Sequence[bytes]] = context.auth_context()  # type: ignore[assignment]
    pems = found.get("x509_pem_cert") or []
    if attrs is not None:
        attrs[_PEMS] = pems
    return pems


def certificate_fingerprint(pem: bytes) -> str:
    """SHA-256 of the certificate's DER bytes ("sha256:<hex>"), or of the bytes received if they do not parse."""
    try:
        der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    except ValueError:
        der = pem
    return "sha256:" + hashlib.sha256(der).hexdigest()


def context_id(value: str, name: str) -> str:
    """A case or operator id as the log may record it, or INVALID_ARGUMENT (the value is never echoed)."""
    v = fold_width(value).strip()
    if v and not (_CONTEXT_ID.fullmatch(v) and sum(map(str.isdigit, v)) <= MAX_CONTEXT_DIGITS):
        raise errors.invalid_argument(name, "1 to 64 ASCII letters, digits and - _ . / : # ( ), not starting with "
                                      f"punctuation other than (, with at most {MAX_CONTEXT_DIGITS} digits in all")
    return v


def known_purpose(value: str, purposes: Collection[str]) -> str:
    """The purpose as the log may record it: a purpose the policy knows, "" for none, else UNKNOWN_PURPOSE."""
    v = fold_width(value).strip()
    return v if not v or v in purposes else UNKNOWN_PURPOSE


class Gate:
    """The request pipeline's collaborators: the store, the policy, revocations, the civil date (`today`: Ningbo's
    date decides validity), quotas, metrics, the access log (group commit + checkpoints) and the anomaly detector."""

    def __init__(self, store: Store, policy: PolicyEngine, revocations: RevocationList,
                 today: Callable[[], _dt.date], quotas: QuotaCounter, metrics: Metrics, audit: AuditLog,
                 anomalies: AnomalyWatch) -> None:
        self.store = store
        self.policy = policy
        self.revocations = revocations
        self.today = today
        self.quotas = quotas
        self.metrics = metrics
        self.audit = audit
        self.anomalies = anomalies

    # --- authenticate --------------------------------------------------------------------------
    def authenticate(self, context: grpc.ServicerContext, call: Call) -> Principal:
        """The gRPC caller's principal (see `authenticate_peer`)."""
        return self.authenticate_peer(peer_certificates(context), call)

    def authenticate_peer(self, pems: Sequence[bytes], call: Call) -> Principal:
        """The principal of a verified client certificate chain (PEMs, the client's own first), whatever the
        transport that verified it (gRPC's TLS, the console's HTTPS); refused when absent, foreign or revoked."""
        if not pems:
            raise errors.unauthenticated("NO_CLIENT_CERTIFICATE", "a client certificate is required")
        try:
            principal = principal_from_pem(pems[0])  # cached per certificate
        except InvalidPrincipal as exc:
            call.fingerprint = certificate_fingerprint(pems[0])  # the log says which certificate it was
            raise errors.unauthenticated("NOT_A_GATEWAY_PRINCIPAL", str(exc)) from exc
        call.principal = principal
        if self.revocations.whole():  # fail closed: a lost revocation list must not let revoked certificates in
            raise errors.unavailable("REVOCATION_LIST_DAMAGED", "the gateway cannot check revocations right now; "
                                     "no answer is given until its revocation list is repaired")
        if self.revocations.is_revoked(principal.serial):
            raise errors.unauthenticated("CERTIFICATE_REVOKED", "the client certificate has been revoked")
        return principal

    # --- authorise -----------------------------------------------------------------------------
    def admit(self, call: Call, context: grpc.ServicerContext, req_ctx: Stated, subject: str = "",
              others: Sequence[str] = ()) -> Principal:
        """Admit a gRPC call: `admit_peer` with the certificates gRPC verified."""
        return self.admit_peer(call, peer_certificates(context), req_ctx, subject, others)

    def admit_peer(self, call: Call, pems: Sequence[bytes], req_ctx: Stated, subject: str = "",
                   others: Sequence[str] = (), scope: str | None = None) -> Principal:
        """Authenticate the caller and authorise (role, district, purpose, method, scope); raise Refused if not.

        `subject` (the raw identity number asked about) is noted for the log even when the call is refused, and
        decides the scope: in-district when the subject lives in the caller's district (a city-level caller is
        in-district everywhere). It is validated strictly afterwards by `subject()`. `others` (raw identity
        numbers of further people the answer may speak of) are noted too, and count against the quota as well.
        `scope`, when given, is decided by the transport instead (the console: whether the access-log entry asked
        for was made by a caller of the auditor's own district).
        """
        principal = self.authenticate_peer(pems, call)
        given, scope = scope, IN
        for raw in others:
            with contextlib.suppress(InvalidIdNumber):  # refused as INVALID_ARGUMENT by the handler, naming the field
                call.subjects.add(self.store.subject_index(IdNumber.parse(raw)))
        if subject:
            try:
                who = IdNumber.parse(subject)
            except InvalidIdNumber:
                who = None
            if who is not None:
                call.subject = self.store.subject_index(who)
                call.parsed[subject] = who  # `subject()` takes it from here instead of parsing again
                if principal.district != CITY and self.store.latest_district(who) != principal.district:
                    scope = OUT
        if given is not None:
            scope = given
        call.table = self.policy.table  # one table for the whole call, even if a reload lands meanwhile
        call.purpose = known_purpose(req_ctx.purpose, call.table.catalogue.purposes)
        decision = call.table.decide(principal.role, principal.district, call.purpose, call.method, scope)
        call.policy_version, call.groups = decision.policy_version, decision.groups
        call.case_id = context_id(req_ctx.case_id, "context.case_id")
        call.operator_id = context_id(req_ctx.operator_id, "context.operator_id")
        if decision.allowed and (call.subject or call.subjects):
            self._check_quota(call, principal)
        if not decision.allowed:
            what = ("for an unknown purpose" if call.purpose == UNKNOWN_PURPOSE else
                    f"for purpose {call.purpose!r}" if call.purpose else "without a stated purpose")
            where = " about a person living outside its district" if decision.reason == Reason.OUT_OF_DISTRICT else ""
            raise errors.permission_denied(decision.reason, f"role {principal.role} may not call "
                                           f"{call.method.rsplit('/', 1)[-1]} {what}{where}",
                                           {"role": principal.role, "purpose": call.purpose})
        return principal

    def _check_quota(self, call: Call, principal: Principal) -> None:
        """Anti-harvesting: distinct subjects per principal per hour and day (policies/quotas.toml). A counter kept
        in the database that cannot be reached raises StoreUnavailable: the call fails closed (UNAVAILABLE)."""
        outcome = self.quotas.check(principal.id, principal.role, call.subject, *sorted(call.subjects))
        if outcome.alert:
            self.log(call, Decision.ALERT, outcome.alert, mark_logged=False)
        if not outcome.allowed:
            raise errors.permission_denied(Reason.QUOTA_EXCEEDED, (
                f"quota of {outcome.limit} distinct people per {outcome.window} reached for this certificate"),
                {"window": outcome.window, "limit": str(outcome.limit)})

    @staticmethod
    def identity(raw: str, field_name: str) -> IdNumber:
        """An identity number from a request field, or INVALID_ARGUMENT naming the field (never the value)."""
        try:
            return IdNumber.parse(raw)
        except InvalidIdNumber as exc:
            raise errors.invalid_argument(field_name, str(exc)) from exc

    def subject(self, call: Call, raw: str, field_name: str) -> IdNumber:
        """The person the request is about: validated, and noted for the access log by blind index. The same text
        admitted as this call's subject was parsed and indexed then: that number is taken, not parsed again."""
        who = call.parsed.get(raw)
        if who is not None and call.subject:
            return who
        who = self.identity(raw, field_name)
        call.subject = self.store.subject_index(who)
        return who

    # --- project, log, answer --------------------------------------------------------------------
    def answer(self, call: Call, msg: M, reason: str, attest: str = "") -> M:
        """Project the whole answer to the caller's field groups, log the access, and return the answer.

        `attest` names the answer's attestation field: once the entry is in the log, a signed statement of
        the decision with its log index goes there — if the caller's field groups include that field.
        """
        table = call.table or self.policy.table
        fields = table.catalogue.fields.get(call.method, {})
        project(msg, call.groups, fields, {who.value: who for who in call.parsed.values()})
        self.log(call, Decision.ALLOW, reason)
        granted = {path for g in call.groups for path in fields.get(g, ())}
        if attest and attest in granted and call.last_entry is not None:
            setattr(msg, attest, self.audit.attest(call.last_entry, call.last_seq, call.last_leaf))
        return msg

    def answered(self, call: Call, reason: str) -> int:
        """Log an allowed call whose answer is not a protobuf message (a console page, a CSV export): nothing is
        projected; the caller sends its answer only after this returned (LogUnavailable: send nothing)."""
        return self.log(call, Decision.ALLOW, reason)

    # --- log -----------------------------------------------------------------------------------
    def log(self, call: Call, decision: str, reason: str, *, mark_logged: bool = True) -> int:
        entry = access_entry(
            Caller.of(call.principal, call.fingerprint), method=call.method, purpose=call.purpose,
            case_id=call.case_id, operator_id=call.operator_id, subject=call.subject, subjects=call.subjects,
            decision=decision, reason=reason, policy_version=call.policy_version or self.policy.table.version)
        seq, leaf = self.audit.append_leaf(entry)
        call.logged = call.logged or mark_logged
        call.last_entry, call.last_seq, call.last_leaf = entry, seq, leaf
        if decision != Decision.ALERT:
            for alert in self.anomalies.observe(entry):  # bulk lookups, off-hours bursts, denied storms
                self.audit.append(alert_entry(entry, alert))
        label = call.method if call.known_method else "unknown"  # callers cannot mint metric series
        self.metrics.count(label, decision, reason)
        if mark_logged:
            self.metrics.time(label, time.perf_counter() - call.started)
        return seq

    def revocation_alarm(self, damage: str) -> None:
        """Record in the access log that the revocation list became damaged (calls are refused) or whole again."""
        reason = "REVOCATION_LIST_DAMAGED" if damage else "REVOCATION_LIST_WHOLE"
        try:
            self.log(Call(method=""), Decision.ALERT, reason, mark_logged=False)
        except Exception:
            log.exception("access log unavailable for a revocation alert")

    def refuse(self, method: str, context: grpc.ServicerContext, refused: errors.Refused) -> None:
        """Log a call refused before its handler ran (server limits); the caller then aborts with `refused`.
        The principal is recorded when the certificate names one; if the log is down, abort UNAVAILABLE."""
        call = Call(method=method)
        pems = peer_certificates(context)
        if pems:
            with contextlib.suppress(InvalidPrincipal):
                call.principal = principal_from_pem(pems[0])
        outcome = Decision.INVALID if refused.code is grpc.StatusCode.INVALID_ARGUMENT else Decision.DENY
        try:
            self.log(call, outcome, refused.reason)
        except Exception:
            log.exception("access log unavailable")
            context.abort(grpc.StatusCode.UNAVAILABLE, "the access log is unavailable: no answer given")


class Servicer(Protocol):
    """A servicer of ours: it holds the gate its handlers go through."""

    gate: Gate


S = TypeVar("S", bound=Servicer)
Q = TypeVar("Q")  # the request message
A = TypeVar("A")  # the answer (a message, or an iterator of messages for a server stream)


def handler(method: str) -> Callable[[Callable[[S, Q, grpc.ServicerContext, Call], A]],
                                     Callable[[S, Q, grpc.ServicerContext], A]]:
    """Wrap a servicer method: refusals and failures are logged, then sent with their gRPC status.

    The method receives the call's `Call` as a fourth argument; gRPC sees (self, request, context).
    """

    def deco(fn: Callable[[S, Q, grpc.ServicerContext, Call], A]) -> Callable[[S, Q, grpc.ServicerContext], A]:
        @functools.wraps(fn)
        def wrapper(self: S, request: Q, context: grpc.ServicerContext) -> A:
            gate = self.gate
            call = Call(method=method)
            failure: errors.Refused | None
            try:
                return fn(self, request, context, call)
            except errors.Refused as refused:
                outcome = Decision.INVALID if refused.code is grpc.StatusCode.INVALID_ARGUMENT else Decision.DENY
                failure = refused
            except LogUnavailable:  # the log cannot take this call's entry, nor an entry saying so
                context.abort(grpc.StatusCode.UNAVAILABLE, LOG_UNAVAILABLE)
            except StoreUnavailable as exc:
                log.warning("handler %s: %s", method, exc)
                outcome, failure = Decision.ERROR, errors.unavailable("UNAVAILABLE", STORE_UNAVAILABLE)
            except Exception:
                log.exception("handler %s failed", method)
                outcome, failure = Decision.ERROR, None
            try:
                # if the answer was logged but could not be built, say so; never log one call twice
                seq = -1 if call.logged else gate.log(call, outcome, failure.reason if failure else "INTERNAL")
            except LogUnavailable:
                context.abort(grpc.StatusCode.UNAVAILABLE, LOG_UNAVAILABLE)
            except Exception:
                log.exception("access log unavailable")
                context.abort(grpc.StatusCode.UNAVAILABLE, LOG_UNAVAILABLE)
            context.abort_with_status((failure or errors.internal(str(seq))).to_status())

        return wrapper

    return deco
