"""Back up a gateway (its data directory and its database) and restore it, on SQLite or PostgreSQL.

A gateway is two halves that only work together: the data directory (keys — the PII key above all, without
which the database is unreadable —, config.toml, policies, certs/revoked.txt, witnesses' cosignatures) and the
database (records and the access log). A backup holds both, in a new directory of mode 0700 whose files are
0600: it holds every key, so keep it as you keep the keys.

    python3 tools/backup.py backup  --data DIR --out BACKUP
    python3 tools/backup.py restore --from BACKUP --data NEW_DIR [--dsn CONNINFO]

The files are copied first and the database second, so the database covers at least every checkpoint the files
hold (a witness's cosignature of a log the restored database lacked would be reported as a rewritten log).
SQLite is copied with its online backup API (a consistent copy while the gateway runs); PostgreSQL with
`pg_dump --format=custom --schema=SCHEMA` (one consistent snapshot while replicas write), restored with
`pg_restore --no-owner --no-privileges --exit-on-error` into the database --dsn names (empty of that schema),
and config.toml is pointed at it. After a restore run `permitgw audit verify --data NEW_DIR`.
Exit codes: 0 done, 1 failed (one line on stderr), 2 usage.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

FILES, SQLITE_DB, PG_DUMP, MANIFEST = "files.tar", "gateway.db", "database.dump", "MANIFEST.json"
SQLITE_NAMES = ("gateway.db", "gateway.db-wal", "gateway.db-shm", "gateway.db-journal")


class BackupError(Exception):
    """Something the operator must fix; printed as one line."""


def _store(data: Path) -> dict[str, str]:
    try:
        config = tomllib.loads((data / "config.toml").read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BackupError(f"{data}/config.toml cannot be read: {exc}") from exc
    store = config.get("store", {})
    return {"backend": store.get("backend", "sqlite"), "dsn": store.get("postgres_dsn", ""),
            "schema": store.get("postgres_schema", "permitgw")}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BackupError(f"{argv[0]} failed: {last}")


def backup(data: Path, out: Path) -> dict[str, object]:
    if not (data / "config.toml").is_file():
        raise BackupError(f"{data} is not a gateway data directory (no config.toml)")
    store = _store(data)
    out.mkdir(mode=0o700, parents=False, exist_ok=False)
    with tarfile.open(out / FILES, "w") as tar:  # the files first: the database is then at least as new
        for item in sorted(data.iterdir()):
            if item.name not in SQLITE_NAMES:
                tar.add(item, arcname=item.name)
    if store["backend"] == "sqlite":
        source = sqlite3.connect(f"file:{data / SQLITE_DB}?mode=ro", uri=True)
        try:
            target = sqlite3.connect(out / SQLITE_DB)
            with target:
                source.backup(target)  # the online backup API: consistent while the gateway writes
            target.close()
        finally:
            source.close()
        database = SQLITE_DB
    elif store["backend"] == "postgres":
        _run(["pg_dump", "--format=custom", f"--schema={store['schema']}", "--no-owner", "--no-privileges",
              f"--file={out / PG_DUMP}", f"--dbname={store['dsn']}"])
        database = PG_DUMP
    else:
        raise BackupError(f"unknown [store] backend {store['backend']!r}")
    manifest: dict[str, object] = {"backend": store["backend"], "schema": store["schema"], "database": database,
                                   "sha256": {n: _sha256(out / n) for n in (FILES, database)}}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    for f in out.iterdir():
        os.chmod(f, 0o600)
    return manifest


def _point_at(config: Path, dsn: str) -> None:
    text = config.read_text("utf-8")
    new, n = re.subn(r"(?m)^postgres_dsn\s*=.*$", lambda _: f"postgres_dsn = {json.dumps(dsn)}", text)
    if n != 1:
        raise BackupError(f"{config} has no single postgres_dsn line to point at the restored database")
    config.write_text(new, "utf-8")


def restore(source: Path, data: Path, dsn: str | None) -> dict[str, object]:
    try:
        manifest = json.loads((source / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} is not a backup made by this tool ({MANIFEST}: {exc})") from exc
    for name, digest in manifest["sha256"].items():
        if _sha256(source / name) != digest:
            raise BackupError(f"{source / name} does not match its checksum: the backup is damaged")
    if manifest["backend"] == "postgres" and not dsn:
        raise BackupError("a PostgreSQL backup needs --dsn: the database to restore into")
    if data.exists():
        raise BackupError(f"{data} exists: restore into a new directory")
    data.mkdir(mode=0o700, parents=True)
    with tarfile.open(source / FILES) as tar:
        tar.extractall(data, filter="tar")  # modes kept (0600 files, 0700 directories); no paths outside
    os.chmod(data, 0o700)
    if manifest["backend"] == "sqlite":
        shutil.copyfile(source / SQLITE_DB, data / SQLITE_DB)
        os.chmod(data / SQLITE_DB, 0o600)
    else:
        assert dsn is not None
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={dsn}",
              str(source / PG_DUMP)])
        _point_at(data / "config.toml", dsn)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="backup.py", description=__doc__.split("\n\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("backup", help="data directory + database → a new backup directory")
    b.add_argument("--data", required=True, type=Path)
    b.add_argument("--out", required=True, type=Path)
    r = sub.add_parser("restore", help="a backup → a new data directory (+ the database --dsn names)")
    r.add_argument("--from", dest="source", required=True, type=Path)
    r.add_argument("--data", required=True, type=Path)
    r.add_argument("--dsn", help="PostgreSQL: the (empty) database to restore into, libpq conninfo")
    args = parser.parse_args(argv)
    os.umask(0o077)
    try:
        if args.command == "backup":
            done = backup(args.data, args.out)
            print(f"backed up {args.data} ({done['backend']}) to {args.out}")
        else:
            done = restore(args.source, args.data, args.dsn)
            print(f"restored {args.source} ({done['backend']}) to {args.data}; now run "
                  f"`permitgw audit verify --data {args.data}`")
    except (BackupError, OSError, sqlite3.Error, tarfile.TarError) as exc:
        print(f"backup.py: {exc}".replace("\n", " "), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
