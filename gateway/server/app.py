"""Assemble and run the gRPC server: mutual TLS, servicers, health, reflection, clean shutdown.

The server trusts only client certificates from the gateway CA in the data directory.
"""
from __future__ import annotations

import datetime as _dt
import functools
import logging
import signal
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from gateway.audit import anchors as _anchors
from gateway.audit import witnessing
from gateway.audit.arrivals import Arrivals
from gateway.audit.entry import AccessEntry
from gateway.audit.log import GATHER_SECONDS, AuditLog, log_origin
from gateway.audit.port import AccessQuery
from gateway.audit.startup import LogRefused, check_log
from gateway.console import server as console_server
from gateway.console import verifying
from gateway.datadir import DataDir
from gateway.domain import clock
from gateway.errors import GatewayError
from gateway.identity.ca import server_credentials_material
from gateway.identity.revocation import CHECK_INTERVAL, RevocationList
from gateway.policy.decisions import PolicyEngine
from gateway.server import heap
from gateway.server.audit_service import AuditService
from gateway.server.entitlement_service import EducationEnrollmentService, EntitlementService
from gateway.server.gate import Gate
from gateway.server.health_dialect import HealthPermitService
from gateway.server.intake import Intake
from gateway.server.limits import LimitInterceptor, ServerLimits
from gateway.server.metrics import Metrics
from gateway.server.permit_service import PermitService
from gateway.server.points_service import PointsService
from gateway.server.policy_bundle import LoadedPolicy, load_bundle, load_policies
from gateway.server.policy_listener import PolicyListener, in_force_at_start
from gateway.server.policy_watch import PolicyWatcher
from gateway.server.quota_choice import quota_counter
from gateway.server.statistics_service import StatisticsService
from gateway.service.oversight_verify import run_full_verification
from gateway.store.port import Store, policy_versions
from gateway.watch.shared_anomalies import anomaly_watch
from permitgw.education.v1 import education_pb2, education_pb2_grpc
from permitgw.health.v1 import permit_status_pb2 as hospital_pb2
from permitgw.health.v1 import permit_status_pb2_grpc as hospital_pb2_grpc
from permitgw.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    entitlement_pb2,
    entitlement_pb2_grpc,
    permit_pb2,
    permit_pb2_grpc,
    points_pb2,
    points_pb2_grpc,
    statistics_pb2,
    statistics_pb2_grpc,
)

log = logging.getLogger("permitgw.server")


class ListenError(GatewayError):
    """The server could not bind its address."""


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    store: Store
    health: health.HealthServicer
    watcher: PolicyWatcher | PolicyListener  # the policies/ files (SQLite), or the cluster's policy (PostgreSQL)
    audit: AuditLog
    witnesses: witnessing.Submitter | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    console: console_server.RunningConsole | None = None
    verification: verifying.PeriodicVerification | None = None
    policy_note: str = ""  # where the policy in force came from, on PostgreSQL (printed after "serving on")

    def stop(self, grace: float = 2.0) -> None:
        self.health.enter_graceful_shutdown()
        if self.console is not None:
            self.console.stop()
        if self.verification is not None:
            self.verification.stop()
        self.server.stop(grace).wait()
        self.stopping.set()
        self.watcher.stop()
        self.audit.close()
        if self.witnesses is not None:
            self.witnesses.close()  # one last try to have the final checkpoint witnessed
        self.store.close()


def open_log(data: DataDir, store: Store, arrivals: Arrivals | None = None,
             gather: float = GATHER_SECONDS) -> tuple[AuditLog, witnessing.Submitter]:
    """The audit log, refusing a stored log that disagrees with any checkpoint known outside the database.
    With `arrivals` (a server's), its batches wait up to `gather` seconds for entries of calls already accepted."""
    cfg = data.config()["log"]
    origin = log_origin((data.keys / "ca.crt").read_bytes())
    verifier = data.log_verifier()
    found = _anchors.collect(data.root, origin, verifier, ask=True)
    check_log(store, verifier, found)
    for warning in found.warnings:
        log.warning("%s", warning)
    submitter = witnessing.Submitter(data.root, witnessing.load(data.root), verifier, store)
    latest = store.checkpoints()[-1:]
    if latest:
        submitter.submit(latest[0][2].encode("utf-8"))  # a witness that missed the last one catches up
    audit = AuditLog(store, origin, data.signing_key(), every_entries=cfg["checkpoint_entries"],
                     every_seconds=cfg["checkpoint_seconds"], on_signed=submitter.submit, arrivals=arrivals,
                     gather_seconds=gather)
    return audit, submitter


