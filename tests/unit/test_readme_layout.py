"""README's "Layout" is the real tree: every package and loose module of gateway/ is named there, and every
path it names exists — so a new package cannot land undescribed and a moved one cannot leave a stale line."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _layout_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1]


def _named_paths(block: str) -> set[str]:
    first_words = (line.split()[0] for line in block.splitlines() if line and not line.startswith(" "))
    return {w.rstrip("/") for w in first_words}


def _real_parts() -> set[str]:
    gateway = ROOT / "gateway"
    packages = {f"gateway/{p.parent.name}" for p in gateway.glob("*/__init__.py")}
    loose = {f"gateway/{p.name}" for p in gateway.glob("*.py") if p.name != "__init__.py"}
    return packages | loose


def test_every_package_and_loose_module_is_described() -> None:
    block = _layout_block()
    described = {m.rstrip("/") for m in re.findall(r"gateway/[a-z_]+(?:\.py|/)?", block)}
    described |= {f"gateway/{name}" for name in re.findall(r"\b([a-z_]+\.py)\b", block)}
    assert sorted(_real_parts() - described) == []


def test_every_path_it_names_exists() -> None:
    missing = [p for p in _named_paths(_layout_block()) if not (ROOT / p).exists()]
    assert missing == []
