"""`permitgw demo`: the whole story on a fresh, temporary data directory, in well under a minute.

Synthesise every bureau's files and import them; serve over mTLS on a free loopback port, with the officers' web
console; ask as each bureau (one of them refused) and look once through the console as the city's auditor; show
the access log; verify it and an attestation; say how to sign in to the console; stop, leaving nothing. With
`keep_running` (`permitgw demo --keep-running`) the server and its console stay up until SIGINT or SIGTERM, so a
person can sign in with the auditor's certificate the demo printed; then it stops just as cleanly.
"""
from __future__ import annotations

import datetime as _dt
import http.client
import io
import json
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway import datadir
from gateway.audit import anchors, attestation, witnessing
from gateway.audit.port import AccessQuery
from gateway.audit.search import print_entries
from gateway.audit.verify import verify_log
from gateway.client import channel
from gateway.datadir import DataDir
from gateway.domain import clock
from gateway.errors import GatewayError
from gateway.identity.ca import issue_client
from gateway.identity.pkcs12 import P12Output
from gateway.identity.principal import Principal
from gateway.server.app import RunningServer, start, wait_for_stop
from gateway.service.importer import import_files
from gateway.synth.people import SynthPerson, residents
from gateway.synth.write import BUREAU_FILES, write_bureaus
from permitgw.health.v1 import permit_status_pb2 as hospital_pb2
from permitgw.health.v1 import permit_status_pb2_grpc as hospital_pb2_grpc
from permitgw.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    common_pb2,
    entitlement_pb2,
    entitlement_pb2_grpc,
    permit_pb2,
    permit_pb2_grpc,
    statistics_pb2,
    statistics_pb2_grpc,
)


class DemoFailed(GatewayError):
    """A part of the demo that runs as its own process (the witness) did not start."""


def _say(text: str) -> None:
    print(text, flush=True)


def _refusal(err: grpc.RpcError) -> str:
    st = rpc_status.from_call(err)
    reason = ""
    for d in st.details if st else ():
        info = error_details_pb2.ErrorInfo()
        if d.Unpack(info):
            reason = info.reason
    return f"{err.code().name}: {err.details()} [{reason}]"


def _family(people: list[SynthPerson]) -> tuple[SynthPerson, SynthPerson]:
    """A child of compulsory-education age whose guardian holds a valid permit."""
    today = clock.today()
    cutoff = _dt.date(today.year, 8, 31)
    for child in people:
        p = child.guardian
        age = cutoff.year - child.birth.year - ((cutoff.month, cutoff.day) < (child.birth.month, child.birth.day))
        valid_until = p.permit_valid_until if p else None
        if p and 6 <= age <= 15 and p.permit_state == "1" and valid_until is not None and valid_until >= today:
            return p, child
    raise RuntimeError("the synthetic population has no child of age with a validly permitted guardian")


def _ctx(purpose: str, case: str) -> common_pb2.RequestContext:
    return common_pb2.RequestContext(purpose=purpose, case_id=case, operator_id="DEMO-1")


def _console_get(url: str, prefix: Path, path: str) -> int:
    """GET `path` of the console as the holder of the PEM certificate `prefix`; the HTTP status."""
    ctx = ssl.create_default_context(cafile=f"{prefix}.ca.crt")
    ctx.load_cert_chain(f"{prefix}.crt", f"{prefix}.key")
    host, port = url.removeprefix("https://").rstrip("/").rsplit(":", 1)
    conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _console_url(running: RunningServer) -> str:
    assert running.console is not None, "started with a console"
    return f"https://{running.console.host}:{running.console.port}/"


