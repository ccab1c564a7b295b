"""Masking in projection: numbers the gate already validated are masked without a second parse, with the same
result; anything else is still parsed, and blanked when it is not a valid number."""
from __future__ import annotations

import pytest

from gateway.domain.idnumber import IdNumber
from gateway.policy.projection import mask_text, project
from permitgw.v1 import permit_pb2
from tests.helpers import make_id

A, B = make_id(seq=11), make_id(seq=12)
FIELDS = {"permit-status": ("status",), "identity-full": ("id_number",), "identity-masked": ("id_number",)}


def _answer(id_number: str) -> permit_pb2.GetPermitStatusResponse:
    return permit_pb2.GetPermitStatusResponse(id_number=id_number, status=permit_pb2.PERMIT_STATUS_VALID)


@pytest.mark.parametrize("known", [None, {}, {A: IdNumber.parse(A)}, {B: IdNumber.parse(B)}])
def test_a_valid_number_is_masked_alike_whether_known_or_not(known: dict[str, IdNumber] | None) -> None:
    msg = project(_answer(A), {"permit-status", "identity-masked"}, FIELDS, known)
    assert msg.id_number == mask_text(A) == A[:6] + "********" + A[14:]


@pytest.mark.parametrize("value", ["not a number", A[:17] + ("0" if A[17] != "0" else "1"), "G" + A])
def test_a_value_not_known_is_still_checked(value: str) -> None:
    msg = project(_answer(value), {"permit-status", "identity-masked"}, FIELDS, {A: IdNumber.parse(A)})
    assert msg.id_number == mask_text(value)
    assert A not in msg.id_number


def test_identity_full_keeps_the_number() -> None:
    msg = project(_answer(A), {"permit-status", "identity-full"}, FIELDS, {A: IdNumber.parse(A)})
    assert msg.id_number == A
