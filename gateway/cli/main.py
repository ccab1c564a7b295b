"""Argument parsing and dispatch for `permitgw`; the work is done by the layers it calls.

`main()` is the one error boundary: a `GatewayError` (a failure the gateway explains), an `OSError` (a file missing
or unreadable, a port taken) or a damaged or unreachable database is one line `permitgw: …` on stderr and exit 1;
anything else is a defect and keeps its traceback. Exit codes: 0 success, 1 the operation failed, 2 usage error
(or, for `audit verify` and `attest verify`, a failed check).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag

from gateway import datadir
from gateway.datadir import DataDir
from gateway.domain import clock
from gateway.errors import GatewayError

_IDENTITY_NUMBER = re.compile(r"(?<!\d)(\d{17}[\dXx]|\d{15})(?!\d)")


class CliError(GatewayError):
    """A failure to report on one line, exit code 1."""


def _data(args: argparse.Namespace) -> DataDir:
    return DataDir(Path(args.data))


def cmd_init(args: argparse.Namespace) -> int:
    done = datadir.init(Path(args.data))
    if done:
        for line in done:
            print(line)
    else:
        print(f"{args.data} already initialised; nothing overwritten")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    d = _data(args).require()
    change = d.migrate()
    print(change.describe())
    for step in change.applied:
        print(f"  {step.version}: {step.what}")
    return 0


def cmd_cert_issue(args: argparse.Namespace) -> int:
    import getpass

    from gateway.identity.ca import issue_client
    from gateway.identity.pkcs12 import P12Output, password_from, refuse_existing
    from gateway.identity.principal import Principal

    d = _data(args).require()
    p12 = None
    if args.p12 is not None:
        refuse_existing(Path(args.p12))  # before asking for a password that could not be used
        password = password_from(os.environ, interactive=sys.stdin.isatty(), ask=getpass.getpass)
        p12 = P12Output(Path(args.p12), password)
    principal = Principal(role=args.role, org=args.org, name=args.name, district=args.district, serial="")
    issued = issue_client(d.keys, principal, Path(args.out), days=d.config()["certificates"]["client_days"],
                          p12=p12)
    also = f", {args.p12}" if p12 is not None else ""
    print(f"issued {args.out}.crt, {args.out}.key, {args.out}.ca.crt{also}: serial {issued.serial}, "
          f"role {issued.role}, district {issued.district}")
    return 0


def cmd_cert_revoke(args: argparse.Namespace) -> int:
    from gateway.identity.revocation import RevocationList, normalise_serial

    d = _data(args).require()
    store = d.open_store()
    try:
        serial = normalise_serial(args.serial)
        RevocationList(d.certs / "revoked.txt", store=store).revoke(serial)
    finally:
        store.close()
    print(f"revoked {serial}; a running server refuses it within 5 s")
    return 0


def cmd_cert_server(args: argparse.Namespace) -> int:
    from gateway.identity.ca import reissue_server

    d = _data(args).require()
    names = reissue_server(d.keys, tuple(args.host))
    print(f"server certificate for {', '.join(names)} written to {d.keys / 'server.crt'} (key server.key, 0600); "
          "every server presents it from its next start: copy keys/server.crt and keys/server.key to each replica")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from gateway.cli.progress import Progress
    from gateway.service.importer import count_lines, import_files

    d = _data(args).require()
    files = [Path(f) for f in args.files]
    progress = None
    if not args.json and sys.stderr.isatty():
        progress = Progress(sys.stderr, total=count_lines([f for f in files if f.is_file()]))
    store = d.open_store()
    try:
        summary = import_files(store, args.bureau, files, d.rejects,
                               batch_size=d.config()["import"]["batch_size"],
                               on_progress=progress.update if progress else None)
        if progress:
            progress.update(summary, force=True)
    finally:
        store.close()
        if progress:
            progress.done()
    if args.json:
        print(json.dumps(summary.as_dict()))
    else:
        print(f"read {summary.read}: accepted {summary.accepted}, rejected {summary.rejected}, "
              f"duplicates {summary.duplicates}")
        if summary.rejects_file:
            print(f"rejected rows (file, line, reason): {summary.rejects_file}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.server.app import serve_forever
    from gateway.server.prefork import serve_workers

    d = _data(args).require()
    d.log_verifier()  # a damaged ca.crt or signing.key is one line here, not a failure deep in the server's start
    listen = args.listen or d.config()["server"]["listen"]
    if args.workers == 1:
        serve_forever(d, listen, metrics=args.metrics, console=args.console)
        return 0
    if args.metrics:
        raise CliError("--metrics serves one process's counters: it cannot be given with --workers above 1 "
                       "(each worker would count only its own calls)")
    return serve_workers(d.root, listen, args.workers, args.console, describe=_failure,
                         out=lambda line: print(line, flush=True))


def _worker_count(text: str) -> int:
    """--workers N: processes, 1 to 4 per core of this machine."""
    from gateway.server.prefork import WorkersError, check_workers

    try:
        return check_workers(int(text), os.cpu_count())
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of processes, not {text!r}") from None
    except WorkersError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--workers ")) from None


def cmd_audit_search(args: argparse.Namespace) -> int:
    from gateway.audit.search import print_entries, search

    d = _data(args).require()
    store = d.open_store()
    try:
        entries = list(search(store, d.cipher(), subject=args.subject, principal=args.principal,
                              since=args.since, until=args.until))
    finally:
        store.close()
    print_entries(entries, as_json=args.json, out=sys.stdout)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from gateway.cli.explain import explain

    d = _data(args).require()
    return explain(d, args.id, args.as_of, as_json=args.json, out=sys.stdout)


def cmd_policy_explain(args: argparse.Namespace) -> int:
    from gateway.cli.policy_explain import explain as explain_policy

    d = _data(args).require()
    return explain_policy(d.policies, args.role, args.district, args.purpose, args.method, args.scope, sys.stdout)


def cmd_policy_push(args: argparse.Namespace) -> int:
    from gateway.cli.policy_push import push

    d = _data(args).require()
    return push(d, Path(args.source) if args.source else None, args.by, sys.stdout)


def cmd_policy_show(args: argparse.Namespace) -> int:
    from gateway.cli.policy_push import show

    return show(_data(args).require(), sys.stdout)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from gateway.audit import anchors, witnessing
    from gateway.audit.log import log_origin
    from gateway.audit.verify import summary, verify_log

    d = _data(args).require()
    saved = None
    if args.checkpoint:
        try:
            saved = Path(args.checkpoint).read_bytes()
        except OSError as exc:
            raise CliError(f"--checkpoint: {exc.strerror}: {args.checkpoint}") from exc
    if d.store_settings()["backend"] == "sqlite" and not d.database.is_file():
        if args.new_gateway:
            print(f"log: no database yet at {d.database} (a new gateway); nothing to verify")
            return 0
        raise CliError(f"{d.database} does not exist: the log is missing; restore it from a backup (give "
                       "--new-gateway only for a gateway that has never served)")
    verifier = d.log_verifier()
    found = anchors.collect(d.root, log_origin((d.keys / "ca.crt").read_bytes()), verifier, saved,
                            ask=not args.offline)
    store = d.open_store(read_only=True)
    try:
        report = verify_log(store, verifier, found, new_gateway=args.new_gateway,
                            witness_keys=[w.verifier_key for w in witnessing.load(d.root)])
    finally:
        store.close()
    for line in summary(report):
        print(line)
    print(f"verifier key: {verifier}")
    return 0 if report.ok else 2


def cmd_witness_init(args: argparse.Namespace) -> int:
    from gateway.audit.witness_files import WitnessDir, init

    created = init(Path(args.data), args.name, list(args.log or []))
    vkey = WitnessDir(Path(args.data)).require().verifier_key()
    for what in created:
        print(f"created {what}")
    print(f"witness verifier key (give it to each gateway: permitgw witness add --verifier-key ...): {vkey}")
    return 0


def cmd_witness_serve(args: argparse.Namespace) -> int:
    import signal
    import threading
    import time

    from gateway.audit.witness_files import Witness, WitnessDir
    from gateway.audit.witness_http import start
    from gateway.server.app import wait_for_stop

    try:
        witness = Witness(WitnessDir(Path(args.data)).require(), now=lambda: int(time.time()))
    except ValueError as exc:  # a damaged witness.key (cryptography's ValueError) or witness.vkey
        raise CliError(f"{args.data}: the witness's files cannot be used: {exc}") from exc
    try:
        server, port = start(witness, args.listen)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot listen on {args.listen}: {exc}") from exc
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"permitgw witness: {witness.dir.name()} serving on {args.listen.rpartition(':')[0]}:{port} (HTTP, "
          "c2sp.org/tlog-witness)", flush=True)
    wait_for_stop(stop)
    server.shutdown()
    print("permitgw witness: stopped", flush=True)
    return 0


def cmd_witness_add(args: argparse.Namespace) -> int:
    from gateway.audit import witnessing

    d = _data(args).require()
    ref = witnessing.add(d.root, args.verifier_key, args.url)
    print(f"witness {ref.name} at {ref.url}: every checkpoint will be submitted to it (restart serve to apply)")
    print(f"the witness must know this log: permitgw witness init --data WDIR --name {ref.name} "
          f"--log {d.log_verifier()}")
    return 0


def cmd_attest_verify(args: argparse.Namespace) -> int:
    from gateway.audit import attestation

    text = Path(args.file).read_text("utf-8")
    verifier = args.key
    if verifier and Path(verifier).is_file():
        verifier = Path(verifier).read_text("utf-8").strip()
    d = _data(args).require() if args.data else None
    if d is not None and not verifier:
        verifier = d.log_verifier()
    if not verifier:
        raise CliError("give the gateway's verifier key (--key) or its data directory (--data)")
    from gateway.audit import witnessing

    witness_keys = list(args.witness_key or [])
    if d is not None:
        witness_keys += [w.verifier_key for w in witnessing.load(d.root)]
    try:
        if text.lstrip().startswith("{"):
            bundle = json.loads(text)
        elif d is not None:
            store = d.open_store()
            try:
                bundle = attestation.bundle(store, text.encode("utf-8"), verifier, witness_keys)
            finally:
                store.close()
            if args.write_bundle:
                Path(args.write_bundle).write_text(json.dumps(bundle, ensure_ascii=False, indent=1), "utf-8")
        else:
            raise CliError("a bare attestation needs --data (to find its proof); or give a bundle")
        st = attestation.verify_bundle(bundle, verifier, witness_keys)
    except (attestation.AttestationError, KeyError, ValueError) as exc:
        print(f"FAILED: {exc}")
        return 2
    where = (f"in a checkpoint cosigned by witness {', '.join(st['witnessed_by'])}" if st["witnessed_by"]
             else "in a checkpoint signed by the gateway only (no witness cosignature checked)")
    print(f"OK: {st['method'].rsplit('/', 1)[-1]} decision {st['decision']} for {st['principal']} at {st['time']}, "
          f"entry {st['index']} of log {st['log']}, {where}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from gateway.synth.write import write_all

    written = write_all(Path(args.out), residents=args.residents, seed=args.seed, messy_rate=args.messy_rate)
    for path, count in written.items():
        print(f"wrote {path} ({count} rows)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.cli.demo import run_demo

    return run_demo(keep=args.keep, keep_running=args.keep_running)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="permitgw", description="Ningbo residence-permit data-sharing gateway")
    sub = ap.add_subparsers(dest="command", required=True)

    def with_data(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data", default=str(datadir.DEFAULT_DIR), help="data directory (default ./permitgw-data)")
        return p

    with_data(sub.add_parser("init", help="create a gateway's data directory")).set_defaults(fn=cmd_init)
    with_data(sub.add_parser("migrate", help="apply pending schema migrations (also done by init)")
              ).set_defaults(fn=cmd_migrate)

    cert = sub.add_parser("cert", help="client certificates").add_subparsers(dest="cert_command", required=True)
    issue = with_data(cert.add_parser("issue", help="issue a client certificate from the gateway CA"))
    issue.add_argument("--role", required=True,
                       choices=("school", "health", "employment", "housing", "police", "auditor", "statistics"))
    issue.add_argument("--org", required=True, help="organisation code")
    issue.add_argument("--name", required=True, help="organisation name")
    issue.add_argument("--district", required=True, help="district code (330203 …, or 330200 for the city)")
    issue.add_argument("--out", required=True, help="write PREFIX.crt, PREFIX.key, PREFIX.ca.crt")
    issue.add_argument("--p12", metavar="FILE", help="also write FILE, a password-protected PKCS#12 of the "
                       "certificate, key and CA for a browser; password from $PERMITGW_P12_PASSWORD or asked")
    issue.set_defaults(fn=cmd_cert_issue)
    revoke = with_data(cert.add_parser("revoke", help="revoke a client certificate"))
    revoke.add_argument("--serial", required=True, help="certificate serial, hex")
    revoke.set_defaults(fn=cmd_cert_revoke)
    server = with_data(cert.add_parser("server", help="issue a new server certificate naming these hosts (a load "
                                       "balancer's name), and the loopback names"))
    server.add_argument("--host", required=True, action="append", metavar="NAME",
                        help="a DNS name or IP address clients connect to (repeat for several)")
    server.set_defaults(fn=cmd_cert_server)

    imp = with_data(sub.add_parser("import", help="import a bureau's files"))
    from adapters.registry import BUREAUS

    imp.add_argument("--bureau", required=True, choices=tuple(BUREAUS), help="whose files (adapters/registry.py)")
    imp.add_argument("--json", action="store_true", help="print the summary as JSON, no progress bar")
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.set_defaults(fn=cmd_import)

    serve = with_data(sub.add_parser("serve", help="run the gRPC server (mTLS)"))
    serve.add_argument("--listen", help="HOST:PORT (default from config.toml)")
    serve.add_argument("--metrics", help="HOST:PORT for Prometheus text metrics (none by default)")
    serve.add_argument("--console", help="HOST:PORT for the officers' web console, HTTPS with client certificates "
                       "(none by default; with --workers, served by worker 0)")
    serve.add_argument("--workers", type=_worker_count, default=1, metavar="N",
                       help="server processes sharing the port (default 1; at most 4 per core). Not config.toml's "
                       "[server] workers, which is threads per process")
    serve.set_defaults(fn=cmd_serve)

    explain = with_data(sub.add_parser("explain", help="permit eligibility for one person, with reasons"))
    explain.add_argument("--id", required=True)
    explain.add_argument("--as-of")
    explain.add_argument("--json", action="store_true")
    explain.set_defaults(fn=cmd_explain)

    policy = sub.add_parser("policy", help="the access policy").add_subparsers(dest="policy_command", required=True)
    pexplain = with_data(policy.add_parser("explain", help="the decision for a request and the policy lines behind it"))
    pexplain.add_argument("--role", required=True)
    pexplain.add_argument("--district", required=True, help="the caller's district (330203 …, or 330200 for the city)")
    pexplain.add_argument("--purpose", required=True)
    pexplain.add_argument("--method", required=True, help="full name, Service.Method, or Method if unambiguous")
    pexplain.add_argument("--scope", choices=("in-district", "out-of-district"), default="in-district",
                          help="where the subject lives, seen from the caller (default in-district)")
    pexplain.set_defaults(fn=cmd_policy_explain)
    ppush = with_data(policy.add_parser("push", help="validate a policies/ directory and put it in force on every "
                                        "replica (PostgreSQL backend)"))
    ppush.add_argument("--from", dest="source", metavar="POLICYDIR",
                       help="the directory of policy files to push (default DIR/policies)")
    ppush.add_argument("--by", metavar="NAME", help="who pushes, as recorded (default the OS user@host)")
    ppush.set_defaults(fn=cmd_policy_push)
    with_data(policy.add_parser("show", help="the policy version in force and when it was pushed")).set_defaults(
        fn=cmd_policy_show)

    audit = sub.add_parser("audit", help="the access log").add_subparsers(dest="audit_command", required=True)
    verify = with_data(audit.add_parser("verify", help="check the log is complete and unaltered"))
    verify.add_argument("--checkpoint", help="also check the log against a checkpoint saved earlier (a signed note)")
    verify.add_argument("--new-gateway", action="store_true",
                        help="accept an empty or missing log (only for a gateway that has never served)")
    verify.add_argument("--offline", action="store_true",
                        help="do not ask the witnesses; use only the cosigned checkpoints saved in the data directory")
    verify.set_defaults(fn=cmd_audit_verify)

    witness = sub.add_parser("witness", help="witnesses that cosign the log's checkpoints").add_subparsers(
        dest="witness_command", required=True)
    winit = witness.add_parser("init", help="create a witness's own directory and key (run by another organisation)")
    winit.add_argument("--data", required=True, metavar="WDIR", help="the witness's directory")
    winit.add_argument("--name", required=True, help="the witness's key name, e.g. audit.ningbo.gov.cn/witness")
    winit.add_argument("--log", action="append", metavar="KEY",
                       help="verifier key of a gateway log to witness (repeatable; may be added by a later init)")
    winit.set_defaults(fn=cmd_witness_init)
    wserve = witness.add_parser("serve", help="run the witness (HTTP, c2sp.org/tlog-witness)")
    wserve.add_argument("--data", required=True, metavar="WDIR")
    wserve.add_argument("--listen", required=True, help="HOST:PORT (port 0 picks a free one)")
    wserve.set_defaults(fn=cmd_witness_serve)
    wadd = with_data(witness.add_parser("add", help="tell this gateway to submit its checkpoints to a witness"))
    wadd.add_argument("--verifier-key", required=True, help="the witness's verifier key (printed by witness init)")
    wadd.add_argument("--url", required=True, help="the witness's HOST:PORT")
    wadd.set_defaults(fn=cmd_witness_add)

    attest = sub.add_parser("attest", help="attestations").add_subparsers(dest="attest_command", required=True)
    averify = attest.add_parser("verify", help="check an attestation offline: signature, log entry, inclusion proof")
    averify.add_argument("file", metavar="FILE", help="a bundle (JSON), or a bare attestation with --data")
    averify.add_argument("--data", help="a data directory: its key, and its log to build the bundle from")
    averify.add_argument("--key", help="the gateway's verifier key (text, or a file holding it)")
    averify.add_argument("--write-bundle", metavar="OUT", help="with --data: also write the bundle to OUT")
    averify.add_argument("--witness-key", action="append", metavar="KEY",
                         help="a witness's verifier key: say whether it cosigned the checkpoint (repeatable)")
    averify.set_defaults(fn=cmd_attest_verify)
    search = with_data(audit.add_parser("search", help="query the access log"))
    search.add_argument("--subject", help="identity number of the person asked about")
    search.add_argument("--principal", help="role/district/org of the caller")
    search.add_argument("--since", help="RFC 3339 time or YYYY-MM-DD")
    search.add_argument("--until", help="RFC 3339 time or YYYY-MM-DD")
    search.add_argument("--json", action="store_true")
    search.set_defaults(fn=cmd_audit_search)

    synth = sub.add_parser("synth", help="synthetic bureau files")
    synth.add_argument("--out", required=True)
    synth.add_argument("--residents", type=int, required=True)
    synth.add_argument("--seed", type=int, default=1)
    synth.add_argument("--messy-rate", type=float, default=0.0)
    synth.set_defaults(fn=cmd_synth)

    demo = sub.add_parser("demo", help="the whole story on a fresh data directory")
    demo.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    demo.add_argument("--keep-running", action="store_true",
                      help="after the story, keep the server and the officers' console running until Ctrl-C "
                           "(SIGINT or SIGTERM), then stop cleanly")
    demo.set_defaults(fn=cmd_demo)
    return ap


def _one_line(text: str) -> str:
    """An error message as one line, with anything shaped like an identity number masked."""
    return _IDENTITY_NUMBER.sub("[identity number]", " ".join(text.split()))


def _os_failure(exc: OSError) -> str:
    """A failure of the operating system (a file missing or unreadable, a port taken): its file and its reason."""
    if exc.strerror and exc.filename is not None:
        both = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else f"{exc.filename}"
        return f"{both}: {exc.strerror}"
    return str(exc) or type(exc).__name__


def _database_failure(exc: BaseException) -> str | None:
    """What to tell the operator when the database failed under a command (damaged file, server gone, or personal
    data that the PII key in keys/ does not decrypt)."""
    if isinstance(exc, InvalidTag):
        return ("personal data in the database does not decrypt with keys/pii-enc.key: the key is not this "
                "database's (restore the key that belongs to it)")
    if isinstance(exc, sqlite3.DatabaseError):
        return f"the database is damaged or unreadable ({exc}): restore it from a backup"
    if isinstance(exc, sqlite3.Error):
        return f"the database cannot be used ({exc})"
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.Error):
        return f"PostgreSQL failed ({exc})"
    return None


def _failure(exc: BaseException) -> str | None:
    """The one line main() prints for a failure it explains (None: a defect, which keeps its traceback)."""
    if isinstance(exc, GatewayError):
        return _one_line(str(exc))
    if isinstance(exc, OSError):
        return _one_line(_os_failure(exc))
    found = _database_failure(exc)
    return None if found is None else _one_line(found)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.umask(0o077)  # whatever permitgw creates (database, -wal, -shm, rejects, bundles) is its owner's alone
    try:
        clock.current()  # a bad PERMITGW_CLOCK is one clear line before anything runs
    except clock.InvalidClock as exc:
        print(f"permitgw: {exc}", file=sys.stderr)
        return 2
    try:
        return int(args.fn(args))
    except GatewayError as exc:
        failure = str(exc)
    except OSError as exc:
        failure = _os_failure(exc)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        found = _database_failure(exc)
        if found is None:
            raise  # a defect: its traceback is what a maintainer needs
        failure = found
    print(f"permitgw: {_one_line(failure)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
