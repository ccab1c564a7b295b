"""Refuse to run on a data directory others can read: keys, configuration and the database are private.

The data directory holds the CA and signing keys, the PII keys, the access log and perhaps a database
password in config.toml. If any of them (or the directories holding them) is open to the group or to
other users, every command that uses the directory stops with one line saying what to chmod.
"""
from __future__ import annotations

import stat
from pathlib import Path

PRIVATE_DIRS = (".", "keys", "certs", "rejects")
PRIVATE_FILES = ("config.toml", "gateway.db", "gateway.db-wal", "gateway.db-shm", "certs/issued.jsonl")
KEY_SUFFIX = ".key"


def _loose(path: Path) -> int | None:
    """The permission bits of `path` if the group or others have any access to it, else None."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    return mode if mode & 0o077 else None


def loose_paths(root: Path) -> list[tuple[Path, int]]:
    """Private files and directories of the data directory `root` that the group or others may access."""
    candidates = [root / d for d in PRIVATE_DIRS] + [root / f for f in PRIVATE_FILES]
    keys = root / "keys"
    if keys.is_dir():
        candidates += sorted(p for p in keys.iterdir() if p.name.endswith(KEY_SUFFIX))
    found = []
    for path in candidates:
        mode = _loose(path)
        if mode is not None:
            found.append((path, mode))
    return found


def private_problem(root: Path) -> str:
    """One line naming what is open to others and the chmod that closes it; "" when all is private."""
    loose = loose_paths(root)
    if not loose:
        return ""
    dirs = [str(p) for p, _ in loose if p.is_dir()]
    files = [str(p) for p, _ in loose if not p.is_dir()]
    named = ", ".join(f"{p} (mode {m:o})" for p, m in loose)
    fix = " && ".join(f"chmod {mode} {' '.join(paths)}" for mode, paths in (("700", dirs), ("600", files)) if paths)
    return f"refusing to use {root}: readable by group or others: {named}; run: {fix}"
