"""What bureaus send ends up printed to an auditor's terminal and named in the log: escaped, bounded, no numbers."""
from __future__ import annotations

import json

import pytest

from gateway.audit.search import json_line, terminal_safe
from gateway.server.intake import UNREADABLE_METHOD, loggable_method
from tests.helpers import make_id

NASTY = ["a\nb", "\r", "\x1b[2J", "\x07", "\x9b31m", "\u202eevil", "\u2066x\u2069", "\u200b", "\u2028", "\u2029",
         "\U000e0041", "\x7f"]


@pytest.mark.parametrize("text", NASTY)
def test_no_character_a_terminal_acts_on_is_printed_raw(text: str) -> None:
    for out in (terminal_safe(text), json_line(text)):
        assert out.isprintable() and "\\" in out
    assert json.loads(json_line(text)) == text  # the JSON stays exact


def test_ordinary_text_is_printed_as_it_is_and_a_backslash_stays_unambiguous() -> None:
    assert terminal_safe("学校 ORG-1 (2026)") == "学校 ORG-1 (2026)"
    assert terminal_safe("\\u000a") == "\\\\u000a" != terminal_safe("\n")


def test_a_method_name_is_logged_only_when_it_looks_like_one() -> None:
    assert loggable_method("/permitgw.v1.PermitService/GetPermitStatus") == "permitgw.v1.PermitService/GetPermitStatus"
    for raw in (f"/x.Y/{make_id()}", "/x.Y/a\nb", "/" + "a" * 300 + "/M", "", "/no-slash", "/x.Y/名字"):
        assert loggable_method(raw) == UNREADABLE_METHOD, raw


def test_a_context_id_with_too_many_digits_is_refused_without_echoing_it() -> None:
    from gateway.server.errors import Refused
    from gateway.server.gate import MAX_CONTEXT_DIGITS, context_id

    most = "CASE-" + "1" * MAX_CONTEXT_DIGITS
    assert context_id(f" {most} ", "context.case_id") == most
    assert context_id("", "context.case_id") == ""
    for bad in ("CASE-" + "1" * (MAX_CONTEXT_DIGITS + 1), make_id(), "A" + "１" * (MAX_CONTEXT_DIGITS + 1)):
        try:
            context_id(bad, "context.case_id")
        except Refused as refused:
            assert "context.case_id" in refused.message and bad not in refused.message
        else:
            raise AssertionError(f"{bad!r} was accepted")
