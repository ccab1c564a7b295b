"""`permitgw`'s one error boundary (gateway/cli/main.py `main()`), with stand-in commands run in-process.

An explained failure (a GatewayError) or the operating system's (an OSError) is one line `permitgw: …` and exit
1; a damaged database too; a defect keeps its traceback (the exception leaves `main()`). And every exception
class the command's own modules define is a GatewayError, so none of them can reach the boundary as a defect.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import os
import pkgutil
import sqlite3
from collections.abc import Callable, Iterator

import pytest

from gateway.cli import main as cli
from gateway.domain import clock
from gateway.errors import GatewayError
from tests.helpers import make_id


class Explained(GatewayError):
    pass


@pytest.fixture(autouse=True)
def _umask_kept() -> Iterator[None]:
    """main() narrows the umask of its process (this one, here): give the next test the one it had."""
    before = os.umask(0o077)
    os.umask(before)
    yield
    os.umask(before)


def _command(failure: BaseException) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        raise failure
    return run


def _main_with(monkeypatch: pytest.MonkeyPatch, failure: BaseException) -> int:
    monkeypatch.setattr(cli, "cmd_synth", _command(failure))
    return cli.main(["synth", "--out", "unused", "--residents", "1"])


@pytest.mark.parametrize(("failure", "line"), [
    (Explained("the CA has expired"), "permitgw: the CA has expired"),
    (Explained(f"no person {make_id()}\n  here"), "permitgw: no person [identity number] here"),
    (FileNotFoundError(2, "No such file or directory", "in.csv"), "permitgw: in.csv: No such file or directory"),
    (OSError(18, "Invalid cross-device link", "a", None, "b"), "permitgw: a -> b: Invalid cross-device link"),
    (FileExistsError("out.key already exists"), "permitgw: out.key already exists"),
    (sqlite3.DatabaseError("file is not a database"),
     "permitgw: the database is damaged or unreadable (file is not a database): restore it from a backup"),
])
def test_an_explained_failure_is_one_line_and_exit_1(
        failure: BaseException, line: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main_with(monkeypatch, failure) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", line + "\n")


def test_a_defect_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KeyError, match="a bug"):
        _main_with(monkeypatch, KeyError("a bug"))


def test_an_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main_with(monkeypatch, KeyboardInterrupt()) == 130
    assert capsys.readouterr().err == ""


def test_a_bad_clock_setting_is_a_usage_error(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(clock.ENV, "tomorrow")
    clock.install(None)
    try:
        assert _main_with(monkeypatch, AssertionError("never run")) == 2
    finally:
        monkeypatch.undo()
        clock.install(None)
    assert capsys.readouterr().err.startswith(f"permitgw: {clock.ENV} must be")


def _every_module() -> list[str]:
    """Every module of gateway/ and adapters/ (the generated permitgw/ raises nothing of its own)."""
    import adapters
    import gateway

    return sorted(m.name for pkg in (gateway, adapters)
                  for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg.__name__}."))


OWN_MODULES = _every_module()


def test_the_module_list_is_the_whole_tree() -> None:
    assert {"gateway.cli.main", "gateway.store.sqlite", "gateway.service.importer", "adapters.reading",
            "gateway.watch.quotas"} <= set(OWN_MODULES)


@pytest.mark.parametrize("name", OWN_MODULES)
def test_every_exception_class_is_a_gateway_error(name: str) -> None:
    module = importlib.import_module(name)
    own = [cls for _, cls in inspect.getmembers(module, inspect.isclass)
           if cls.__module__ == name and issubclass(cls, BaseException)]
    assert [cls.__name__ for cls in own if not issubclass(cls, GatewayError)] == []