def _since(days: int) -> str:
    return (clock.now() - _dt.timedelta(days=days)).isoformat(timespec="seconds").replace("+00:00", "Z")


HISTORY_PAGE = 2000  # entries read at a time when the last day of the log is replayed at start


def day_of_log(store: Store) -> Iterator[AccessEntry]:
    """The last 24 hours of the access log, oldest first, read a page at a time: a busy day read whole had held every
    row in memory at once while the quotas and anomaly windows were rebuilt, and the server kept that peak."""
    since, after = _since(days=1), 0
    while True:
        page = list(store.access_entries(AccessQuery(since=since, after=after, limit=HISTORY_PAGE)))
        yield from page
        if len(page) < HISTORY_PAGE or page[-1].seq is None:
            return
        after = page[-1].seq


def recent_accesses(store: Store) -> Iterator[tuple[float, str, str, str, str]]:
    """The last 24 hours of the access log as (epoch seconds, principal, role, subjects, decision); subjects are
    every person an entry is about, space-separated."""
    for e in day_of_log(store):
        yield (_dt.datetime.fromisoformat(e.time.replace("Z", "+00:00")).timestamp(), e.principal, e.role,
               " ".join(e.people()), e.decision)


def watch_revocations(revocations: RevocationList, gate: Gate, stopping: threading.Event) -> None:
    """Say on stdout, and in the access log, when the revocation list becomes damaged or whole again. It is
    looked at every check interval, so a loss is reported even while no call arrives (calls are refused
    from the moment the list is found damaged, whether reported yet or not). The same thread re-reads the
    store's revocations (those made on other replicas), so no request ever waits for that read."""
    def alarm(damage: str) -> None:
        if damage:
            print(f"permitgw: ALERT: revocation list damaged, refusing every call: {damage}", flush=True)
        else:
            print("permitgw: revocation list whole again; answering calls", flush=True)
        gate.revocation_alarm(damage)

    def look() -> None:
        reported = ""
        while not stopping.wait(CHECK_INTERVAL):
            try:
                revocations.poll_store()
            except Exception:  # never let the watcher die: a dead watcher would hide revocations and damage
                log.exception("re-reading revocations failed")
            damage = revocations.whole()
            if damage != reported:
                alarm(damage)
                reported = damage

    threading.Thread(target=look, name="revocation-watch", daemon=True).start()


