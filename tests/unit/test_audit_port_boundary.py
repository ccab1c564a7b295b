"""The access log depends on its own port (gateway/audit/port.py), never on the storage package that implements it."""
from __future__ import annotations

import ast
from pathlib import Path

import gateway.audit

AUDIT = Path(gateway.audit.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_audit_module_imports_the_store() -> None:
    modules = sorted(AUDIT.glob("*.py"))
    assert any(p.name == "port.py" for p in modules)
    offending = {p.name: sorted(m for m in imported_modules(p) if m.split(".")[:2] == ["gateway", "store"])
                 for p in modules}
    assert {name: found for name, found in offending.items() if found} == {}
