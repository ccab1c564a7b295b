"""peer_certificates: the verified chain's PEMs, asked of gRPC once per call (limits and gate both need them)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.server.gate import peer_certificates


class _Context:
    def __init__(self, props: Mapping[str, Sequence[bytes]]) -> None:
        self.props, self.asked = props, 0

    def auth_context(self) -> Mapping[str, Sequence[bytes]]:
        self.asked += 1
        return self.props


class _Sealed:
    __slots__ = ("props", "asked")  # no room for anything else: asked every time, still right

    def __init__(self, props: Mapping[str, Sequence[bytes]]) -> None:
        self.props, self.asked = props, 0

    def auth_context(self) -> Mapping[str, Sequence[bytes]]:
        self.asked += 1
        return self.props


def test_a_calls_certificates_are_asked_for_once() -> None:
    ctx = _Context({"x509_pem_cert": [b"PEM-1", b"PEM-CA"], "transport_security_type": [b"ssl"]})
    assert peer_certificates(ctx) == [b"PEM-1", b"PEM-CA"]  # type: ignore[arg-type]
    assert peer_certificates(ctx) == [b"PEM-1", b"PEM-CA"]  # type: ignore[arg-type]
    assert ctx.asked == 1
    other = _Context({"x509_pem_cert": [b"PEM-2"]})  # another call: its own
    assert peer_certificates(other) == [b"PEM-2"] and other.asked == 1  # type: ignore[arg-type]


def test_without_a_certificate_the_answer_is_empty_and_kept_too() -> None:
    ctx = _Context({"transport_security_type": [b"ssl"]})
    assert list(peer_certificates(ctx)) == [] and list(peer_certificates(ctx)) == []  # type: ignore[arg-type]
    assert ctx.asked == 1


def test_a_context_that_takes_no_attributes_is_asked_each_time() -> None:
    ctx = _Sealed({"x509_pem_cert": [b"PEM-1"]})
    assert peer_certificates(ctx) == [b"PEM-1"] and peer_certificates(ctx) == [b"PEM-1"]  # type: ignore[arg-type]
    assert ctx.asked == 2


def test_the_certificates_are_kept_as_an_attribute_of_the_context() -> None:
    """Kept where a later ask of the same call finds them (gRPC's context is a plain object), and nowhere else."""
    ctx = _Context({"x509_pem_cert": [b"PEM-1"]})
    peer_certificates(ctx)  # type: ignore[arg-type]
    assert [name for name in vars(ctx) if name not in ("props", "asked")] == ["_permitgw_peer_pems"]
    ctx.props = {"x509_pem_cert": [b"PEM-OTHER"]}  # a call's peer does not change: the kept answer stands
    assert peer_certificates(ctx) == [b"PEM-1"] and ctx.asked == 1  # type: ignore[arg-type]
