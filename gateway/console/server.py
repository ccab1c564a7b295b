"""The console's HTTPS server: cheroot (CherryPy's WSGI server) over Python's ssl, client certificates required.

Why cheroot: its builtin TLS adapter hands the WSGI application the client certificate the handshake verified
(environ SSL_CLIENT_CERT, PEM) — the one thing the console's identity rests on — and lets us supply the
ssl.SSLContext: CERT_REQUIRED against the gateway CA alone, the same server key and certificate as gRPC, TLS 1.2
or later. A browser without a certificate from the gateway CA does not complete the handshake. Everything is
bounded: worker threads, the accept queue, header and body sizes, and the connection timeout.
"""
from __future__ import annotations

import logging
import ssl
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from gateway.audit.log import AuditLog
from gateway.console.app import Console
from gateway.console.routes import ROUTES
from gateway.errors import GatewayError
from gateway.identity.ca import CA_CRT, SERVER_CRT, SERVER_KEY
from gateway.server.gate import Gate
from gateway.settings.organisations import Organisations

THREADS = 8
QUEUE = 32
TIMEOUT_SECONDS = 10
MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024


class ConsoleError(GatewayError):
    """The console could not start (address, keys)."""


def tls_context(keys: Path) -> ssl.SSLContext:
    """Server side TLS: our server certificate; a client certificate from the gateway CA is required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(keys / CA_CRT))
    ctx.load_cert_chain(str(keys / SERVER_CRT), str(keys / SERVER_KEY))
    return ctx


@dataclass
class RunningConsole:
    server: wsgi.Server
    thread: threading.Thread
    host: str
    port: int

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(timeout=10)


def _access_log_to_stderr() -> None:
    """The web server's access log (method, path, status, principal — never a query or a form) on stderr."""
    logger = logging.getLogger("permitgw.console.access")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("permitgw console: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def start(listen: str, keys: Path, gate: Gate, audit: AuditLog,
          organisations: Organisations | None = None) -> RunningConsole:
    """Serve the console on `listen` (HOST:PORT; port 0 picks a free one) and return at once; `organisations`
    names the bureaus (policies/organisations.toml) whose auditors see only their members' accesses."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ConsoleError(f"--console wants HOST:PORT, not {listen!r}")
    host = host.strip("[]")
    app = Console(gate, audit, ROUTES, organisations=organisations)
    server = wsgi.Server((host, int(port_text)), app, numthreads=THREADS, max=THREADS, request_queue_size=QUEUE,
                         timeout=TIMEOUT_SECONDS, shutdown_timeout=5, server_name="permitgw-console")
    server.max_request_header_size = MAX_HEADER_BYTES
    server.max_request_body_size = MAX_BODY_BYTES
    try:
        adapter = BuiltinSSLAdapter(str(keys / SERVER_CRT), str(keys / SERVER_KEY))
        adapter.context = tls_context(keys)
    except (OSError, ssl.SSLError) as exc:
        raise ConsoleError(f"cannot load the console's TLS keys from {keys}: {exc}") from exc
    server.ssl_adapter = adapter
    try:
        server.prepare()
    except OSError as exc:
        raise ConsoleError(f"cannot serve the console on {listen}: {exc}") from exc
    _access_log_to_stderr()
    bound = server.bind_addr
    port = int(bound[1]) if isinstance(bound, tuple) else int(port_text)
    thread = threading.Thread(target=server.serve, name="console", daemon=True)
    thread.start()
    return RunningConsole(server, thread, host, port)
