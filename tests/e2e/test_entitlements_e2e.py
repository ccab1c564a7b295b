"""End to end: CheckService (S-x, C-x, H-1) and EvaluatePermitEligibility over real mTLS.

H-1's months of social insurance are checked against a count taken directly from the HRSS file the
gateway imported — an independent path to the same number.
"""
from __future__ import annotations

import csv
import json
from collections import defaultdict

import grpc
import pytest

from gateway.client import channel
from gateway.domain import clock
from gateway.rules.eligibility import BASES
from permitgw.v1 import common_pb2, entitlement_pb2, entitlement_pb2_grpc
from tests.conftest import run_cli
from tests.e2e.conftest import Gateway, error_info, valid_holder


def _stub(g: Gateway, prefix: object) -> tuple[grpc.Channel, entitlement_pb2_grpc.EntitlementServiceStub]:
    ch = channel(g.address, prefix)
    return ch, entitlement_pb2_grpc.EntitlementServiceStub(ch)


def _check(g: Gateway, prefix: object, who: str, code: str, purpose: str) -> entitlement_pb2.CheckServiceResponse:
    ch, stub = _stub(g, prefix)
    with ch:
        return stub.CheckService(entitlement_pb2.CheckServiceRequest(
            context=common_pb2.RequestContext(purpose=purpose, case_id="C-1", operator_id="O-1"),
            id_number=who, service_code=code), timeout=10)


def _si_months_from_file(g: Gateway) -> dict[str, int]:
    """Qualifying months per person straight from sbjf: normal/late, not work injury (R-SI)."""
    months: dict[str, set[str]] = defaultdict(set)
    today = clock.today().strftime("%Y%m")
    with (g.root / "bureaus" / "sbjf_synth.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["AAA115"] in ("10", "21") and row["AAE140"] != "410" and row["AAE002"] <= today:
                months[row["AAC002"]].add(row["AAE002"])
    return {k: len(v) for k, v in months.items()}


def test_housing_bureau_gets_h1_facts_matching_the_hrss_file(gw: Gateway) -> None:
    housing = gw.cert("housing-city", "housing", "330200")  # the municipal bureau: every district
    expected = _si_months_from_file(gw)
    checked = 0
    for p in gw.people[:40]:
        answer = _check(gw, housing, p.id_number, "H-1", "housing-security")
        assert answer.housing_facts.social_insurance_months == expected.get(p.id_number, 0), p.id_number[-4:]
        assert set(answer.housing_facts.employment_bases) <= {"R-EMP-1", "R-EMP-2", "R-EMP-3"}
        assert set(answer.housing_facts.residence_bases) <= {"R-HOME-1", "R-HOME-2", "R-HOME-3"}
        assert answer.reasons and answer.id_number.count("*") == 8
        checked += answer.housing_facts.social_insurance_months > 0
    assert checked > 5, "the sample must include people with contributions"
    assert gw.log()[-1]["method"] == "permitgw.v1.EntitlementService/CheckService"


def test_a_purpose_covers_only_its_services(gw: Gateway) -> None:
    holder = valid_holder(gw)
    hospital = gw.cert(f"hospital-{holder.district}", "health", holder.district)
    assert _check(gw, hospital, holder.id_number, "S-3", "public-health").entitled
    with pytest.raises(grpc.RpcError) as exc:
        _check(gw, hospital, holder.id_number, "S-1", "public-health")
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(exc.value).reason == "PURPOSE_NOT_ALLOWED"
    with pytest.raises(grpc.RpcError) as exc:
        _check(gw, hospital, holder.id_number, "S-9", "public-health")
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "service_code" in exc.value.details()


def test_eligibility_over_grpc_equals_the_operator_tool(gw: Gateway) -> None:
    police = gw.cert("police", "police", "330203")
    ch, stub = _stub(gw, police)
    seen = set()
    with ch:
        for p in gw.people[:25]:
            answer = stub.EvaluatePermitEligibility(entitlement_pb2.EvaluatePermitEligibilityRequest(
                context=common_pb2.RequestContext(purpose="permit-administration"), id_number=p.id_number),
                timeout=10)
            cli = json.loads(run_cli("explain", "--data", str(gw.data), "--id", p.id_number, "--json").stdout)
            assert cli == {"eligible": answer.eligible, "bases": list(answer.bases),
                           "reasons": [{"code": r.code, "message": r.message} for r in answer.reasons]}
            assert set(answer.bases) <= set(BASES) and answer.reasons
            assert answer.as_of == clock.today().isoformat(), "no as_of asked: decided on today in Ningbo"
            seen.add(answer.eligible)
    assert seen == {True, False}, "the sample should hold eligible and ineligible people"
    assert any(e["method"] == "permitgw explain" and e["role"] == "operator" for e in gw.log())


def test_eligibility_is_for_police_only_and_as_of_is_validated(gw: Gateway) -> None:
    who = gw.people[0].id_number
    ch, stub = _stub(gw, gw.cert("school", "school", "330203"))
    with ch, pytest.raises(grpc.RpcError) as exc:
        stub.EvaluatePermitEligibility(entitlement_pb2.EvaluatePermitEligibilityRequest(
            context=common_pb2.RequestContext(purpose="compulsory-education"), id_number=who), timeout=10)
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    ch, stub = _stub(gw, gw.cert("police", "police", "330203"))
    with ch, pytest.raises(grpc.RpcError) as exc:
        stub.EvaluatePermitEligibility(entitlement_pb2.EvaluatePermitEligibilityRequest(
            context=common_pb2.RequestContext(purpose="permit-administration"), id_number=who, as_of="2026-13-40"),
            timeout=10)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "as_of" in exc.value.details()


def test_explain_text_and_errors(gw: Gateway) -> None:
    out = run_cli("explain", "--data", str(gw.data), "--id", gw.people[0].id_number, "--as-of", "2026-01-31").stdout
    assert "as of 2026-01-31" in out and "R-REG" in out and gw.people[0].id_number not in out
    bad = run_cli("explain", "--data", str(gw.data), "--id", "12345", check=False)
    assert bad.returncode == 1 and "--id" in bad.stderr and "Traceback" not in bad.stderr


def test_a_district_housing_bureau_sees_only_its_own_residents(gw: Gateway) -> None:
    mine = gw.people[0]
    other = next(p for p in gw.people if p.district != mine.district)
    bureau = gw.cert(f"housing-{mine.district}", "housing", mine.district)
    assert _check(gw, bureau, mine.id_number, "H-1", "housing-security").reasons
    with pytest.raises(grpc.RpcError) as exc:
        _check(gw, bureau, other.id_number, "H-1", "housing-security")
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(exc.value).reason == "OUT_OF_DISTRICT"
    entry = gw.log()[-1]
    assert (entry["decision"], entry["reason"]) == ("deny", "OUT_OF_DISTRICT") and len(entry["subject"]) == 64
