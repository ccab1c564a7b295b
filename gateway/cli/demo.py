"""`permitgw demo`: the Stage-1 story end to end on a fresh, temporary data directory.

Synthesise and import a PSB file, serve over mTLS on a free loopback port, ask as a school (allowed)
and as a hospital with the wrong purpose (refused), show the access log, stop — leaving no process.
"""
from __future__ import annotations

import datetime as _dt
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway import datadir
from gateway.audit.search import print_entries
from gateway.client import channel
from gateway.datadir import DataDir
from gateway.identity.ca import issue_client
from gateway.identity.principal import Principal
from gateway.importer import import_files
from gateway.server.app import start
from gateway.store.port import AccessQuery
from gateway.synth import psb
from gateway.synth.people import residents
from permitgw.v1 import common_pb2, permit_pb2, permit_pb2_grpc


def _say(text: str) -> None:
    print(text, flush=True)


def _refusal(err: grpc.RpcError) -> str:
    st = rpc_status.from_call(err)  # type: ignore[arg-type]
    reason = ""
    for d in st.details if st else ():
        info = error_details_pb2.ErrorInfo()
        if d.Unpack(info):
            reason = info.reason
        br = error_details_pb2.BadRequest()
        if d.Unpack(br):
            reason = ", ".join(f"field {v.field}" for v in br.field_violations)
    return f"{err.code().name}: {err.details()} [{reason}]"


def run_demo(keep: bool = False) -> int:
    t0 = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="permitgw-demo-"))
    running = None
    try:
        data_path = root / "data"
        _say(f"== 1. permitgw init --data {data_path}")
        for what in datadir.init(data_path):
            _say(f"   created {what}")
        data = DataDir(data_path)

        _say("== 2. the PSB exports its residence registrations (synthetic, some rows messy)")
        people = residents(40, seed=7)
        src = root / "jzdj_demo.csv"
        counts = psb.write(src, people, seed=7, messy_rate=0.25, encoding="gb18030")
        _say(f"   wrote {src.name}: {counts['rows']} rows, GB18030, {counts['messy']} messy, "
             f"{counts['duplicates']} repeated, {counts['bad_id']} with a bad check digit")
        store = data.open_store()
        summary = import_files(store, "psb", [src], data.rejects)
        store.close()
        _say(f"   import: read {summary.read} = accepted {summary.accepted} + rejected {summary.rejected} "
             f"+ duplicates {summary.duplicates}")
        if summary.rejects_file:
            for line in Path(summary.rejects_file).read_text("utf-8").splitlines()[1:4]:
                _say(f"   set aside: {line}")

        _say("== 3. permitgw serve (mutual TLS, free loopback port)")
        running = start(data, "127.0.0.1:0", workers=4)
        address = f"127.0.0.1:{running.port}"
        _say(f"   serving on {address}")

        _say("== 4. certificates for a school in 海曙 and a hospital in 鄞州")
        school = root / "school"
        hospital = root / "hospital"
        issue_client(data.keys, Principal("school", "3302030001", "海曙区实验小学", "330203", ""), school)
        issue_client(data.keys, Principal("health", "3302120007", "鄞州区第二医院", "330212", ""), hospital)
        _say(f"   {school.name}.crt, {hospital.name}.crt issued by the gateway CA")

        parent = next(p.guardian for p in people if p.guardian and p.guardian.permit_state == "1"
                      and p.guardian.permit_valid_until and p.guardian.permit_valid_until >= _dt.date.today())
        ask = permit_pb2.GetPermitStatusRequest(id_number=parent.id_number)

        _say("== 5. the school asks: is this parent's residence permit valid? (purpose compulsory-education)")
        with channel(address, school) as ch:
            ask.context.CopyFrom(common_pb2.RequestContext(purpose="compulsory-education", case_id="RX2026-0117",
                                                           operator_id="T0042"))
            answer = permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(ask, timeout=10)
        _say(f"   status {permit_pb2.PermitStatus.Name(answer.status)}, valid until {answer.valid_until}, "
             f"district {answer.district}, subject {answer.id_number}")
        for r in answer.reasons:
            _say(f"   reason {r.code}: {r.message}")

        _say("== 6. the hospital asks the same with a purpose its role may not use (compulsory-education)")
        with channel(address, hospital) as ch:
            ask.context.CopyFrom(common_pb2.RequestContext(purpose="compulsory-education", case_id="MZ-88120",
                                                           operator_id="D17"))
            try:
                permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(ask, timeout=10)
                _say("   UNEXPECTED: the hospital was answered")
                return 1
            except grpc.RpcError as err:
                _say(f"   refused: {_refusal(err)}")

        _say("== 7. the access log: both questions, allowed and refused, recorded before the answers")
        buf = io.StringIO()
        print_entries(list(running.store.access_entries(AccessQuery())), as_json=False, out=buf)
        for line in buf.getvalue().splitlines():
            _say(f"   {line}")
        running.stop()
        running = None
        _say(f"== done in {time.monotonic() - t0:.1f} s; server stopped, nothing left running")
        if keep:
            _say(f"   data kept in {root}")
        return 0
    finally:
        if running is not None:
            running.stop(grace=0)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_demo())
