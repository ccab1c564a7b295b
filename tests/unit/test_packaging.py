"""The installed wheel carries what a gateway needs: generated code, policies, default configuration."""
from __future__ import annotations

import importlib.resources
import pathlib

import gateway
import permitgw.v1.permit_pb2 as permit_pb2

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_running_from_the_installed_wheel_not_the_source_tree() -> None:
    assert "site-packages" in pathlib.Path(gateway.__file__).parts, gateway.__file__
    assert "site-packages" in pathlib.Path(permit_pb2.__file__).parts


def test_policies_and_defaults_ship_in_the_wheel() -> None:
    shipped = {p.name: p.read_bytes() for p in importlib.resources.files("gateway._policies").iterdir()
               if p.name.endswith((".conf", ".csv", ".toml"))}
    in_repo = {p.name: p.read_bytes() for p in (ROOT / "policies").iterdir() if p.is_file()}
    assert shipped == in_repo
    assert importlib.resources.files("gateway").joinpath("defaults.toml").is_file()


def test_every_package_of_the_source_tree_is_listed_for_the_wheel() -> None:
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("gateway", "adapters", "permitgw")
             for p in (ROOT / top).rglob("__init__.py")}
    assert found <= listed, f"add to pyproject.toml [tool.setuptools] packages: {sorted(found - listed)}"
