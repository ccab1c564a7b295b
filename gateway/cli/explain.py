"""`permitgw explain`: permit eligibility for one person with every reason — an operator's tool.

It reads personal data, so it is logged like any gateway access (principal `operator/<os user>`); the decision
and its log entry are the service layer's (gateway/service/explain.py), this module reads arguments and prints.
"""
from __future__ import annotations

import getpass
import json
from typing import TextIO

from gateway.audit.log import AuditLog, log_origin
from gateway.datadir import DataDir
from gateway.domain import clock
from gateway.domain.dates import InvalidDate, parse_date
from gateway.domain.idnumber import IdNumber, InvalidIdNumber
from gateway.errors import GatewayError
from gateway.policy.decisions import policy_version
from gateway.service import eligibility
from gateway.service.explain import log_entry


class BadExplainOption(GatewayError, ValueError):
    """--id or --as-of cannot be understood; the message names the option, never the value."""


def explain(data: DataDir, raw_id: str, as_of_text: str | None, *, as_json: bool, out: TextIO) -> int:
    try:
        who = IdNumber.parse(raw_id)
    except InvalidIdNumber as exc:
        raise BadExplainOption(f"--id: {exc}") from exc
    try:
        as_of = parse_date(as_of_text) if as_of_text else clock.today()
    except InvalidDate as exc:
        raise BadExplainOption("--as-of: a date as YYYY-MM-DD") from exc
    store = data.open_store()
    try:
        decision = eligibility.evaluate(store, who, as_of)
        user = getpass.getuser()
        audit = AuditLog(store, log_origin((data.keys / "ca.crt").read_bytes()), data.signing_key())
        try:
            entry = log_entry(store, who, decision, user, policy_version(data.policies))
            audit.append(entry)  # signed as it commits
        finally:
            audit.close()
    finally:
        store.close()
    if as_json:
        out.write(json.dumps({"eligible": decision.eligible, "bases": list(decision.bases),
                              "reasons": [{"code": r.code, "message": r.message} for r in decision.reasons]},
                             ensure_ascii=False) + "\n")
        return 0
    out.write(f"{who.masked()} as of {as_of.isoformat()}: {'ELIGIBLE' if decision.eligible else 'NOT ELIGIBLE'}"
              f"{' on ' + ', '.join(decision.bases) if decision.bases else ''}\n")
    for r in decision.reasons:
        out.write(f"  {r.code:<9} {r.message}\n")
    return 0
