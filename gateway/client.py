"""A small mTLS client for the gateway, used by the demo, the e2e tests and bureau integrators.

Give it the files `permitgw cert issue --out PREFIX` wrote: PREFIX.crt, PREFIX.key, PREFIX.ca.crt.
"""
from __future__ import annotations

from pathlib import Path

import grpc

SERVER_NAME = "localhost"  # the name in the server certificate `permitgw init` makes


def channel(address: str, prefix: Path | str, server_name: str = SERVER_NAME) -> grpc.Channel:
    p = Path(prefix)
    creds = grpc.ssl_channel_credentials(
        root_certificates=Path(f"{p}.ca.crt").read_bytes(),
        private_key=Path(f"{p}.key").read_bytes(),
        certificate_chain=Path(f"{p}.crt").read_bytes())
    return grpc.secure_channel(address, creds, options=[("grpc.ssl_target_name_override", server_name)])
