"""PERMITGW_CLOCK as an operator meets it: a local time or nonsense is one clear line, nothing runs."""
from __future__ import annotations

import pytest

from gateway.datadir import DataDir
from tests.conftest import run_cli


@pytest.mark.parametrize("value", ["2026-06-15 12:00", "tomorrow"])
def test_a_bad_clock_setting_is_refused_in_one_line(data: DataDir, value: str) -> None:
    proc = run_cli("audit", "search", "--data", str(data.root), check=False, env={"PERMITGW_CLOCK": value})
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("permitgw: PERMITGW_CLOCK must") and proc.stderr.count("\n") == 1, proc.stderr


def test_an_operator_tools_entry_is_stamped_from_the_gateway_clock(data: DataDir) -> None:
    """An operator tool stamps its log entry from the one clock, not from the machine's zone."""
    from tests.helpers import make_id

    proc = run_cli("explain", "--data", str(data.root), "--id", make_id(), "--json", check=False,
                   env={"PERMITGW_CLOCK": "2026-11-30T16:20:00Z", "TZ": "Pacific/Pago_Pago"})
    assert proc.returncode in (0, 1), proc.stderr
    entries = run_cli("audit", "search", "--data", str(data.root), "--json").stdout.splitlines()
    assert entries and '"time":"2026-11-30T16:20:' in entries[-1].replace(" ", "")
