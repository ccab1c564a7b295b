"""The witness's transport: HTTP as c2sp.org/tlog-witness defines it, so any tlog witness or client interoperates.

POST /add-checkpoint      body: "old N" + proof lines + blank line + signed checkpoint; 200 → cosignature line,
                          409 (text/x.tlog.size) → the witness's size, 403/404/422/400 → refused
GET  /latest/<origin>     the latest checkpoint this witness cosigned for a log (note with both signatures),
                          so gateways and auditors can hold the log against it (404 if none)

Plain HTTP on purpose: every message is signed end to end (the log's signature in, the cosignature out), so TLS
would add confidentiality for data that is public to the parties anyway; put it behind TLS if policy wants.
"""
from __future__ import annotations

import http.client
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gateway.audit.witness import MAX_REQUEST, AddCheckpoint
from gateway.audit.witness_files import Witness
from gateway.errors import GatewayError

log = logging.getLogger("permitgw.witness")
TIMEOUT = 5.0


class WitnessUnavailable(GatewayError):
    """The witness could not be reached or answered something unexpected."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path != "/add-checkpoint":
            self._send(404, b"not found\n")
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(411, b"Content-Length required\n")
            return
        if not 0 < length <= MAX_REQUEST:
            self._send(413, b"request too large\n")
            return
        answer = self.server.witness.add_checkpoint(self.rfile.read(length))
        self._send(answer.status, answer.body, answer.content_type)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if not self.path.startswith("/latest/"):
            self._send(404, b"not found\n")
            return
        head = self.server.witness.latest(urllib.parse.unquote(self.path[len("/latest/"):]))
        if head is None:
            self._send(404, b"no checkpoint cosigned for this log\n")
        else:
            self._send(200, head.note)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], witness: Witness) -> None:
        self.witness = witness
        super().__init__(address, _Handler)


def start(witness: Witness, listen: str) -> tuple[_Server, int]:
    host, _, port = listen.rpartition(":")
    server = _Server((host or "127.0.0.1", int(port)), witness)
    threading.Thread(target=server.serve_forever, name="witness-http", daemon=True).start()
    return server, server.server_address[1]


# --- the gateway's side ----------------------------------------------------------------------------------------


def _connection(url: str) -> http.client.HTTPConnection:
    host, _, port = url.removeprefix("http://").rstrip("/").rpartition(":")
    if not host or not port.isdigit():
        raise WitnessUnavailable(f"witness address {url!r} is not HOST:PORT")
    return http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)


def add_checkpoint(url: str, request: AddCheckpoint) -> tuple[int, bytes]:
    """POST the request; returns (status, body). Raises WitnessUnavailable if the witness cannot be reached."""
    conn = _connection(url)
    try:
        conn.request("POST", "/add-checkpoint", body=request.encode(), headers={"Content-Type": "text/plain"})
        response = conn.getresponse()
        return response.status, response.read(MAX_REQUEST)
    except (OSError, http.client.HTTPException) as exc:
        raise WitnessUnavailable(f"witness at {url}: {exc}") from exc
    finally:
        conn.close()


def latest(url: str, origin: str) -> bytes | None:
    """The witness's latest cosigned note for the log, or None if it has none. Raises WitnessUnavailable."""
    conn = _connection(url)
    try:
        conn.request("GET", "/latest/" + urllib.parse.quote(origin, safe=""))
        response = conn.getresponse()
        body = response.read(MAX_REQUEST)
    except (OSError, http.client.HTTPException) as exc:
        raise WitnessUnavailable(f"witness at {url}: {exc}") from exc
    finally:
        conn.close()
    if response.status == 404:
        return None
    if response.status != 200:
        raise WitnessUnavailable(f"witness at {url} answered {response.status}")
    return body
