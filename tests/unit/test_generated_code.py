"""The committed protobuf code in permitgw/ is exactly what protos/ generates (else run `make protos`)."""
from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_generated_code_is_current(tmp_path: pathlib.Path) -> None:
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.fail("grpcio-tools is missing from the dev dependencies")
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import genprotos
    finally:
        sys.path.pop(0)
    genprotos.generate(tmp_path)
    fresh = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in (ROOT / "permitgw").rglob("*")
                 if p.is_file() and p.suffix in (".py", ".pyi") and "__pycache__" not in p.parts}
    assert set(fresh) == set(committed), "generated files differ in name: run `make protos`"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale generated code, run `make protos`: {stale}"


def test_grpcio_and_tools_versions_match() -> None:
    from importlib.metadata import version

    assert version("grpcio") == version("grpcio-tools")
