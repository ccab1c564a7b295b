"""docs/domain.md defines every code a decision can carry, and the repository stands on its own.

The codes are collected from the rules themselves, two ways: the source of gateway/rules/ is read with ast (the
first argument of every Reason(...), and every string shaped like a rule ID, such as "R-EMP-1", "S-3" or "R-SI"
handed to a helper), and the rules' own tables are imported (the services, the bases, the statistics columns).
A Reason whose code is computed from something else fails the collection until this test learns where it comes
from, so a new source of codes cannot slip past unseen.
"""
from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path

from gateway.rules import eligibility, entitlements, statistics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "gateway" / "rules"
DOMAIN_DOC = ROOT / "docs" / "domain.md"

RULE_ID = re.compile(r"[A-Z]-(?:[A-Z]+(?:-\d+)?|\d+)(?:\.\.[A-Z]-\d+)?")  # R-EMP-1, R-SI, S-3, S-1..S-6
# Reason(...) whose code is not a literal: the expression, and where its values are collected from.
COMPUTED = {
    "service": "entitlements.SERVICES (S-1…S-6, C-1…C-7)",
    "code": "the literal rule IDs passed to the H-1 helpers (_threshold, _bases_fact)",
    "status.reasons[0].code": "the permit-status codes, literals in permit_status.py",
}


def _is_reason_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    return (isinstance(f, ast.Name) and f.id == "Reason") or (isinstance(f, ast.Attribute) and f.attr == "Reason")


def _code_argument(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == "code"), None)


def codes_in_source(source: str, filename: str) -> tuple[set[str], set[str]]:
    """(codes found, computed code expressions not in COMPUTED) of one module's source."""
    found: set[str] = set()
    unknown: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and RULE_ID.fullmatch(node.value):
            found.add(node.value)
        if _is_reason_call(node):
            arg = _code_argument(node)  # type: ignore[arg-type]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
            elif arg is not None and ast.unparse(arg) not in COMPUTED:
                unknown.add(f"{filename}:{node.lineno}: Reason({ast.unparse(arg)}, …)")
    return found, unknown


def emitted_codes() -> set[str]:
    codes: set[str] = set()
    unknown: set[str] = set()
    for path in sorted(RULES.glob("*.py")):
        found, new = codes_in_source(path.read_text("utf-8"), path.name)
        codes |= found
        unknown |= new
    assert not unknown, ("a Reason's code is computed from something this test does not collect; teach COMPUTED "
                         "where its values come from:\n" + "\n".join(sorted(unknown)))
    codes |= set(entitlements.SERVICES) | set(eligibility.BASES) | set(statistics.BASIS_COLUMNS)
    return codes


def documented(doc: str) -> set[str]:
    """Codes the document defines: the first cell of a table row, `CODE`, followed by its meaning."""
    return set(re.findall(r"^\| `([^`]+)` \| *\S", doc, re.MULTILINE))


def test_the_collection_sees_literal_and_computed_codes() -> None:
    source = 'Reason("NO_PERMIT", "m")\nx = ("R-EMP", 1)\nReason(code, "m")\nReason(other(), "m")\n'
    found, unknown = codes_in_source(source, "example.py")
    assert found == {"NO_PERMIT", "R-EMP"}
    assert unknown == {"example.py:4: Reason(other(), …)"}


def test_every_code_the_rules_emit_is_defined_in_docs_domain_md() -> None:
    codes = emitted_codes()
    # what the rules are known to emit must be among what was collected (the collection itself works)
    assert {"R-REG", "R-EMP-1", "R-SI", "S-1..S-6", "C-7", "H-1", "P-3", "PERMIT_EXPIRED", "ENDORSEMENT_LATE",
            "NO_GUARDIAN_WITH_VALID_PERMIT", "VIOLATIONS_NOT_CHECKED", "NONE_ON_RECORD"} <= codes
    missing = sorted(codes - documented(DOMAIN_DOC.read_text("utf-8")))
    assert not missing, f"codes emitted by gateway/rules/ but not defined in docs/domain.md: {', '.join(missing)}"


# --- the repository refers to nothing outside itself --------------------------------------------------------------

OUTSIDE = re.compile("|".join(re.escape(s) for s in (
    "../" + "shared", "DOMAIN" + ".md", "BUREAU-SCHEMAS" + ".md", "DESIGN" + ".md", "DEVELOPERS" + ".md")))
PLANNING = re.compile(r"\b[Ss]tage [0-9]+\b")  # work-planning words, not the product
SKIP_DIRS = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}


def repository_files() -> list[Path]:
    """The files git knows or would track, or, outside a git checkout, every file but caches and the venv."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True, timeout=60).stdout
        names = [n for n in out.decode("utf-8").split("\0") if n]
        if names:
            return [ROOT / n for n in names if (ROOT / n).is_file()]
    except (OSError, subprocess.SubprocessError):
        pass
    files = []
    for top, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        files += [Path(top) / n for n in names]
    return files


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def test_no_file_refers_to_documents_outside_the_repository() -> None:
    files = repository_files()
    assert any(p.name == "domain.md" for p in files)
    found = []
    for path in files:
        text = _text(path)
        for n, line in enumerate((text or "").splitlines(), 1):
            for pattern in (OUTSIDE, PLANNING):
                m = pattern.search(line)
                if m:
                    found.append(f"{path.relative_to(ROOT)}:{n}: {m.group()}")
    assert not found, "refer to docs/ instead, and describe the product, not its history:\n" + "\n".join(found)