def start(data: DataDir, listen: str, workers: int | None = None, metrics: str | None = None,
          console: str | None = None, reuse_port: bool = False, *,
          shared_quotas: bool = False, shared_anomalies: bool = False) -> RunningServer:
    """Start serving on `listen` (HOST:PORT; port 0 picks a free one) and return at once; with `console`
    (HOST:PORT), the officers' web console too, over the same gate, store, access log and revocations.

    `workers` is the number of threads serving calls in this process (config.toml [server] workers by default).
    `reuse_port`: join the other worker processes on `listen` (SO_REUSEPORT, gateway/server/prefork.py); without
    it a port another process listens on is refused, never shared. Quotas and anomalies are then counted in the
    database (as `shared_quotas` and `shared_anomalies` ask, and as the PostgreSQL backend always does): the workers
    share one count, and alerts fire on the combined traffic of every process.
    """
    data.require()
    cfg = data.config()
    interval = watch_seconds(cfg)
    gather = gather_seconds(cfg)
    threads = worker_threads(cfg, workers)
    if cfg["store"]["backend"] == "sqlite" and not data.database.is_file():
        raise ListenError(f"{data.database} is missing: restore it from a backup (a gateway that has served "
                          "never starts on an empty log), or run `permitgw init` for a new gateway")
    cluster = cfg["store"]["backend"] == "postgres"
    if not cluster:
        loaded = load_policies(data.policies)  # a bad policy is refused before anything else is opened
    store = data.open_store()
    if cluster:  # one policy for every replica: the latest pushed to the database (docs/policy.md)
        try:
            pushed, policy_note = in_force_at_start(policy_versions(store), data.policies)
            loaded = load_bundle(pushed.files, f"cluster policy {pushed.version}")
        except GatewayError:
            store.close()
            raise
    engine = PolicyEngine(data.policies, loaded.table)
    try:
        arrivals = Arrivals(threads)
        audit, submitter = open_log(data, store, arrivals, gather)
    except (LogRefused, witnessing.WitnessConfigError) as exc:
        store.close()
        raise ListenError(f"refusing to serve this log: {exc}") from exc
    quotas = quota_counter(loaded.quotas, store, cfg["store"]["backend"], clock=clock.epoch,
                           history=lambda: recent_accesses(store), shared=shared_quotas or reuse_port)
    counters = Metrics()
    anomalies = anomaly_watch(loaded.anomalies, store, backend=cfg["store"]["backend"],
                              force_shared=shared_anomalies or reuse_port,  # counted in the database
                              history=lambda: day_of_log(store))
    revocations = RevocationList(data.certs / "revoked.txt", store=store,  # on PostgreSQL the store is the cluster's
                                 shared_store=cfg["store"]["backend"] == "postgres")
    gate = Gate(store, engine, revocations, today=clock.today, quotas=quotas, metrics=counters, audit=audit,
                anomalies=anomalies)
    stopping = threading.Event()
    watch_revocations(revocations, gate, stopping)
    enrollment, points = loaded.enrollment, loaded.points
    bounds = ServerLimits.from_config(cfg["server"], str(data.config_file))
    services = (
        (permit_pb2, "PermitService", permit_pb2_grpc.add_PermitServiceServicer_to_server, PermitService(gate)),
        (hospital_pb2, "HealthPermitService", hospital_pb2_grpc.add_HealthPermitServiceServicer_to_server,
         HealthPermitService(gate)),
        (entitlement_pb2, "EntitlementService", entitlement_pb2_grpc.add_EntitlementServiceServicer_to_server,
         EntitlementService(gate, enrollment, loaded.housing, points)),
        (education_pb2, "EnrollmentService", education_pb2_grpc.add_EnrollmentServiceServicer_to_server,
         EducationEnrollmentService(gate, enrollment, points)),
        (points_pb2, "PointsService", points_pb2_grpc.add_PointsServiceServicer_to_server,
         PointsService(gate, points)),
        (statistics_pb2, "StatisticsService", statistics_pb2_grpc.add_StatisticsServiceServicer_to_server,
         StatisticsService(gate, loaded.statistics)),
        (audit_pb2, "AuditService", audit_pb2_grpc.add_AuditServiceServicer_to_server, AuditService(gate, audit)),
    )
    method_limits = loaded.method_limits  # limits.toml, checked against the methods served (policy_bundle.py)
    limiter = LimitInterceptor(bounds, method_limits, gate.refuse)
    # Intake first: it authenticates, logs and decodes every call (also unknown, undecodable or oversized ones)
    # before the limits see the decoded request (gateway/server/intake.py, limits.py).
    intake = Intake(gate, max_request_bytes=bounds.max_request_bytes // 2,
                    method_bytes=lambda method: method_limits.of(method).max_bytes, arrivals=arrivals)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads),
                         interceptors=[intake, limiter],
                         options=[*bounds.grpc_options(), ("grpc.so_reuseport", int(reuse_port))],
                         maximum_concurrent_rpcs=bounds.max_calls)
    for _, _, add, servicer in services:
        add(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [module.DESCRIPTOR.services_by_name[name].full_name for module, name, _, _ in services]
    reflection.enable_server_reflection((*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                                         reflection.SERVICE_NAME), server)
    key, chain, ca = server_credentials_material(data.keys)
    creds = grpc.ssl_server_credentials([(key, chain)], root_certificates=ca, require_client_auth=True)
    def fail(message: str) -> ListenError:
        server.stop(0)
        stopping.set()
        audit.close()
        submitter.close(timeout=0)
        store.close()
        return ListenError(message)

    try:
        port = server.add_secure_port(listen, creds)
    except RuntimeError as exc:
        raise fail(f"cannot listen on {listen}: {exc}") from exc
    if port == 0:
        raise fail(f"cannot listen on {listen}: address in use or not valid")
    if metrics:
        try:
            counters.serve(metrics)
        except (OSError, ValueError) as exc:
            raise fail(f"cannot serve metrics on {metrics}: {exc}") from exc
    web, verification = None, None
    if console:
        try:
            every = verifying.interval(cfg["console"]["verify_seconds"])
            web = console_server.start(console, data.keys, gate, audit, loaded.organisations)
        except (console_server.ConsoleError, verifying.VerifySettingError) as exc:
            raise fail(str(exc)) from exc
        verification = verifying.PeriodicVerification(FullVerification(data, store), every)
    server.start()
    audit.watch(functools.partial(_report_health, health_servicer, ("", *names)))
    if cluster:
        def apply(new: LoadedPolicy) -> None:
            quotas.update(new.quotas)
            anomalies.update(new.anomalies)

        watcher: PolicyWatcher | PolicyListener = PolicyListener(
            engine, policy_versions(store).policy_feed(), pushed.files, apply).start()
    else:
        watcher, policy_note = PolicyWatcher(engine, interval).start(), ""
    return RunningServer(server, port, store, health_servicer, watcher, audit, submitter, stopping, web,
                         verification.start() if verification else None, policy_note)


class FullVerification:
    """The check `permitgw audit verify` makes (the same anchors: the witnesses asked, their saved cosignatures; the
    same witness keys), over the serving store, recorded there for the console's Overview. An empty log passes only
    while this gateway has never had an entry (a new gateway, as `audit verify --new-gateway`)."""

    def __init__(self, data: DataDir, store: Store) -> None:
        self.data, self.store = data, store
        self.had_entries = store.log_size() > 0

    def __call__(self) -> None:
        data = self.data
        verifier = data.log_verifier()
        found = _anchors.collect(data.root, log_origin((data.keys / "ca.crt").read_bytes()), verifier, ask=True)
        record = run_full_verification(self.store, verifier, clock.rfc3339(clock.now()), anchors=found,
                                       witness_keys=[w.verifier_key for w in witnessing.load(data.root)],
                                       new_gateway=not self.had_entries)
        self.had_entries = self.had_entries or record.size > 0
        if not record.ok:
            log.error("full verification of the access log FAILED: %s", record.message)


def watch_seconds(cfg: dict[str, Any]) -> float:
    """[policy] watch_seconds: how often the policy files are looked at (a positive number of seconds)."""
    value = cfg["policy"]["watch_seconds"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86400:
        raise ListenError(f"[policy] watch_seconds must be a number of seconds from 0 to 86400, not {value!r}")
    return float(value)


def worker_threads(cfg: dict[str, Any], workers: int | None) -> int:
    """The threads serving calls in this process: `workers` if given, else [server] workers (a whole number ≥ 1)."""
    value = workers if workers is not None else cfg["server"]["workers"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ListenError(f"[server] workers must be a whole number of threads, at least 1, not {value!r}")
    return value


MAX_GATHER_MS = 50  # [log] gather_ms above this would hold every answer of a busy server too long


def gather_seconds(cfg: dict[str, Any]) -> float:
    """[log] gather_ms as seconds: how long a batch of the log may wait for entries of calls already accepted."""
    value = cfg["log"]["gather_ms"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_GATHER_MS:
        raise ListenError(f"[log] gather_ms must be a number of milliseconds from 0 to {MAX_GATHER_MS}, "
                          f"not {value!r}")
    return float(value) / 1000


def _report_health(servicer: health.HealthServicer, names: tuple[str, ...], log_writable: bool) -> None:
    """grpc.health.v1 follows the access log: a gateway that cannot log cannot answer (NOT_SERVING)."""
    status = health_pb2.HealthCheckResponse.SERVING if log_writable else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in names:
        servicer.set(name, status)


SIGNAL_POLL = 0.2  # seconds: how soon a signal the kernel handed to another thread is acted on


def wait_for_stop(stop: threading.Event) -> None:
    """Block the main thread until `stop` is set, waking every SIGNAL_POLL seconds.

    Python runs signal handlers in the main thread only, when it executes. The kernel may hand a signal sent to
    the process to any thread — often one of gRPC's — and a main thread blocked in an endless wait would then run
    the handler only at the next signal (a SIGHUP reload waited for the SIGTERM).
    """
    while not stop.wait(SIGNAL_POLL):
        pass


def serve_forever(data: DataDir, listen: str, metrics: str | None = None, console: str | None = None) -> None:
    """Run until SIGINT or SIGTERM, then drain in-flight calls and close the store."""
    running = start(data, listen, metrics=metrics, console=console)
    heap.settle()
    host = listen.rsplit(":", 1)[0]
    print(f"permitgw: serving on {host}:{running.port} (mTLS)", flush=True)
    if running.policy_note:
        print(f"permitgw: {running.policy_note}; edits to {data.policies} do not change it: `permitgw policy push` "
              "does, for every replica", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: running.watcher.request_reload())
    if metrics:
        print(f"permitgw: metrics on http://{metrics}/metrics", flush=True)
    if running.console is not None:
        host = running.console.host
        shown = f"[{host}]" if ":" in host else host
        print(f"permitgw: console on https://{shown}:{running.console.port}/", flush=True)
    wait_for_stop(stop)
    running.stop()
    print("permitgw: stopped", flush=True)
