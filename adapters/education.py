"""Education Bureau adapter: `xj_*` enrolments (学籍) in, and (later) the enrolment system's answer out.

R-STUDY reads enrolments; CheckEnrollment reads the guardians the school system recorded, kept apart from the PSB's.
"""
from __future__ import annotations

import base64
from collections.abc import Mapping

from adapters.contract import Bureau, FileKind
from adapters.normalising import RowError, clean, code, id_number, month, text
from gateway.domain.idnumber import IdNumber, InvalidIdNumber
from gateway.domain.records import Enrolment, EnrolmentStatus, Guardianship, Record, SchoolStage
from gateway.errors import GatewayError
from gateway.rules.enrollment import EnrollmentDecision, Outcome

SOURCE = "education"

# --- inbound: xj_* enrolments ---

REQUIRED_COLUMNS: tuple[str, ...] = ("XJH", "SFZJH", "XXDM", "XD", "RXNY", "XJZT")
# XM (the name) is never read: the PSB is the source of names. XXMC and the guardian columns are optional.

GUARDIAN_RELATIONS: dict[str, str] = {"51": "father", "52": "mother", "59": "other guardian"}  # GB/T 4761
GUARDIAN_SLOTS = (1, 2)
# XJZT is a two-digit code; a spreadsheet that ate the leading zero ("1") still means "01".
_STATUSES: dict[str, EnrolmentStatus] = {s.value: s for s in EnrolmentStatus} | {
    s.value.lstrip("0"): s for s in EnrolmentStatus
}
_SCHOOL_CODE_LENGTH = 10


def _student_number(fields: Mapping[str, str], child: IdNumber) -> str:
    """XJH as 'G' + the canonical identity number; it must be the same person as SFZJH."""
    value = text(fields, "XJH").upper()
    try:
        embedded = IdNumber.parse(value[1:]) if value.startswith("G") else None
    except InvalidIdNumber:
        embedded = None
    if embedded is None:
        raise RowError("XJH", "not G followed by a valid identity number")
    if embedded != child:
        raise RowError("XJH", "does not match SFZJH")
    return "G" + embedded.value


def _school_code(fields: Mapping[str, str]) -> str:
    value = text(fields, "XXDM")
    if len(value) != _SCHOOL_CODE_LENGTH or not (value.isascii() and value.isdigit()):
        raise RowError("XXDM", "not a 10-digit school code")
    return value


def _enrolment(fields: Mapping[str, str]) -> Enrolment:
    child = id_number(fields, "SFZJH")
    return Enrolment(
        id_number=child,
        student_number=_student_number(fields, child),
        school_code=_school_code(fields),
        school_name=text(fields, "XXMC", required=False) or "",
        stage=code(fields, "XD", SchoolStage),
        enrolled_month=month(fields, "RXNY"),
        status=code(fields, "XJZT", _STATUSES),
    )


def _guardian(fields: Mapping[str, str], slot: int, child: IdNumber) -> Guardianship | None:
    """JHRnSFZJH with its JHRnGX relation; without a guardian number the relation column is not read."""
    column = f"JHR{slot}SFZJH"
    guardian = id_number(fields, column, required=False)
    if guardian is None:
        return None
    if guardian == child:
        raise RowError(column, "same as SFZJH")
    relation = code(fields, f"JHR{slot}GX", frozenset(GUARDIAN_RELATIONS))
    return Guardianship(child=child, guardian=guardian, relation=relation, source=SOURCE)


def _guardians(fields: Mapping[str, str], child: IdNumber) -> list[Guardianship]:
    found = [g for g in (_guardian(fields, slot, child) for slot in GUARDIAN_SLOTS) if g is not None]
    if len({g.guardian for g in found}) < len(found):  # the store keeps one relation per child and guardian
        raise RowError(f"JHR{GUARDIAN_SLOTS[-1]}SFZJH", f"same as JHR{GUARDIAN_SLOTS[0]}SFZJH")
    return found


def parse_row(fields: dict[str, str]) -> tuple[Record, ...]:
    """One Enrolment, and one Guardianship (source 'education') per guardian the row names."""
    enrolment = _enrolment(fields)
    return (enrolment, *_guardians(fields, enrolment.id_number))


BUREAU = Bureau("education", (FileKind("xj_*", parse_row, REQUIRED_COLUMNS),))


# --- outbound: the enrolment system's answer (docs/bureau-files.md, Education Bureau, outbound) ---

RXZG = {Outcome.ENTITLED: "1", Outcome.NOT_ENTITLED: "0", Outcome.NEEDS_REVIEW: "9"}


class BadChildReference(GatewayError, ValueError):
    """XJH and SFZJH of a request do not name one child; `field` says which to fix."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def child_from_request(xjh: str, sfzjh: str) -> tuple[str, str]:
    """(identity number as text, the field it came from) from a request naming the child by XJH or SFZJH."""
    x, s = clean(xjh).upper(), clean(sfzjh)
    if not x and not s:
        raise BadChildReference("SFZJH", "give the child's XJH or SFZJH")
    if x and not x.startswith("G"):
        raise BadChildReference("XJH", "a national student number is G followed by the identity number")
    if x and s:
        try:
            same = IdNumber.parse(x[1:]) == IdNumber.parse(s)
        except InvalidIdNumber:
            same = True  # whichever is invalid is reported by the identity check that follows
        if not same:
            raise BadChildReference("XJH", "XJH and SFZJH name different children")
    return (x[1:], "XJH") if x else (s, "SFZJH")


def enrollment_fields(decision: EnrollmentDecision, child_shown: str, asked_by: str, points: float | None,
                      attestation: bytes) -> dict[str, object]:
    """The enrolment system's answer; `child_shown` is the identity number as the school may see it."""
    fields: dict[str, object] = {
        "XJH" if asked_by == "XJH" else "SFZJH": ("G" + child_shown) if asked_by == "XJH" else child_shown,
        "RXZG": RXZG[decision.outcome],
        "ZGYY": [{"DM": r.code, "MC": r.message} for r in decision.reasons],
        "JZD_XZQH": decision.guardian_district,
        "JZZYXQ": decision.guardian_valid_until.isoformat() if decision.guardian_valid_until else "",
        "PZ": base64.b64encode(attestation).decode("ascii"),
    }
    if points is not None:
        fields["JFZ"] = points
    return fields
