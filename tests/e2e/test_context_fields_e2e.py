"""End to end: what a bureau writes in the request context (purpose, case_id, operator_id) cannot smuggle a
person's identity number or name into the access log, nor forge rows or drive the terminal in `audit search`.
"""
from __future__ import annotations

import signal
from pathlib import Path

import grpc
import pytest

from gateway.client import channel
from gateway.synth import psb
from gateway.synth.people import residents
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc
from tests.conftest import run_cli
from tests.e2e.conftest import Gateway, serve, valid_holder
from tests.integration.test_store_backends import pg_at_rest, pg_dsn, pg_schema, use_postgres

__all__ = ["pg_dsn", "pg_schema"]  # fixtures of the PostgreSQL store tests, used here too


def _ask(g: Gateway, purpose: str, case_id: str = "CASE-1", operator_id: str = "OP-7") -> grpc.StatusCode:
    prefix = g.cert("ctx-school", "school", "330203")
    req = permit_pb2.GetPermitStatusRequest(
        context=common_pb2.RequestContext(purpose=purpose, case_id=case_id, operator_id=operator_id),
        id_number=valid_holder(g).id_number)
    try:
        with channel(g.address, prefix) as ch:
            permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(req, timeout=10)
    except grpc.RpcError as err:
        return err.code()
    return grpc.StatusCode.OK


def _at_rest(g: Gateway) -> bytes:
    """Every byte the SQLite store holds: the database file and its write-ahead log."""
    return b"".join(p.read_bytes() for p in sorted(g.data.glob("gateway.db*")))


def _split_ways(number: str) -> list[str]:
    return [f"{number[:6]}-{number[6:14]}-{number[14:]}",  # with dashes
            ".".join(number[i:i + 4] for i in range(0, 18, 4))]  # dotted groups of four


def test_a_purpose_naming_a_person_is_refused_and_never_stored(gw: Gateway) -> None:
    person = gw.people[7]
    purpose = f"{person.id_number} {person.name}"
    assert _ask(gw, purpose) == grpc.StatusCode.PERMISSION_DENIED
    entry = gw.log()[-1]
    assert (entry["decision"], entry["reason"], entry["purpose"]) == ("deny", "PURPOSE_NOT_ALLOWED", "(unknown)")
    stored = _at_rest(gw)
    for secret in (person.id_number, person.name):
        assert secret.encode("utf-8") not in stored, "the raw purpose reached the database"


def test_a_newline_in_the_purpose_cannot_forge_a_row_of_audit_search(gw: Gateway) -> None:
    forged = "compulsory-education\n999999 2099-01-01T00:00:00Z auditor/330200/FAKE allow"
    assert _ask(gw, forged) == grpc.StatusCode.PERMISSION_DENIED
    assert _ask(gw, "\x1b]0;owned\x07\x1b[2J\u202ecompulsory-education") == grpc.StatusCode.PERMISSION_DENIED
    text = run_cli("audit", "search", "--data", str(gw.data)).stdout
    lines = text.splitlines()
    entries = int(lines[-1].strip("()").split()[0])
    assert len(lines) == entries + 2, "one header line, one line per entry, one count line"
    assert "FAKE" not in text and "\x1b" not in text and "\u202e" not in text and "\x07" not in text


def test_control_characters_in_a_case_id_are_refused_and_never_printed_raw(gw: Gateway) -> None:
    assert _ask(gw, "compulsory-education", case_id="C-1\nforged") == grpc.StatusCode.INVALID_ARGUMENT
    assert _ask(gw, "compulsory-education", operator_id="\x1b[31mOP") == grpc.StatusCode.INVALID_ARGUMENT
    for as_json in ((), ("--json",)):
        out = run_cli("audit", "search", "--data", str(gw.data), *as_json).stdout
        assert "forged" not in out and "\x1b" not in out


@pytest.mark.parametrize("field", ["case_id", "operator_id"])
def test_an_identity_number_however_written_is_refused_as_a_case_or_operator_id(gw: Gateway, field: str) -> None:
    number = gw.people[11].id_number
    wrong_check = number[:17] + ("0" if number[17] != "0" else "1")
    for value in (*_split_ways(number), wrong_check, number, f"A{number[:15]}"):
        assert _ask(gw, "compulsory-education", **{field: value}) == grpc.StatusCode.INVALID_ARGUMENT, value
    stored = _at_rest(gw)
    for value in (*_split_ways(number), wrong_check):
        assert value.encode() not in stored


@pytest.mark.parametrize("case_id", ["CASE-1", "RX-2026-9", "RX2026-0117", "MZ-88120", "SJ-2026-3", "K-123456",
                                     "(2026)12-345"])
def test_a_bureau_reference_is_accepted(gw: Gateway, case_id: str) -> None:
    assert _ask(gw, "compulsory-education", case_id=case_id) == grpc.StatusCode.OK
    assert gw.log()[-1]["case_id"] == case_id


@pytest.mark.postgres
def test_on_postgres_too_a_purpose_naming_a_person_never_reaches_the_database(
        tmp_path: Path, pg_dsn: str, pg_schema: str) -> None:
    data = tmp_path / "data"
    run_cli("init", "--data", str(data))
    use_postgres(data / "config.toml", pg_dsn, pg_schema)
    people = residents(20, seed=9)
    src = tmp_path / "jzdj.csv"
    psb.write(src, people, seed=9)
    run_cli("import", "--data", str(data), "--bureau", "psb", str(src))
    proc, address = serve(data)
    try:
        g = Gateway(tmp_path, address, proc, people)
        person = people[3]
        assert _ask(g, f"{person.id_number} {person.name}") == grpc.StatusCode.PERMISSION_DENIED
        assert _ask(g, "compulsory-education", case_id=_split_ways(person.id_number)[0]) == \
            grpc.StatusCode.INVALID_ARGUMENT
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    blob = pg_at_rest(pg_dsn, pg_schema)
    assert b"(unknown)" in blob, "the refused call is in the PostgreSQL log"
    for secret in (person.id_number, person.name, _split_ways(person.id_number)[0]):
        assert secret.encode("utf-8") not in blob