def _sign_in(url: str, prefix: Path, p12: P12Output, verifier: str, stays: bool) -> None:
    """How a person signs in to the console: the PKCS#12 for a browser, or the PEM files for curl."""
    _say(f"== 7. the officers' console: {url}")
    _say(f"   sign in as the city's auditor (330200): import {p12.path} into the browser, "
         f"password {p12.password.decode('ascii')}")
    _say(f"   and let the browser trust the gateway CA {prefix}.ca.crt (the console's server certificate is "
         "from that CA)")
    _say(f"   or: curl --cacert {prefix}.ca.crt --cert {prefix}.crt --key {prefix}.key {url}")
    _say(f"   pin the log's verifier key on an entry page (it is what `permitgw audit verify` prints): {verifier}")
    if not stays:
        _say("   (stopped with the demo; `permitgw demo --keep-running` keeps the server and console up until Ctrl-C)")


def _wait_for_a_signal() -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM; the previous handlers are put back afterwards."""
    stop = threading.Event()
    before = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _say("   running until Ctrl-C (SIGINT or SIGTERM stops it)")
        wait_for_stop(stop)
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def run_demo(keep: bool = False, keep_running: bool = False) -> int:
    t0 = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="permitgw-demo-"))
    running: RunningServer | None = None
    witness: subprocess.Popen[str] | None = None
    try:
        data = DataDir(root / "data")
        _say(f"== 1. permitgw init --data {data.root}")
        datadir.init(data.root)
        cfg = data.config_file.read_text().replace("checkpoint_entries = 1000", "checkpoint_entries = 8")
        data.config_file.write_text(cfg)
        _say("   gateway CA, PII keys (AES-GCM + HMAC blind index), Ed25519 log key, policies, SQLite database")

        _say("== 1b. the city's audit bureau runs a witness (its own process, key and state); the gateway adds it")
        witness, url, wkey = _start_witness(root / "witness", data)
        witnessing.add(data.root, wkey, url)
        _say(f"   permitgw witness serve --data {root / 'witness'} --listen {url}: {wkey.split('+')[0]}")

        _say("== 2. every bureau exports its records (synthetic city of 80, some rows messy) and they are imported")
        people = residents(80, seed=7)
        files = root / "exports"
        files.mkdir()
        made = write_bureaus(files, people, seed=7, messy_rate=0.15)
        store = data.open_store()
        for bureau, kinds in BUREAU_FILES.items():
            paths = [files / name for name, _ in kinds]
            s = import_files(store, bureau, paths, data.rejects)
            _say(f"   {bureau:<9} {', '.join(p.name for p in paths):<30} read {s.read:>5} = accepted {s.accepted:>5} "
                 f"+ rejected {s.rejected:>2} + duplicates {s.duplicates:>2}")
        store.close()
        assert sum(c["rows"] for c in made.values()) > 0

        _say("== 3. permitgw serve --console: mutual TLS on a free loopback port, the officers' console beside it")
        running = start(data, "127.0.0.1:0", workers=8, console="127.0.0.1:0")
        address = f"127.0.0.1:{running.port}"
        p12 = P12Output(root / "auditor.p12", secrets.token_urlsafe(12).encode("ascii"))
        parent, child = _family(people)
        d = parent.district
        certs = {}
        for name, role, district in (("school", "school", d), ("hospital", "health", d),
                                     ("jobs", "employment", d), ("housing", "housing", "330200"),
                                     ("police", "police", "330200"), ("stats", "statistics", "330200"),
                                     ("auditor", "auditor", "330200")):
            certs[name] = root / name
            issue_client(data.keys, Principal(role, f"DEMO-{name.upper()}", f"demo {name}", district), certs[name],
                         p12=p12 if name == "auditor" else None)
        _say(f"   serving on {address}, console on {_console_url(running)}; certificates for a school, hospital, "
             "employment and housing bureau, police, statistics, auditor (also as PKCS#12 for a browser)")

        def ask(cert: str, what: str, call: Callable[[grpc.Channel], Any], show: Callable[[Any], str]) -> Any:
            with channel(address, certs[cert]) as ch:
                try:
                    answer = call(ch)
                except grpc.RpcError as err:
                    _say(f"   {what}\n      refused: {_refusal(err)}")
                    return None
            _say(f"   {what}\n      {show(answer)}")
            return answer

        _say("== 4. the bureaus ask")
        ask("school", "school: is this parent's residence permit valid?",
            lambda ch: permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(permit_pb2.GetPermitStatusRequest(
                context=_ctx("compulsory-education", "RX2026-0117"), id_number=parent.id_number), timeout=10),
            lambda a: f"{permit_pb2.PermitStatus.Name(a.status)} until {a.valid_until}, district {a.district}, "
                      f"subject {a.id_number}")
        enrol = ask("school", "school: may this child enrol (S-1)?",
                    lambda ch: entitlement_pb2_grpc.EntitlementServiceStub(ch).CheckEnrollment(
                        entitlement_pb2.CheckEnrollmentRequest(context=_ctx("compulsory-education", "RX2026-0118"),
                                                               child_id_number=child.id_number), timeout=10),
                    lambda a: f"{entitlement_pb2.EnrollmentDecision.Name(a.decision)} ({a.reasons[0].code}); "
                              f"signed attestation of {len(a.attestation)} bytes")
        ask("hospital", "hospital, in its own data elements (permitgw.health.v1), for public health:",
            lambda ch: hospital_pb2_grpc.HealthPermitServiceStub(ch).GetPermitStatus(
                hospital_pb2.GetPermitStatusRequest(context=_ctx("public-health", "MZ-88120"),
                                                    DE02_01_030_00=parent.id_number), timeout=10),
            lambda a: json.dumps(json_format.MessageToDict(a), ensure_ascii=False))
        ask("hospital", "hospital, asking for a purpose its role may not state (compulsory-education):",
            lambda ch: permit_pb2_grpc.PermitServiceStub(ch).GetPermitStatus(permit_pb2.GetPermitStatusRequest(
                context=_ctx("compulsory-education", "MZ-88121"), id_number=parent.id_number), timeout=10),
            lambda a: "UNEXPECTED: answered")
        ask("jobs", "employment bureau: basic public employment services (S-2)?",
            lambda ch: entitlement_pb2_grpc.EntitlementServiceStub(ch).CheckService(
                entitlement_pb2.CheckServiceRequest(context=_ctx("employment-service", "JY-301"),
                                                    id_number=parent.id_number, service_code="S-2"), timeout=10),
            lambda a: f"entitled={a.entitled} ({a.reasons[0].code})")
        ask("housing", "housing bureau: the facts behind housing security (H-1)",
            lambda ch: entitlement_pb2_grpc.EntitlementServiceStub(ch).CheckService(
                entitlement_pb2.CheckServiceRequest(context=_ctx("housing-security", "ZF-12"),
                                                    id_number=parent.id_number, service_code="H-1"), timeout=10),
            lambda a: f"entitled={a.entitled}; employment {list(a.housing_facts.employment_bases)}, residence "
                      f"{list(a.housing_facts.residence_bases)}, {a.housing_facts.social_insurance_months} months of "
                      f"insurance, {a.housing_facts.residence_months} months of residence")
        ask("police", "police: would this person be eligible for a permit today?",
            lambda ch: entitlement_pb2_grpc.EntitlementServiceStub(ch).EvaluatePermitEligibility(
                entitlement_pb2.EvaluatePermitEligibilityRequest(context=_ctx("permit-administration", "GA-5"),
                                                                 id_number=parent.id_number), timeout=10),
            lambda a: f"eligible={a.eligible} on {list(a.bases) or 'no basis'}")
        month = (clock.today().replace(day=1) - _dt.timedelta(days=1)).strftime("%Y-%m")
        ask("stats", f"statistics bureau: district aggregates for {month}",
            lambda ch: statistics_pb2_grpc.StatisticsServiceStub(ch).GetDistrictStatistics(
                statistics_pb2.GetDistrictStatisticsRequest(context=_ctx("population-statistics", "TJ-1"),
                                                            month=month), timeout=30),
            lambda a: f"{len(a.rows)} districts; city valid permits "
                      f"{'suppressed' if a.city_total.valid_permits.suppressed else a.city_total.valid_permits.value}; "
                      f"{sum(c.suppressed for r in a.rows for c in r.permits_by_basis.values())} small cells "
                      f"suppressed (minimum {a.minimum_cell})")
        ask("auditor", "auditor: who has looked at this parent's data?",
            lambda ch: audit_pb2_grpc.AuditServiceStub(ch).GetSubjectAccessReport(
                audit_pb2.GetSubjectAccessReportRequest(context=_ctx("access-audit", "SJ-1"),
                                                        id_number=parent.id_number), timeout=10),
            lambda a: "; ".join(f"{x.organisation} {x.method.rsplit('/', 1)[-1]} {x.decision}" for x in a.accesses))
        status = _console_get(_console_url(running), certs["auditor"], "/search")
        _say(f"   auditor, in the officers' console over HTTPS with the same certificate: GET /search -> {status}, "
             "itself an entry of the log")

        _say("== 5. the access log: every question, answered or refused, written before its answer left")
        buf = io.StringIO()
        print_entries(list(running.store.access_entries(AccessQuery()))[-10:], as_json=False, out=buf)
        for line in buf.getvalue().splitlines():
            _say(f"   {line}")
        web_port = running.console.port if running.console is not None else 0
        running.stop()  # signs a last checkpoint
        running = None

        _say("== 6. permitgw audit verify, and the school's attestation checked offline")
        store = data.open_store()
        try:
            verifier = data.log_verifier()
            origin = verifier.split("+")[0]
            report = verify_log(store, verifier, anchors.collect(data.root, origin, verifier))
            verdict = ("OK, complete and unaltered" if report.ok and report.independent
                       else "FAILED " + "; ".join(report.problems + report.warnings))
            _say(f"   log of {report.size} entries, {report.witnessed_size} covered by the checkpoint witnessed by "
                 f"{report.witnessed_by}, {report.unsigned} covered by no signature: "
                 f"{verdict}")
            if enrol is not None:
                st = attestation.verify_bundle(attestation.bundle(store, enrol.attestation, verifier), verifier)
                _say(f"   attestation OK: decision {st['decision']} is entry {st['index']} under a signed checkpoint")
        finally:
            store.close()
        if keep_running:  # the log is verified and closed; serve it again, console included, until a signal
            running = start(data, "127.0.0.1:0", workers=8, console="127.0.0.1:0")
            _say(f"   serving again on 127.0.0.1:{running.port} with the console")
        url = _console_url(running) if running is not None else f"https://127.0.0.1:{web_port}/"
        _sign_in(url, certs["auditor"], p12, verifier, stays=keep_running)
        if running is not None:
            _wait_for_a_signal()
            running.stop()
            running = None
        _say(f"== done in {time.monotonic() - t0:.1f} s; server stopped, nothing left running")
        if keep:
            _say(f"   data kept in {root}")
        return 0 if report.ok else 1
    finally:
        if running is not None:
            running.stop(grace=0)
        if witness is not None:
            witness.terminate()
            witness.communicate(timeout=10)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _start_witness(wdir: Path, data: DataDir) -> tuple[subprocess.Popen[str], str, str]:
    """`permitgw witness init` and `witness serve` as separate processes; returns (process, HOST:PORT, its key)."""
    cli = [sys.executable, "-m", "gateway.cli.main", "witness"]
    made = subprocess.run([*cli, "init", "--data", str(wdir), "--name", "audit.ningbo/witness", "--log",
                           data.log_verifier()], capture_output=True, text=True)
    if made.returncode != 0:
        why = " ".join(made.stderr.split()).removeprefix("permitgw: ") or f"exit {made.returncode}"
        raise DemoFailed(f"the witness could not be set up: {why}")
    proc = subprocess.Popen([*cli, "serve", "--data", str(wdir), "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    found = re.search(r"serving on (\S+)", proc.stdout.readline() if proc.stdout else "")
    if not found:
        proc.kill()
        proc.communicate()
        raise DemoFailed("the witness did not start")
    return proc, found.group(1), (wdir / "witness.vkey").read_text("utf-8").strip()


if __name__ == "__main__":
    sys.exit(run_demo())
