"""docs/policy.md generated from the policy files: who may see what, as a table a reader can check.

Derived from the decision table (after deny lines), never by echoing policy.csv, so it shows what is enforced.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from gateway.policy.decisions import DISTRICT_CODES, IN, OUT, PolicyTable, build_table

REGENERATE = ".venv/bin/python -m gateway.policy.document policies > docs/policy.md"
ANYWHERE, OWN_DISTRICT, OTHER_DISTRICTS = "anywhere", "own district only", "other districts only"
Row = tuple[str, str, str, str]  # purpose, method (short name), field groups, scope


def method_names(method: str) -> tuple[str, str, str]:
    """The ways a method may be named besides its full name: Service/Method, Service.Method, Method."""
    service_path, _, name = method.rpartition("/")
    service = service_path.rpartition(".")[2]
    return f"{service}/{name}", f"{service}.{name}", name


def short_name(method: str, methods: Sequence[str]) -> str:
    """`Service.Method` without the package, unless another method of the catalogue has the same one."""
    short = method_names(method)[1]
    clashes = [m for m in methods if method_names(m)[1] == short]
    return short if len(clashes) <= 1 else method


def _codes(items: Iterable[str]) -> str:
    return ", ".join(f"`{x}`" for x in sorted(items)) or "—"


def _scoped(in_groups: frozenset[str], out_groups: frozenset[str]) -> dict[str, frozenset[str]]:
    """Split one caller's groups by where the subject may live."""
    parts = {ANYWHERE: in_groups & out_groups, OWN_DISTRICT: in_groups - out_groups,
             OTHER_DISTRICTS: out_groups - in_groups}
    return {scope: groups for scope, groups in parts.items() if groups}


def _callers(districts: set[str]) -> str:
    if districts == set(DISTRICT_CODES):
        return ""
    return " (callers in " + ", ".join(sorted(districts)) + " only)"


def role_rows(table: PolicyTable, role: str) -> list[Row]:
    """What a role is allowed, one row per purpose, method, scope and set of caller districts."""
    methods = table.catalogue.methods
    found: dict[tuple[str, str, str, frozenset[str]], set[str]] = defaultdict(set)
    for purpose in table.catalogue.purposes:
        for method in methods:
            for district in DISTRICT_CODES:
                in_groups = table.decide(role, district, purpose, method, IN).groups
                out_groups = table.decide(role, district, purpose, method, OUT).groups
                for scope, groups in _scoped(in_groups, out_groups).items():
                    found[(purpose, short_name(method, methods), scope, groups)].add(district)
    rows = {(purpose, method, _codes(groups), scope + _callers(districts))
            for (purpose, method, scope, groups), districts in found.items()}
    return sorted(rows)


def _role_section(table: PolicyTable, role: str) -> list[str]:
    rows = role_rows(table, role)
    out = [f"### `{role}`", ""]
    if not rows:
        return [*out, "Nothing: every request of this role is refused.", ""]
    out += ["| purpose | method | field groups granted | scope |", "| --- | --- | --- | --- |"]
    out += [f"| `{purpose}` | `{method}` | {groups} | {scope} |" for purpose, method, groups, scope in rows]
    return [*out, ""]


def _fields_section(table: PolicyTable) -> list[str]:
    out = ["## Field groups per method", "",
           "A line grants field groups of a method's answer; everything else is cleared from the answer.",
           "`identity-full` shows the subject's identity number whole, `identity-masked` as `330203********1234`;",
           "with neither, it is left out.", ""]
    methods = table.catalogue.methods
    for method in sorted(methods, key=lambda m: short_name(m, methods)):
        out += [f"### `{short_name(method, methods)}`", "", f"Full name `{method}`.", "",
                "| field group | answer fields |", "| --- | --- |"]
        groups = table.catalogue.fields[method]
        out += [f"| `{group}` | {_codes(groups[group])} |" for group in sorted(groups)]
        out.append("")
    return out


def _stated_by(table: PolicyTable, purpose: str) -> list[str]:
    return sorted({role for role, _, p in table.role_purposes if p == purpose})


def _purposes_section(table: PolicyTable) -> list[str]:
    cat = table.catalogue
    out = ["## Purposes", "",
           "Every request states one purpose. `EntitlementService.CheckService` answers only about the services its",
           "purpose covers (PIPL art. 6, minimum necessary).", "",
           "| purpose | what for | services covered (CheckService) | roles that may state it |",
           "| --- | --- | --- | --- |"]
    for purpose in sorted(cat.purposes):
        covers = _codes(cat.purpose_services.get(purpose, ()))
        out.append(f"| `{purpose}` | {cat.purposes[purpose]} | {covers} | {_codes(_stated_by(table, purpose))} |")
    return [*out, ""]


def _intro(table: PolicyTable) -> list[str]:
    return [
        "# The access policy", "",
        "<!-- Generated from policies/ (model.conf, policy.csv, gateway.toml); do not edit by hand. -->", "",
        "Who may see what through the gateway, as the gateway enforces it. Each line of `policies/policy.csv`",
        "lets callers of one **role** (from their certificate), for one stated **purpose**, see some **field",
        "groups** of one method's answer. The gateway refuses by default: a request is allowed only when an",
        "`allow` line matches it and no `deny` line does. The tables below show the outcome of all lines",
        "together, after deny lines — not the lines themselves (`permitgw policy explain` shows those).", "",
        "**Scope** is where the subject of a request lives: *anywhere* in the city, or the caller's *own district",
        "only*. A city-level caller (district `330200`) counts as in its own district everywhere. Unless a row says",
        "otherwise, it holds for callers of every district.", "",
        f"Policy version: `{table.version}` (recorded in every access-log entry).", "",
        "On the PostgreSQL backend, replicas share one policy pushed into the database with `permitgw policy push`,",
        "versioned over every file of policies/: see [cluster-policy.md](cluster-policy.md).", "",
        "Regenerate this page after changing the policy files (a test fails while it is stale):", "",
        "```", REGENERATE, "```", "",
        "## Who may see what", "",
    ]


def render(directory: Path) -> str:
    """The whole of docs/policy.md for the policy files in `directory`."""
    return render_table(build_table(directory))


def render_table(table: PolicyTable) -> str:
    lines = _intro(table)
    for role in sorted(table.catalogue.roles):
        lines += _role_section(table, role)
    lines += _fields_section(table)
    lines += _purposes_section(table)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m gateway.policy.document POLICY_DIR > docs/policy.md", file=sys.stderr)
        return 2
    sys.stdout.write(render(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
