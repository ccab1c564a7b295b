"""The one root of every error the gateway raises on purpose.

Each module names its own failures (`InvalidIdNumber`, `StoreUnavailable`, `KeyFileError`...) as subclasses of
`GatewayError`, so a boundary — the `permitgw` command's `main()`, a server thread — can tell an expected
failure with a message written for people from a defect: the first is one clear line and a non-zero exit, the
second a traceback. A message never carries an identity number or a person's name.
"""
from __future__ import annotations


class GatewayError(Exception):
    """A failure the gateway expected and explains: `str(error)` is a message fit to show as it is."""
