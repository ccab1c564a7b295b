"""A bare grpcio server with the gateway's own mutual TLS and one method that answers the request bytes unchanged.

It is the floor the gateway is measured against (bench/server_vs_echo.py): the same certificates from a data
directory's keys/, client certificates required, the same kind of server (grpcio's thread pool, as many threads
as the gateway's [server] workers), but no interceptors and no protobuf: /bench.Echo/Echo takes bytes and
returns them. Run as a process of its own so that it can be pinned to a core and its CPU read from /proc:
  .venv/bin/python bench/echo_server.py --data DIR [--listen 127.0.0.1:0] [--threads 16]
It prints "serving on HOST:PORT" when ready and stops on SIGTERM or SIGINT.
"""
from __future__ import annotations

import argparse
import signal
import threading
from concurrent import futures
from pathlib import Path

import grpc

from gateway.identity.ca import server_credentials_material

METHOD = "/bench.Echo/Echo"


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    return request


def start(keys: Path, listen: str, threads: int, max_calls: int) -> tuple[grpc.Server, int]:
    handler = grpc.method_handlers_generic_handler("bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(_echo)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads), maximum_concurrent_rpcs=max_calls)
    server.add_generic_rpc_handlers((handler,))
    key, chain, ca = server_credentials_material(keys)
    port = server.add_secure_port(listen, grpc.ssl_server_credentials([(key, chain)], ca, require_client_auth=True))
    server.start()
    return server, port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path, help="a gateway data directory (its keys/ are used)")
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--max-calls", type=int, default=128)
    args = ap.parse_args()
    server, port = start(args.data / "keys", args.listen, args.threads, args.max_calls)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(f"serving on {args.listen.rsplit(':', 1)[0]}:{port}", flush=True)
    done.wait()
    server.stop(1).wait()


if __name__ == "__main__":
    main()
