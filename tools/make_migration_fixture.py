"""Make the migration fixtures: a gateway's data as a released permitgw leaves it, for the migration tests.

Run with the permitgw of the release whose schema the fixture is to capture (the one installed in .venv), BEFORE the
schema code changes, so that the fixture is genuinely that release's:

    .venv/bin/python tools/make_migration_fixture.py --out tests/vectors/migrations

It writes, under --out:
  datadir/            a data directory (config.toml, keys/, certs/, policies/, gateway.db on SQLite) made by
                      `permitgw init`, with a small synthetic city imported (`permitgw synth`, every bureau's files),
                      a few logged calls (`permitgw explain`: access-log entries, signed checkpoints) and a revoked
                      certificate (`permitgw cert revoke`) — synthetic people only; its keys open it.
  postgres.sql        the same story on PostgreSQL (same keys), `pg_dump --schema=permitgw --no-owner --inserts`
                      of a database of its own, psql meta-commands removed so that any client can run it.
  fixture.json        the schema versions captured, the table counts and a few of the synthetic people (identity
                      number and name) that a test looks up after migrating.

PostgreSQL: PERMITGW_TEST_PG_DSN (default host=127.0.0.1 user=postgres dbname=test) must let the tool create and
drop a database of its own.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg

ADMIN_DSN = os.environ.get("PERMITGW_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
CLOCK = "2026-03-02T10:00:00+08:00"  # the instant the story happens at (the gateway's clock, not the machine's)
BUREAUS = {"jzdj": "psb", "sbjf": "hrss", "ldht": "hrss", "bdc": "housing", "czfw": "housing", "yyzz": "market",
           "tdcb": "agri", "xj": "education"}


def permitgw(*args: str) -> str:
    """The installed permitgw, as an operator runs it, on the story's clock."""
    proc = subprocess.run([str(Path(sys.executable).parent / "permitgw"), *args], capture_output=True, text=True,
                          env={**os.environ, "PERMITGW_CLOCK": CLOCK}, timeout=120, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"permitgw {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def story(data: Path, src: Path, people: list[dict[str, str]], serial: str | None) -> str:
    """Import the city, make logged calls, revoke a certificate; the revoked serial."""
    for f in sorted(src.glob("*.csv")):
        permitgw("import", "--data", str(data), "--bureau", BUREAUS[f.name.split("_")[0]], "--json", str(f))
    for p in people:
        permitgw("explain", "--data", str(data), "--id", p["id"])
    if serial is None:
        out = permitgw("cert", "issue", "--data", str(data), "--role", "school", "--org", "330203-S001",
                       "--name", "fixture school", "--district", "330203", "--out", str(src / "school"))
        serial = out.split("serial ")[1].split(",")[0]
    permitgw("cert", "revoke", "--data", str(data), "--serial", serial)
    return serial


def counts(db: sqlite3.Connection | psycopg.Connection, tables: list[str]) -> dict[str, int]:
    return {t: int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}  # type: ignore[index]


def use_postgres(config: Path, dsn: str) -> None:
    config.write_text(config.read_text("utf-8").split("[store]")[0].rstrip() +
                      f'\n\n[store]\nbackend = "postgres"\npostgres_dsn = {json.dumps(dsn)}\n'
                      'postgres_schema = "permitgw"\n', "utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--residents", type=int, default=12)
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src, data = work / "src", work / "data"
        permitgw("synth", "--out", str(src), "--residents", str(args.residents), "--seed", "5")
        with (src / "jzdj_synth.csv").open(encoding="utf-8") as f:
            people = [{"id": r["GMSFHM"], "name": r["XM"]} for r in csv.DictReader(f)][:3]
        permitgw("init", "--data", str(data))
        serial = story(data, src, people, None)
        db = sqlite3.connect(data / "gateway.db")
        sqlite_version = int(db.execute("PRAGMA user_version").fetchone()[0])
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        sqlite_counts = counts(db, tables)
        db.close()
        if (data / "gateway.db-wal").exists():
            raise SystemExit("gateway.db-wal is left beside the database: a permitgw is still running")

        pg = work / "pg"  # the same keys and certificates, a database of its own
        shutil.copytree(data, pg, ignore=shutil.ignore_patterns("gateway.db*"))
        name = f"permitgw_fixture_{uuid.uuid4().hex[:8]}"
        admin = psycopg.connect(ADMIN_DSN, autocommit=True)
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            dsn = psycopg.conninfo.make_conninfo(ADMIN_DSN, dbname=name)
            use_postgres(pg / "config.toml", dsn)
            story(pg, src, people, serial)
            with psycopg.connect(dsn) as db_pg:
                pg_version = int(db_pg.execute("SELECT max(version) FROM permitgw.schema_version").fetchone()[0])
                pg_tables = [r[0] for r in db_pg.execute("SELECT table_name FROM information_schema.tables WHERE "
                                                         "table_schema = 'permitgw' ORDER BY 1")]
                pg_counts = counts(db_pg, [f"permitgw.{t}" for t in pg_tables])
            params = psycopg.conninfo.conninfo_to_dict(dsn)
            dump = subprocess.run(
                ["pg_dump", "--schema=permitgw", "--no-owner", "--no-privileges", "--inserts",
                 "--host", str(params.get("host", "127.0.0.1")), "--port", str(params.get("port", 5432)),
                 "--username", str(params.get("user", "postgres")), name],
                capture_output=True, text=True, check=True, timeout=120).stdout
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()
        plain = "".join(line for line in dump.splitlines(keepends=True) if not line.startswith("\\"))
        (out / "postgres.sql").write_text(plain, "utf-8")

        target = out / "datadir"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(data, target, ignore=shutil.ignore_patterns("rejects"))
    facts = {"sqlite": {"version": sqlite_version, "counts": sqlite_counts},
             "postgres": {"version": pg_version, "counts": {k.removeprefix("permitgw."): v
                                                            for k, v in pg_counts.items()}},
             "people": people, "revoked": serial, "clock": CLOCK}
    (out / "fixture.json").write_text(json.dumps(facts, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"wrote {out}: SQLite schema {sqlite_version}, PostgreSQL schema {pg_version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
