"""The storage's failures are the gateway's own (GatewayError), so a boundary shows them as one line, not a trace."""
from __future__ import annotations

import pytest

from gateway.errors import GatewayError
from gateway.store.crypto import KeyFileError
from gateway.store.port import StoreError, StoreUnavailable


@pytest.mark.parametrize("error", [StoreError, StoreUnavailable, KeyFileError])
def test_store_failures_are_gateway_errors(error: type[Exception]) -> None:
    assert issubclass(error, GatewayError)


def test_an_unavailable_store_is_still_a_store_error() -> None:
    assert issubclass(StoreUnavailable, StoreError)
