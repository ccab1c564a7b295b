"""Which organisations belong to which bureau (policies/organisations.toml), for the console's bureau auditors.

An auditor whose certificate's organisation is a bureau listed here sees only the accesses made by the bureau's
members (and by the bureau itself), whatever their district. Members are exact organisation codes or prefixes
ending in `*` (`SCH-*`: every code starting `SCH-`). Officials edit the file; a data directory without it (made
before the file shipped) has no bureaus. Only this module reads it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gateway.audit.port import MAX_SCOPE_ORGS
from gateway.policy.catalogue import PolicyError
from gateway.settings.loader import check_keys, read_policy_file

ORGANISATIONS_FILE = "organisations.toml"
MAX_MEMBERS = MAX_SCOPE_ORGS - 1  # the bureau's own code joins its members in the officer's scope
CODE = re.compile(r"[A-Za-z0-9_.:/#()-]{1,120}")  # an organisation code as certificates and the console take it
_BUREAU_KEYS = ("name", "members")


@dataclass(frozen=True, slots=True)
class Bureau:
    code: str
    name: str
    members: tuple[str, ...]  # exact codes and prefixes ending in "*"


@dataclass(frozen=True, slots=True)
class Organisations:
    """The bureaus of policies/organisations.toml by their organisation code (none: no officer is a bureau's)."""

    bureaus: Mapping[str, Bureau] = field(default_factory=dict)

    def scope_of(self, org: str) -> tuple[str, ...] | None:
        """The organisations an auditor of `org` may see: the bureau and its members, or None (not a bureau)."""
        bureau = self.bureaus.get(org)
        return None if bureau is None else (bureau.code, *bureau.members)

    def name_of(self, org: str) -> str:
        """The name of the bureau `org`, or "" if it is not one."""
        bureau = self.bureaus.get(org)
        return "" if bureau is None else bureau.name


def _member(where: str, value: object) -> str:
    text = value if isinstance(value, str) else ""
    if not CODE.fullmatch(text.removesuffix("*")):
        raise PolicyError(f"{where}: member {value!r} is neither an organisation code (letters, digits and "
                          "- _ . : / # ( )) nor a prefix of one ending in *")
    return text


def _bureau(path: Path, code: object, table: object) -> Bureau:
    where = f"{path}: [bureaus.{code}]"
    if not isinstance(code, str) or not CODE.fullmatch(code) or code.endswith("*"):
        raise PolicyError(f"{where}: the bureau's key must be its organisation code (no *)")
    if not isinstance(table, dict):
        raise PolicyError(f"{where} must be a table with {' and '.join(_BUREAU_KEYS)}")
    check_keys(where, table, _BUREAU_KEYS)
    name, members = table["name"], table["members"]
    if not isinstance(name, str) or not name.strip():
        raise PolicyError(f"{where}: name must be the bureau's name, not {name!r}")
    if not isinstance(members, list) or not 1 <= len(members) <= MAX_MEMBERS:
        raise PolicyError(f"{where}: members must be a list of 1 to {MAX_MEMBERS} organisation codes or prefixes")
    codes = tuple(_member(where, m) for m in members)
    twice = sorted({c for c in codes if codes.count(c) > 1})
    if twice:
        raise PolicyError(f"{where}: members listed twice: {twice}")
    return Bureau(code, name.strip(), codes)


def load_organisations(directory: Path) -> Organisations:
    """Read policies/organisations.toml (`[bureaus.<ORG CODE>]` with name and members); no file: no bureaus."""
    path = directory / ORGANISATIONS_FILE
    if not path.exists():
        return Organisations()
    data = read_policy_file(path)
    check_keys(str(path), data, ("bureaus",), required=())
    bureaus = data.get("bureaus", {})
    if not isinstance(bureaus, dict):
        raise PolicyError(f"{path}: bureaus must be tables [bureaus.<ORG CODE>]")
    return Organisations({code: _bureau(path, code, table) for code, table in bureaus.items()})
